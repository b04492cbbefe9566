"""Row sources: where a loader's rows come from, one class per format.

A batch travels: row source -> sampler -> loader -> optional wrappers -> Keras.
A *row source* has `len(source)` and `source.read(positions)`, which returns
the rows at sorted positions as one array. The sampler (`sampling`) decides
which positions make each batch; the loader (`loaders`, `merged`) asks its
sources for them. A new format is a new source: nothing else changes.

| source                  | its rows                                            |
|-------------------------|-----------------------------------------------------|
| `HDF5Rows`              | one dataset of an HDF5 file (`hdf5_rows.RowReader`) |
| `NpyFiles`              | a folder of one `<name>.npy` file per sample        |
| `features.ChunkReader`  | a feature matrix: bcolz, blosc2, zarr or memmap     |

A source opens its file lazily, once per process, through `PerProcess`, and
pickles as its path and settings. So one loader works with thread workers,
and with process workers under `fork` (a child opens its own handle instead
of sharing its parent's) and `spawn` (nothing unpicklable is sent).
"""

import os
import threading
from pathlib import Path

import h5py
import numpy as np

from course_lib import config
from course_lib.hdf5_rows import RowReader, dataset_names, open_file


class PerProcess:
    """A resource opened lazily, once per process, and never pickled.

    `get(opener)` returns this process's resource, calling `opener()` the
    first time it is asked for in a process (and again in a forked child,
    which must not share its parent's file handle). A pickled copy starts
    empty.

    Example:

    >>> handle = PerProcess()
    >>> first = handle.get(object)          # opens: calls object()
    >>> handle.get(object) is first         # the same process: the same one
    True
    >>> pickle.loads(pickle.dumps(handle)).is_open
    False
    """

    def __init__(self):
        self._value, self._pid = None, None
        self._lock = threading.Lock()

    @property
    def is_open(self):
        """Whether this process has opened the resource."""
        return self._pid == os.getpid()

    def get(self, opener):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._value, self._pid = opener(), os.getpid()
        return self._value

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()


class HDF5Rows:
    """The rows of one dataset of an HDF5 file, as a row source.

    Rows are read with `hdf5_rows.RowReader`: straight from their byte
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

    def __init__(self, path, dataset, direct_reads=True, cache_bytes=0, hint=""):
        self.path, self.name = Path(path), dataset
        self.direct_reads, self.cache_bytes = direct_reads, int(cache_bytes)
        with open_file(self.path) as file:
            if dataset not in file or not isinstance(file[dataset], h5py.Dataset):
                raise ValueError(
                    f"{self.path} has no dataset {dataset!r}. Datasets in the file: "
                    f"{', '.join(dataset_names(file))[:150]}. {hint}".rstrip())
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

    def read(self, positions):
        """The rows at `positions` (sorted), as one array."""
        return self.reader()(np.asarray(positions, np.int64))

    def read_all(self):
        """Every row, read once with h5py (for small datasets: ids, labels)."""
        with open_file(self.path) as file:
            return file[self.name][:]


class NpyFiles:
    """Samples stored one `<folder>/<name>.npy` file each, as a row source.

    Args:
        folder: the folder.
        names: the file names (without `.npy`), in position order.

    Example:

    ```python
    files = NpyFiles("data/lesson/npy", ["id-000000", "id-000001"])
    files.read([0, 1]).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, folder, names):
        self.folder, self.names = Path(folder), list(names)

    def __len__(self):
        return len(self.names)

    def read(self, positions):
        return load_npy_batch(self.folder, [self.names[p] for p in positions])


def load_npy_batch(folder, names):
    """Loads `<folder>/<name>.npy` for each name and stacks them into a batch.

    Raises:
        FileNotFoundError: naming the first missing file.
    """
    images = []
    for name in names:
        path = Path(folder) / f"{name}.npy"
        try:
            images.append(np.load(path))
        except FileNotFoundError:
            fix = config.rebuild_hint(
                path, f"Check that {folder} holds one <id>.npy file per sample id.")
            raise FileNotFoundError(
                f"Missing sample file {path}. {fix} Or leave {name!r} out of the "
                f"ids.") from None
    return np.stack(images)
