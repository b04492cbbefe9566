"""The contract every format implements: a row source, and what sources share.

A batch travels: row source -> sampler -> loader -> optional wrappers -> Keras.
A *row source* (`RowSource`) has `len(source)` and `source.read(positions)`,
which returns the rows at sorted positions as one array, and a `repr` for
messages; a source that can ask the kernel to read ahead also has
`advise(positions)`. The sampler (`loading.sampling`) decides which positions
make each batch; the loader (`loading.SourceDataset`, or one that adds what
its files need) asks its sources for them. A new format is a new source in a
module of its own: nothing else changes.

| source                    | its rows                                           |
|---------------------------|----------------------------------------------------|
| `hdf5.HDF5Rows`           | one dataset of an HDF5 file (`hdf5.RowReader`)     |
| `hdf5.EncodedHDF5Rows`    | an HDF5 dataset of JPEG/PNG bytes, decoded per batch |
| `npy.NpyFiles`            | a folder of one `<name>.npy` file per sample       |
| `image_files.ImageFiles`  | one JPEG/PNG image file per sample, decoded        |
| `features.ChunkReader`    | a feature matrix: bcolz, blosc2, zarr or memmap    |
| `array_records.ArrayRecordFile` | one split of ArrayRecord files (also a Grain source) |
| `ArrayRows`               | an array in memory (labels, ids)                   |
| `records` (tf.data)       | TFRecord shards: a `tf.data` pipeline, not a source |

A source opens its file lazily, once per process, through `PerProcess`, and
pickles as its path and settings. So one loader works with thread workers,
and with process workers under `fork` (a child opens its own handle instead
of sharing its parent's) and `spawn` (nothing unpicklable is sent).
"""

import os
import threading
import typing
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


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


def check_source(source: object, name: str = "source") -> None:
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

    def __init__(self, values: ArrayLike, name: str = "array"):
        self.values, self.name = np.asarray(values), name

    def __len__(self):
        return len(self.values)

    def read(self, positions: ArrayLike) -> np.ndarray:
        return self.values[np.asarray(positions, np.int64)]

    def __repr__(self):
        return f"ArrayRows({self.name}, {len(self)} rows)"


class PerProcess:
    """A resource opened lazily, once per process, and never pickled.

    Used by the kit, not by a lesson.

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

    def get(self, opener: Callable[[], object]):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._value, self._pid = opener(), os.getpid()
        return self._value

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()
