"""HDF5, the kit's main format: opening, writing, checking and reading rows.

| part          | what it does                                                       |
|---------------|--------------------------------------------------------------------|
| `open_file`   | opens a file for reading, saying in plain words what is wrong      |
| `HDF5Writer`  | writes the split layout block by block (raw pixels or JPEG bytes)  |
| `check_hdf5`  | checks a file of that layout, naming what is wrong and how to fix it |
| `load_split`  | reads a whole split into memory (the classic recipe)               |
| `read_rows`   | a batch's sorted rows as a few h5py slices (the portable recipe)   |
| `RowReader`   | the same rows straight from their byte offsets, one `preadv` a run |
| `HDF5Rows`    | a dataset as a row source (`sources.RowSource`), opened per process |
| `EncodedHDF5Rows` | a dataset of JPEG/PNG bytes as a row source, decoded per batch  |

The layout: groups `/train`, `/valid`, `/test`, each with `images` (uint8,
`(n, h, w, c)`, chunked), `labels` and `ids` (int64); file attributes
`class_names` and `image_shape`. Encoded files hold each image's bytes as a
variable-length uint8 row, with an `encoding` attribute. Any other file
works too: the loaders take the datasets' names.

Every h5py call costs tens of microseconds, and a slice that covers part of
a chunk is copied twice (file -> chunk cache -> array). An uncompressed
dataset stores each chunk as one plain run of bytes whose offset HDF5 knows,
so `RowReader` looks the offsets up once and reads every run of a batch with
one `os.preadv` call into the batch's array. Compressed or filtered
datasets, partly written ones and platforms without `preadv` go through
`read_rows`, with the same results.
"""

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from course_lib import config, errors
from course_lib.formats import encoded
from course_lib.formats.sources import PerProcess


