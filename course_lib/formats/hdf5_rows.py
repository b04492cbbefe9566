"""Reading sorted rows of an HDF5 dataset: the slow ways, and the fast one.

`read_rows` is the portable recipe: a batch's rows grouped into a few
contiguous slices, each read with h5py. Every h5py call costs tens of
microseconds, though, and a slice that covers part of a chunk is copied
twice (file -> chunk cache -> array).

`RowReader` removes both costs when the data allows it. An uncompressed
dataset stores each chunk as one plain run of bytes in the file, and HDF5
tells where (its chunk index). The reader looks the offsets up once, then
reads every run of a batch with one `os.preadv` call, straight into the
batch's array: no HDF5 call per batch at all. Compressed or filtered
datasets, partly written ones and platforms without `preadv` go through
`read_rows` instead, with the same results.

`open_file` opens an HDF5 file for reading, and says in plain words what is
wrong with one that cannot be opened (missing, truncated, not HDF5).
"""

import os
import re
from pathlib import Path

import h5py
import numpy as np

from course_lib import config, errors


def open_file(path, own_data="Copy the file again, or rewrite it with the tool that made it."):
    """Opens an HDF5 file read-only, or raises an error that names it and says why.

    First used in lesson 04 (hdf5_writing).

    Args:
        path: the HDF5 file.
        own_data: the advice for a file that is not part of the course data
            (which `make data` rebuilds).

    Returns:
        An open `h5py.File`.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is truncated (shorter than its header says)
            or not HDF5 at all.

    Example:

    ```python
    with open_file("data/lesson/course.h5") as file:
        len(file["train/images"])  # -> 12288
    ```
    """
    path = Path(path)
    fix = config.rebuild_hint(path, own_data)
    if not path.is_file():
        raise FileNotFoundError(f"No HDF5 file at {str(path)[:150]}. Check the path. {fix}")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        sizes = re.search(r"\beof = (\d+).*stored_eof = (\d+)", str(error))
        if sizes:
            have, expected = (int(s) for s in sizes.groups())
            why = (
                f"looks truncated: it has {have:,} bytes but its header says "
                f"{expected:,}, as after an interrupted copy, download or write"
            )
        elif "signature" in str(error):
            why = "is not an HDF5 file (no HDF5 signature at its start)"
        else:
            why = f"cannot be opened as HDF5 ({error})"
        raise ValueError(f"{path} {why}. {fix}") from error


def dataset_names(file):
    """Paths of every dataset in an open h5py file, e.g. `["train/images", ...]`.

    Used by the kit, not by a lesson.
    """
    names = []

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            names.append(name)

    file.visititems(collect)
    return names


