"""Row sources: where a loader's rows come from, one class per format.

A batch travels: row source -> sampler -> loader -> optional wrappers -> Keras.
A *row source* (`RowSource`, the contract) has `len(source)` and
`source.read(positions)`, which returns the rows at sorted positions as one
array, and a `repr` for messages; a source that can ask the kernel to read
ahead also has `advise(positions)`. The sampler (`sampling`) decides which
positions make each batch; the loader (`loaders.SourceDataset`, or one that
adds what its files need) asks its sources for them. A new format is a new
source: nothing else changes.

| source                  | its rows                                            |
|-------------------------|-----------------------------------------------------|
| `HDF5Rows`              | one dataset of an HDF5 file (`hdf5_rows.RowReader`) |
| `EncodedHDF5Rows`       | an HDF5 dataset of JPEG/PNG bytes, decoded per batch |
| `NpyFiles`              | a folder of one `<name>.npy` file per sample        |
| `ImageFiles`            | one JPEG/PNG image file per sample, decoded         |
| `ArrayRows`             | an array in memory (labels, ids)                    |
| `records` (tf.data)     | TFRecord shards: a `tf.data` pipeline, not a source |
| `features.ChunkReader`  | a feature matrix: bcolz, blosc2, zarr or memmap     |

A source opens its file lazily, once per process, through `PerProcess`, and
pickles as its path and settings. So one loader works with thread workers,
and with process workers under `fork` (a child opens its own handle instead
of sharing its parent's) and `spawn` (nothing unpicklable is sent).
"""

import os
import threading
import typing
from pathlib import Path

import h5py
import numpy as np

from course_lib import config
from course_lib.formats import encoded, layouts
from course_lib.formats.hdf5_rows import RowReader, dataset_names, open_file, read_rows


@typing.runtime_checkable
class RowSource(typing.Protocol):
    """The contract every format implements: rows by position.

    Used by the kit, not by a lesson.

    A row source has `len(source)` rows and `source.read(positions)`, which
    returns the rows at sorted positions as one array (`len(positions)`
    first); its `repr` names what it reads, for messages. It opens its file
    lazily, once per process (`PerProcess`), and pickles as its path and
    settings, so any loader over it works with thread and process workers.
    It may also have `advise(positions)`, to ask the kernel to read ahead.

    `loading.SourceDataset` turns any row source into batches for Keras.

    Example:

    >>> isinstance(ArrayRows(np.arange(5)), RowSource)
    True
    """

    def __len__(self) -> int: ...

    def read(self, positions: np.ndarray) -> np.ndarray: ...


def check_source(source, name="source"):
    """Raises `TypeError` unless `source` is a `RowSource`, naming what it lacks.

    Used by the kit, not by a lesson.
    """
    if not isinstance(source, RowSource):
        missing = [m for m in ("__len__", "read") if not hasattr(source, m)]
        raise TypeError(
            f"{name} must be a row source (len() and read(sorted positions)), received "
            f"{type(source).__name__}, which lacks {' and '.join(missing)}. Wrap arrays "
            f"in ArrayRows, files in one of course_lib.formats' sources."
        )


class ArrayRows:
    """The rows of an array in memory, as a row source (labels, ids, small data).

    Used by the kit, not by a lesson.

    Args:
        values: the array, samples first.
        name: what to call it in messages.

    Example:

    >>> ArrayRows(np.arange(10) * 2, "ids").read([1, 3])
    array([2, 6])
    """

    def __init__(self, values, name="array"):
        self.values, self.name = np.asarray(values), name

    def __len__(self):
        return len(self.values)

    def read(self, positions):
        return self.values[np.asarray(positions, np.int64)]

    def __repr__(self):
        return f"ArrayRows({self.name}, {len(self)} rows)"


class PerProcess:
    """A resource opened lazily, once per process, and never pickled.

    First used in lesson 05 (hdf5_reading).

    `get(opener)` returns this process's resource, calling `opener()` the
    first time it is asked for in a process (and again in a forked child,
    which must not share its parent's file handle). A pickled copy starts
    empty.

    Example:

    >>> import pickle
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

    First used in lesson 05 (hdf5_reading).

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

    def read(self, positions):
        """The rows at `positions` (sorted), as one array."""
        return self.reader()(np.asarray(positions, np.int64))

    def advise(self, positions):
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

    def __init__(self, path, dataset, image_shape=None, hint=""):
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

    def read(self, positions):
        positions = np.asarray(positions, np.int64)
        values = read_rows(self.reader(), positions)
        return encoded.decode_batch(values, self.image_shape, self.where, positions)


def hdf5_image_rows(path, dataset, direct_reads=True, hint=""):
    """The row source for an HDF5 images dataset: `EncodedHDF5Rows` when it
    holds encoded bytes (an `encoding` attribute), else `HDF5Rows`.

    Used by the kit, not by a lesson.
    """
    with open_file(path) as file:
        item = file.get(dataset)
        encoding = isinstance(item, h5py.Dataset) and layouts.image_encoding(item)
    if encoding:
        return EncodedHDF5Rows(path, dataset, hint=hint)
    return HDF5Rows(path, dataset, direct_reads, hint=hint)


class NpyFiles:
    """Samples stored one `<folder>/<name>.npy` file each, as a row source.

    Used by the kit, not by a lesson.

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

    def __repr__(self):
        return f"NpyFiles({self.folder}, {len(self)} files)"

    def read(self, positions):
        return load_npy_batch(self.folder, [self.names[p] for p in positions])


class ImageFiles:
    """One JPEG/PNG image file per sample, as a row source: the classic layout.

    Used by the kit, not by a lesson.

    Each read opens and decodes one file per sample, the way a DataFrame of
    file paths is read in many older recipes.

    Args:
        paths: the image files, in position order.
        image_shape: the shape every image decodes to, `(h, w, 3)`.

    Raises:
        FileNotFoundError: from `read`, naming a missing file.
        ValueError: from `read`, naming a file that does not decode to
            `image_shape`.

    Example:

    ```python
    files = ImageFiles(table["path"], (64, 64, 3))
    files.read([0, 1]).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, paths, image_shape):
        self.paths = [Path(p) for p in paths]
        self.image_shape = tuple(int(d) for d in image_shape)

    def __len__(self):
        return len(self.paths)

    def __repr__(self):
        where = self.paths[0].parent if self.paths else "no files"
        return f"ImageFiles({where}, {len(self)} files of {self.image_shape})"

    def read(self, positions):
        out = np.empty((len(positions), *self.image_shape), np.uint8)
        for i, position in enumerate(positions):
            path = self.paths[position]
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"Missing image file {path}. "
                    f"{config.rebuild_hint(path, 'Check the paths you listed.')}"
                ) from None
            out[i] = encoded.decode(data, self.image_shape, str(path))
        return out


def load_npy_batch(folder, names):
    """Loads `<folder>/<name>.npy` for each name and stacks them into a batch.

    Used by the kit, not by a lesson.

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
                path, f"Check that {folder} holds one <id>.npy file per sample id."
            )
            raise FileNotFoundError(
                f"Missing sample file {path}. {fix} Or leave {name!r} out of the ids."
            ) from None
    return np.stack(images)