def open_file(
    path: str | Path,
    own_data: str = "Copy the file again, or rewrite it with the tool that made it.",
) -> h5py.File:
    """Opens an HDF5 file read-only, or raises an error that names it and says why.

    First used in lesson 11 (grain_and_jax).

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


def dataset_names(file: h5py.File):
    """Paths of every dataset in an open h5py file, e.g. `["train/images", ...]`.

    Used by the kit, not by a lesson.
    """
    names = []

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            names.append(name)

    file.visititems(collect)
    return names


def read_rows(dataset: h5py.Dataset, positions: ArrayLike, max_gap: int = 16) -> np.ndarray:
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


def row_extents(dataset: h5py.Dataset):
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

    def __init__(self, dataset: h5py.Dataset, direct: bool = True):
        self._fd = None
        self.dataset = dataset
        # h5py looks these up through its lock on every access: keep them.
        self._shape, self._dtype = dataset.shape, dataset.dtype
        self._where = f"{dataset.file.filename}:{dataset.name}"
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

    def byte_ranges(self, positions: ArrayLike) -> list[tuple[int, int]]:
        """`(byte offset, bytes)` of each read a call for `positions` makes, in
        order (direct reads only): what `make bench` part `cold` replays with
        plain `os.preadv` as the baseline of this reader.

        Raises:
            ValueError: when this reader goes through h5py (compressed data).
        """
        if not self.direct:
            raise ValueError(
                f"{self._where} is read through h5py "
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

    def __call__(self, positions: ArrayLike) -> np.ndarray:
        positions = np.asarray(positions, np.int64)
        if not self.direct or len(positions) == 0:
            return read_rows(self.dataset, positions)
        errors.check_rows(self._where, positions, self._shape[0])
        out = np.empty((len(positions), *self._shape[1:]), self._dtype)
        flat = out.reshape(len(positions), -1).view(np.uint8)
        for start, stop, offset in self._runs(positions):
            wanted = (stop - start) * self._row_bytes
            if os.preadv(self._fd, [flat[start:stop]], offset) != wanted:
                raise OSError(
                    f"Short read from {self._where}: "
                    f"the file is truncated or changed since it was opened."
                )
        return out

    def advise(self, positions: ArrayLike):
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

    def __del__(self, _close=os.close):
        # `_close` is bound now: at interpreter exit the module's `os` may already be gone.
        if getattr(self, "_fd", None) is not None:
            _close(self._fd)
            self._fd = None


class HDF5Writer:
    """Appends blocks of images and labels to the splits of an HDF5 file.

    First used in lesson 01 (in_memory_fit).

    Each split is a group holding resizable, chunked datasets that grow by one
    block per `append`: `images` (uint8, `(n, h, w, c)`), `labels` (int64) and
    `ids` (int64), plus `sources` (strings) when the caller gives them. Only the
    block being appended is in memory.

    With `encoding="jpeg"` (or `"png"`), `images` stores each image encoded:
    one variable-length uint8 row per sample, several times smaller than the
    pixels, decoded again on every read.

    Args:
        path: the HDF5 file to create (overwritten).
        image_shape: `(height, width, channels)` of every image.
        class_names: the class names; labels must lie in `[0, len(class_names))`.
        chunk_rows: images per HDF5 chunk.
        attrs: extra file attributes (JSON-serialisable values).
        encoding: `None` (raw pixels), `"jpeg"` or `"png"`.

    Raises:
        ValueError: for an unknown encoding; from `append`, when a block does
            not match the file.

    Example:

    ```python
    with HDF5Writer("toy.h5", (8, 8, 3), ["a", "b"]) as writer:
        writer.append("train", np.zeros((4, 8, 8, 3), np.uint8),
                      labels=[0, 1, 1, 0], ids=[0, 1, 2, 3])
    ```
    """

    def __init__(
        self,
        path: str | Path,
        image_shape: tuple[int, int, int],
        class_names: Sequence[str],
        chunk_rows: int = 64,
        attrs: dict | None = None,
        encoding: str | None = None,
    ):
        if encoding is not None:
            encoded.check_encoding(encoding)
        self.encoding = encoding
        self.path = Path(path)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.class_names = list(class_names)
        self.chunk_rows = int(chunk_rows)
        self._file = h5py.File(self.path, "w")
        self._file.attrs["class_names"] = json.dumps(self.class_names)
        self._file.attrs["image_shape"] = self.image_shape
        for key, value in (attrs or {}).items():
            self._file.attrs[key] = json.dumps(value)

    def _datasets(self, split, with_sources):
        if split in self._file:
            return self._file[split]
        group = self._file.create_group(split)
        if self.encoding:
            images = group.create_dataset(
                "images",
                shape=(0,),
                dtype=h5py.vlen_dtype(np.uint8),
                maxshape=(None,),
                chunks=(max(self.chunk_rows, 1024),),
            )
            images.attrs["encoding"] = self.encoding
        else:
            group.create_dataset(
                "images",
                shape=(0, *self.image_shape),
                dtype=np.uint8,
                maxshape=(None, *self.image_shape),
                chunks=(self.chunk_rows, *self.image_shape),
            )
        for name in ("labels", "ids"):
            group.create_dataset(name, shape=(0,), dtype=np.int64, maxshape=(None,), chunks=(4096,))
        if with_sources:
            group.create_dataset(
                "sources", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype(), chunks=(4096,)
            )
        return group

    def append(
        self,
        split: str,
        images: np.ndarray,
        labels: ArrayLike,
        ids: ArrayLike,
        sources: Sequence[str] | None = None,
    ):
        """Appends one block of samples to `split`.

        Raises:
            ValueError: if the images are not uint8 of the file's image shape,
                the lengths differ, or a label is out of range.
        """
        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        where = f"{self.path.name}:/{split}"
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            raise ValueError(
                f"{where}: expected uint8 images of shape (n, "
                f"{', '.join(map(str, self.image_shape))}), received "
                f"{images.dtype} {images.shape}. Resize and convert images "
                f"before appending."
            )
        lengths = {len(images), len(labels), len(ids)} | (
            {len(sources)} if sources is not None else set()
        )
        if len(lengths) != 1:
            raise ValueError(
                f"{where}: images, labels, ids (and sources) must have the same "
                f"length, received {len(images)}, {len(labels)}, {len(ids)}."
            )
        bad = (labels < 0) | (labels >= len(self.class_names))
        if bad.any():
            raise ValueError(
                f"{where}: label {labels[bad][0]} is out of range for "
                f"{len(self.class_names)} classes {self.class_names}"[:200]
                + ". Labels must be class indices starting at 0."
            )
        group = self._datasets(split, sources is not None)
        start, stop = len(group["images"]), len(group["images"]) + len(images)
        if self.encoding:
            stored = np.empty(len(images), object)
            stored[:] = [
                np.frombuffer(encoded.encode(image, self.encoding), np.uint8) for image in images
            ]
            images = stored
        values = {"images": images, "labels": labels, "ids": ids, "sources": sources}
        for name in group:
            group[name].resize(stop, axis=0)
            group[name][start:stop] = values[name]

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def check_hdf5(path: str | Path) -> dict:
    """Checks that an HDF5 file has the course layout and describes it.

    Used by the kit, not by a lesson.

    Args:
        path: an HDF5 file written by `HDF5Writer`, `make_dataset.py` or
            `images_to_hdf5.py`.

    Returns:
        A dict with `image_shape`, `class_names`, `split_sizes` and
        `encoding` (`None` for raw pixels, else `"jpeg"` or `"png"`).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is truncated or not HDF5, or a split, a
            dataset or an attribute is missing or inconsistent; the message
            names the file and the dataset.

    Example:

    ```python
    check_hdf5("data/lesson/course.h5")["split_sizes"]["train"]  # -> 12288
    ```
    """
    path = Path(path)
    fix = config.rebuild_hint(
        path, "Convert your images again with data_scripts/images_to_hdf5.py."
    )
    with open_file(path, fix) as file:
        for attribute in ("class_names", "image_shape"):
            if attribute not in file.attrs:
                raise ValueError(
                    f"{path} has no {attribute!r} attribute, so it is not in the "
                    f"course layout (datasets found: {', '.join(file)[:100]}). {fix}"
                )
        class_names = json.loads(file.attrs["class_names"])
        image_shape = tuple(int(d) for d in file.attrs["image_shape"])
        sizes, encodings = {}, set()
        for split in config.SPLITS:
            for name in ("images", "labels", "ids"):
                if f"{split}/{name}" not in file:
                    raise ValueError(
                        f"{path} has no dataset /{split}/{name}. Expected "
                        f"/train, /valid and /test groups holding images, "
                        f"labels and ids. {fix}"
                    )
            group = file[split]
            n = len(group["images"])
            encodings.add(_check_images(path, group["images"], image_shape, fix))
            if len(group["labels"]) != n or len(group["ids"]) != n:
                raise ValueError(
                    f"{path}:/{split} holds {n} images but "
                    f"{len(group['labels'])} labels and {len(group['ids'])} ids. "
                    f"{fix}"
                )
            sizes[split] = n
    if len(encodings) > 1:
        raise ValueError(
            f"{path}: its splits store images in different ways "
            f"({sorted(map(str, encodings))}). {fix}"
        )
    return {
        "image_shape": image_shape,
        "class_names": class_names,
        "split_sizes": sizes,
        "encoding": encodings.pop(),
    }


def image_encoding(dataset: h5py.Dataset):
    """`None` for a dataset of raw pixels, else its `encoding` attribute.

    Used by the kit, not by a lesson.
    """
    return dataset.attrs.get("encoding") if dataset.dtype.kind == "O" else None


def _check_images(path, images, image_shape, fix):
    """Checks one split's images dataset; returns its encoding (`None`: pixels)."""
    encoding = image_encoding(images)
    if encoding is not None:
        if (
            encoding not in encoded.ENCODINGS
            or images.ndim != 1
            or h5py.check_vlen_dtype(images.dtype) != np.uint8
        ):
            raise ValueError(
                f"{path}:{images.name} is {images.dtype} {images.shape} with "
                f"encoding={str(encoding)[:20]!r}, expected one variable-length "
                f"uint8 row of {'/'.join(encoded.ENCODINGS)} bytes per sample. {fix}"
            )
    elif images.shape[1:] != image_shape or images.dtype != np.uint8:
        raise ValueError(
            f"{path}:{images.name} is {images.dtype} {images.shape}, expected "
            f"uint8 (n, {', '.join(map(str, image_shape))}) (or encoded image "
            f"bytes with an `encoding` attribute). {fix}"
        )
    return encoding