def read_rows(dataset, positions, max_gap=16):
    """Reads sorted rows of an h5py dataset as a few contiguous slices.

    Used by the kit, not by a lesson.

    Rows closer than `max_gap` are read in one slice and the extra rows
    dropped in memory: one slice read costs about as much as a few rows, and
    h5py's fancy indexing is far slower than either.

    Example:

    ```python
    read_rows(file["train/images"], np.array([0, 1, 2, 40, 41])).shape  # -> (5, 64, 64, 3)
    ```
    """
    positions = np.asarray(positions)
    if len(positions) == 0:
        return np.zeros((0, *dataset.shape[1:]), dataset.dtype)
    breaks = np.flatnonzero(np.diff(positions) > max_gap) + 1
    parts = []
    for group in np.split(positions, breaks):
        start, stop = int(group[0]), int(group[-1]) + 1
        block = dataset[start:stop]
        parts.append(block if stop - start == len(group) else block[group - start])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def row_extents(dataset):
    """Where each block of rows of `dataset` lies in its file, if it is plain bytes.

    First used in lesson 05 (hdf5_reading).

    Args:
        dataset: an open h5py dataset.

    Returns:
        `(rows_per_extent, byte_offsets)`: extent `i` holds rows
        `i * rows_per_extent ...` as raw bytes starting at `byte_offsets[i]`.
        `None` when the rows cannot be read as raw bytes: compressed or
        filtered chunks, chunks that split a row, chunks never written,
        external or virtual storage, or a dtype that is not a plain number.
    """
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    if (
        dataset.dtype.kind not in "biuf"
        or plist.get_nfilters()
        or plist.get_external_count()
        or len(dataset) == 0
        or dataset.file.driver != "sec2"
    ):
        return None
    if layout == h5py.h5d.CONTIGUOUS:
        offset = dataset.id.get_offset()
        return None if offset is None else (len(dataset), np.array([offset]))
    if layout != h5py.h5d.CHUNKED or tuple(dataset.chunks[1:]) != dataset.shape[1:]:
        return None
    if not hasattr(dataset.id, "chunk_iter"):  # HDF5 older than 1.14
        return None
    rows = dataset.chunks[0]
    offsets = np.full(-(-len(dataset) // rows), -1, np.int64)

    def record(info):
        offsets[info.chunk_offset[0] // rows] = info.byte_offset

    dataset.id.chunk_iter(record)
    return None if (offsets < 0).any() else (rows, offsets)


_NOWAIT = getattr(os, "RWF_NOWAIT", None)
"""`preadv`'s flag for "only from the page cache" (Linux 4.14+); `None` elsewhere."""


class RowReader:
    """Reads sorted rows of one HDF5 dataset, straight from the file when it can.

    First used in lesson 05 (hdf5_reading).

    Build it in the process that reads (file descriptors must not cross
    `fork`); `HDF5Dataset` makes one per process.

    Args:
        dataset: an open h5py dataset, rows first.
        direct: try the direct path (the default); `False` always uses h5py.

    Attributes:
        direct: `True` when rows are read with `os.preadv` from their byte
            offsets, `False` when every read goes through h5py (`read_rows`).

    Example:

    ```python
    reader = RowReader(file["train/images"])
    reader(np.array([3, 4, 5, 900])).shape, reader.direct  # -> ((4, 64, 64, 3), True)
    ```
    """

    def __init__(self, dataset, direct=True):
        self._fd = None
        self.dataset = dataset
        # h5py looks these up through its lock on every access: keep them.
        self._shape, self._dtype = dataset.shape, dataset.dtype
        extents = row_extents(dataset) if direct and hasattr(os, "preadv") else None
        self.direct = extents is not None
        if self.direct:
            self._rows_per_extent, self._offsets = extents
            self._row_bytes = dataset.dtype.itemsize * int(np.prod(dataset.shape[1:]))
            extent_bytes = self._rows_per_extent * self._row_bytes
            # Extent i + 1 starts where extent i ends (chunks appended in order): a
            # run may cross from one to the next, one call for both.
            self._continues = np.r_[self._offsets[1:] == self._offsets[:-1] + extent_bytes, False]
            self._fd = os.open(dataset.file.filename, os.O_RDONLY)
            self._probe = bytearray(1)

    def _runs(self, positions):
        """`(start, stop, byte offset)` of each run of `positions`:
        consecutive rows at consecutive bytes, read with one call. (A loop
        over Python ints: for a batch's few dozen rows it beats numpy's calls.)"""
        rows, extent_rows = positions.tolist(), self._rows_per_extent
        starts, previous = [0], rows[0]
        for i, row in enumerate(rows[1:], 1):
            if row != previous + 1 or (
                row % extent_rows == 0 and not self._continues[row // extent_rows - 1]
            ):
                starts.append(i)
            previous = row
        return [
            (start, stop, self._offset(rows[start]))
            for start, stop in zip(starts, starts[1:] + [len(rows)])
        ]

    def byte_ranges(self, positions):
        """`(byte offset, bytes)` of each read a call for `positions` makes, in
        order (direct reads only): what `make bench` part `cold` replays with
        plain `os.preadv` as the baseline of this reader.

        Raises:
            ValueError: when this reader goes through h5py (compressed data).
        """
        if not self.direct:
            raise ValueError(
                f"{self.dataset.file.filename}:{self.dataset.name} is read through h5py "
                f"(compressed or chunked for it): its byte ranges are h5py's to choose."
            )
        positions = np.asarray(positions, np.int64)
        return [
            (offset, (stop - start) * self._row_bytes)
            for start, stop, offset in self._runs(positions)
        ]

    def _offset(self, row):
        """Where row `row` starts in the file."""
        extent, within = divmod(row, self._rows_per_extent)
        return int(self._offsets[extent]) + within * self._row_bytes

    def __call__(self, positions):
        positions = np.asarray(positions, np.int64)
        if not self.direct or len(positions) == 0:
            return read_rows(self.dataset, positions)
        errors.check_rows(
            f"{self.dataset.file.filename}:{self.dataset.name}", positions, self._shape[0]
        )
        out = np.empty((len(positions), *self._shape[1:]), self._dtype)
        flat = out.reshape(len(positions), -1).view(np.uint8)
        for start, stop, offset in self._runs(positions):
            wanted = (stop - start) * self._row_bytes
            if os.preadv(self._fd, [flat[start:stop]], offset) != wanted:
                raise OSError(
                    f"Short read from {self.dataset.file.filename} ({self.dataset.name}): "
                    f"the file is truncated or changed since it was opened."
                )
        return out

    def advise(self, positions):
        """Tells the kernel these rows will be read soon (`POSIX_FADV_WILLNEED`).

        The kernel starts reading them from the disk in the background, so
        several reads are in flight at once instead of one per batch: cold
        reads of scattered blocks get close to the disk's sequential rate.
        Rows already in the page cache need no advice, and asking costs
        system calls (eight per batch of eight blocks: a tenth or more of a
        warm epoch's time, `make bench` part `loaders`). So when the batch's
        first and last rows are both in memory (a one-byte non-blocking read,
        `RWF_NOWAIT`, says so without waiting), nothing is asked. Does nothing
        on the h5py path, or for rows outside the dataset.
        """
        positions = np.asarray(positions, np.int64)
        if (
            not self.direct
            or len(positions) == 0
            or positions[-1] >= self._shape[0]
            or (self._in_page_cache(int(positions[0])) and self._in_page_cache(int(positions[-1])))
        ):
            return
        for start, stop, offset in self._runs(positions):
            os.posix_fadvise(
                self._fd, offset, (stop - start) * self._row_bytes, os.POSIX_FADV_WILLNEED
            )

    def _in_page_cache(self, row):
        """Whether the first byte of `row` is in the page cache (`False` where
        the kernel cannot say without reading)."""
        if _NOWAIT is None:
            return False
        try:
            return os.preadv(self._fd, [self._probe], self._offset(row), _NOWAIT) == 1
        except OSError:  # EAGAIN: not cached (or a kernel that cannot tell)
            return False

    def close(self):
        """Closes the file descriptor of the direct path (h5py's file stays open)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()