def load_split(
    path: str | Path, split: str, limit: int | None = None, dtype: DTypeLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Loads a whole split of an HDF5 file into memory: the classic recipe.

    First used in lesson 00 (setup_and_data).

    Encoded images (JPEG/PNG bytes) are decoded.

    Args:
        path: an HDF5 file in the course layout.
        split: `"train"`, `"valid"` or `"test"`.
        limit: load only the first `limit` samples.
        dtype: convert the images, e.g. `"float32"` (scaled to [0, 1]);
            `None` keeps uint8.

    Returns:
        `(images, labels)` as numpy arrays.

    Raises:
        ValueError: for an unknown split.
    """
    errors.check_choice("split", split, config.SPLITS)
    with open_file(path) as file:
        images = file[split]["images"][:limit]
        labels = file[split]["labels"][:limit]
        if image_encoding(file[split]["images"]):
            shape = tuple(int(d) for d in file.attrs["image_shape"])
            images = encoded.decode_batch(
                images, shape, f"{path}:/{split}/images", range(len(images))
            )
    if dtype is not None:
        images = images.astype(dtype)
        images /= 255  # in place: one float copy, not two
    return images, labels


class HDF5Rows:
    """The rows of one dataset of an HDF5 file, as a row source.

    First used in lesson 05 (hdf5_reading).

    Rows are read with `RowReader`: straight from their byte
    offsets when the dataset is uncompressed, else as a few h5py slices.

    Args:
        path: the HDF5 file.
        dataset: the dataset's name, e.g. `"train/images"`.
        direct_reads: allow reads from byte offsets (the default); `False`
            reads through h5py, for comparison.
        cache_bytes: a dataset of at most this many bytes is read whole,
            once per process, and served from memory (labels, say).
        hint: what to add to the error when the dataset is missing.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is truncated or not HDF5, or has no such
            dataset (the message lists the datasets it has).

    Example:

    ```python
    images = HDF5Rows("data/lesson/course.h5", "train/images")
    len(images), images.read(np.array([3, 4, 900])).shape  # -> (12288, (3, 64, 64, 3))
    ```
    """

    def __init__(
        self,
        path: str | Path,
        dataset: str,
        direct_reads: bool = True,
        cache_bytes: int = 0,
        hint: str = "",
    ):
        self.path, self.name = Path(path), dataset
        self.direct_reads, self.cache_bytes = direct_reads, int(cache_bytes)
        with open_file(self.path) as file:
            if dataset not in file or not isinstance(file[dataset], h5py.Dataset):
                raise ValueError(
                    f"{self.path} has no dataset {dataset!r}. Datasets in the file: "
                    f"{', '.join(dataset_names(file))[:150]}. {hint}".rstrip()
                )
            self.shape, self.dtype = file[dataset].shape, file[dataset].dtype
        self._handle = PerProcess()

    def __len__(self):
        return self.shape[0]

    @property
    def is_open(self):
        """Whether this process has opened the file."""
        return self._handle.is_open

    def reader(self):
        """This process's reader: a `RowReader`, or the cached array's `__getitem__`."""
        return self._handle.get(self._open)

    def _open(self):
        file = h5py.File(self.path, "r")
        dataset = file[self.name]
        if dataset.nbytes <= self.cache_bytes:
            values = dataset[:]
            file.close()
            return values.__getitem__
        return RowReader(dataset, self.direct_reads)

    def read(self, positions: ArrayLike):
        """The rows at `positions` (sorted), as one array."""
        return self.reader()(np.asarray(positions, np.int64))

    def advise(self, positions: ArrayLike):
        """Asks the kernel to start reading these rows (see `RowReader.advise`)."""
        reader = self.reader()
        if isinstance(reader, RowReader):
            reader.advise(positions)

    def __repr__(self):
        return f"{type(self).__name__}({self.path}:/{self.name.lstrip('/')})"

    def read_all(self):
        """Every row, read once with h5py (for small datasets: ids, labels)."""
        with open_file(self.path) as file:
            return file[self.name][:]


class EncodedHDF5Rows(HDF5Rows):
    """An HDF5 dataset of encoded images (one JPEG/PNG byte row each), decoded.

    Used by the kit, not by a lesson.

    `read` returns uint8 pixels of `image_shape`, like `HDF5Rows` on raw
    pixels: the bytes of a batch are read with a few h5py slices and decoded
    one image at a time. Decoding releases the GIL, so a loader with thread
    workers decodes several batches at once.

    Args:
        path: the HDF5 file.
        dataset: the images dataset, e.g. `"train/images"`.
        image_shape: the decoded shape; default: the file's `image_shape`.

    Raises:
        FileNotFoundError, ValueError: as `HDF5Rows`; `ValueError` too when
            the file does not say its image shape, and from `read` for bytes
            that do not decode (naming file, dataset and row).

    Example:

    ```python
    images = EncodedHDF5Rows("data/lesson/course_jpeg.h5", "train/images")
    images.read([0, 1, 2]).shape  # -> (3, 64, 64, 3)
    ```
    """

    def __init__(
        self,
        path: str | Path,
        dataset: str,
        image_shape: tuple[int, int, int] | None = None,
        hint: str = "",
    ):
        super().__init__(path, dataset, direct_reads=False, hint=hint)
        if image_shape is None:
            with open_file(self.path) as file:
                if "image_shape" not in file.attrs:
                    raise ValueError(
                        f"{self.path} does not say the shape of its images (no "
                        f"'image_shape' attribute). Pass image_shape=(h, w, 3)."
                    )
                image_shape = file.attrs["image_shape"]
        self.image_shape = tuple(int(d) for d in image_shape)
        self.where = f"{self.path}:/{self.name.lstrip('/')}"

    def _open(self):
        return h5py.File(self.path, "r")[self.name]

    def read(self, positions: ArrayLike):
        positions = np.asarray(positions, np.int64)
        values = read_rows(self.reader(), positions)
        return encoded.decode_batch(values, self.image_shape, self.where, positions)


def hdf5_image_rows(
    path: str | Path, dataset: str, direct_reads: bool = True, hint: str = ""
) -> "HDF5Rows":
    """The row source for an HDF5 images dataset: `EncodedHDF5Rows` when it
    holds encoded bytes (an `encoding` attribute), else `HDF5Rows`.

    Used by the kit, not by a lesson.
    """
    with open_file(path) as file:
        item = file.get(dataset)
        encoding = isinstance(item, h5py.Dataset) and image_encoding(item)
    if encoding:
        return EncodedHDF5Rows(path, dataset, hint=hint)
    return HDF5Rows(path, dataset, direct_reads, hint=hint)
