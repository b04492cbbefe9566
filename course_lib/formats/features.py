"""Feature matrices on disk, row i belonging to sample i, and reading them fast.

Four formats hold such a matrix; they differ in compression and in how
they like to be read:

| format   | on disk                               | a random row costs         |
|----------|---------------------------------------|----------------------------|
| `bcolz`  | a folder of compressed chunks         | decompressing its chunk    |
|          | (`bcolz-zipline`, imports as `bcolz`) |                            |
| `blosc2` | one `.b2nd` file of compressed chunks | decompressing a block      |
| `zarr`   | a folder, one file per chunk          | reading + decompressing it |
| `memmap` | a plain `.npy` file, uncompressed     | a page-cache copy          |

`FeatureStore` gives them one interface, opened lazily once per process
(`sources.PerProcess`) and pickled as a path. `ChunkReader`, the row source
for feature matrices, reads the rows of a batch chunk by chunk:
each chunk the batch touches is decompressed once, and kept in a small
cache for the next batches, instead of once per row.
"""

import collections
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from course_lib import config, errors
from course_lib.formats import atomic
from course_lib.formats.sources import PerProcess

CHUNK_BYTES = 256 * 1024  # the default chunk size of the compressed formats


class _Bcolz:
    """bcolz (`bcolz-zipline`): a folder of compressed chunks, grown by appending."""

    suffix = ".bcolz"

    @staticmethod
    def create(path, n_rows, n_features, chunk_rows):
        import bcolz

        return bcolz.zeros(
            (0, n_features),
            np.float32,
            rootdir=str(path),
            mode="w",
            chunklen=chunk_rows,
            expectedlen=n_rows,
            cparams=bcolz.cparams(clevel=5, cname="lz4"),
        )

    @staticmethod
    def write(array, start, rows):
        array.append(rows)

    @staticmethod
    def finish(array):
        array.flush()

    @staticmethod
    def open(path):
        import bcolz

        return bcolz.open(str(path), mode="r")

    @staticmethod
    def chunk_rows(array):
        return int(array.chunklen)

    @staticmethod
    def path_of(array):
        return getattr(array, "rootdir", None)

    @staticmethod
    def gather(array, rows):
        return array[rows]


class _Blosc2:
    """blosc2: one `.b2nd` file of compressed chunks."""

    suffix = ".b2nd"

    @staticmethod
    def create(path, n_rows, n_features, chunk_rows):
        import blosc2

        return blosc2.empty(
            (n_rows, n_features),
            np.float32,
            chunks=(chunk_rows, n_features),
            urlpath=str(path),
            mode="w",
        )

    @staticmethod
    def write(array, start, rows):
        array[start : start + len(rows)] = rows

    @staticmethod
    def finish(array):
        pass

    @staticmethod
    def open(path):
        import blosc2

        return blosc2.open(str(path), mode="r")

    @staticmethod
    def chunk_rows(array):
        return int(array.chunks[0])

    @staticmethod
    def path_of(array):
        return getattr(array, "urlpath", None)

    @staticmethod
    def gather(array, rows):
        return array[rows]


class _Zarr(_Blosc2):
    """zarr 3: a folder of chunks (or shards)."""

    suffix = ".zarr"

    @staticmethod
    def create(path, n_rows, n_features, chunk_rows):
        import zarr

        return zarr.create_array(
            store=str(path),
            shape=(n_rows, n_features),
            dtype="float32",
            chunks=(chunk_rows, n_features),
        )

    @staticmethod
    def open(path):
        import zarr

        return zarr.open_array(str(path), mode="r")

    @staticmethod
    def path_of(array):
        return getattr(getattr(array, "store", None), "root", None)

    @staticmethod
    def gather(array, rows):
        return array.oindex[rows, :]


class _Memmap(_Blosc2):
    """A plain `.npy` file, uncompressed, read through a numpy memmap."""

    suffix = ".npy"

    @staticmethod
    def create(path, n_rows, n_features, chunk_rows):
        return np.lib.format.open_memmap(path, "w+", np.float32, (n_rows, n_features))

    @staticmethod
    def finish(array):
        array.flush()

    @staticmethod
    def open(path):
        return np.load(path, mmap_mode="r")

    @staticmethod
    def chunk_rows(array):
        return default_chunk_rows(array.shape[1], array.dtype.itemsize)

    @staticmethod
    def path_of(array):
        return getattr(array, "filename", None)


ADAPTERS = {"bcolz": _Bcolz, "blosc2": _Blosc2, "zarr": _Zarr, "memmap": _Memmap}
"""One adapter per format: how to create, write, finish and open it, find its
chunks and its path, and gather rows the format's own (naive) way."""
FORMATS = tuple(ADAPTERS)
SUFFIXES = {adapter.suffix: kind for kind, adapter in ADAPTERS.items()}


def format_of(path: str | Path):
    """The format of a feature store path, from its suffix.

    Used by the kit, not by a lesson.

    Raises:
        ValueError: for a suffix that is not one of `SUFFIXES`.
    """
    suffix = Path(path).suffix
    if suffix not in SUFFIXES:
        raise ValueError(
            f"Cannot tell the format of {str(path)[:100]}: expected a name ending "
            f"in {', '.join(SUFFIXES)}. Rename it, e.g. features.bcolz."
        )
    return SUFFIXES[suffix]


def default_chunk_rows(n_features: int, itemsize: int = 4):
    """Rows per chunk so that a chunk holds about `CHUNK_BYTES`.

    Used by the kit, not by a lesson.
    """
    return max(16, CHUNK_BYTES // (n_features * itemsize))


def write_features(
    path: str | Path,
    blocks: Iterable[np.ndarray],
    n_rows: int,
    n_features: int,
    chunk_rows: int | None = None,
):
    """Writes a float32 feature matrix block by block; the format comes from the suffix.

    First used in lesson 07 (merged_models_bcolz).

    Only one block is in memory at a time, so the matrix may be far larger
    than RAM. An existing store at `path` is replaced.

    Args:
        path: where to write: `*.bcolz`, `*.b2nd`, `*.zarr` or `*.npy` (memmap).
        blocks: iterable of `(start, rows)` with `rows` of shape
            `(k, n_features)`, covering `0..n_rows-1` in order.
        n_rows: rows of the matrix.
        n_features: columns.
        chunk_rows: rows per compressed chunk (default: `default_chunk_rows`).

    Returns:
        The path, as a `Path`.

    Raises:
        ValueError: if the blocks do not cover exactly `n_rows` rows in order.

    Example:

    ```python
    blocks = ((s, synthetic.features(s, s + 256, 64, 1)) for s in range(0, 1024, 256))
    write_features("tmp/features.zarr", blocks, 1024, 64)
    ```
    """
    path = Path(path)
    adapter = ADAPTERS[format_of(path)]
    atomic.remove(path)
    array = adapter.create(path, n_rows, n_features, chunk_rows or default_chunk_rows(n_features))
    written = 0
    for start, rows in blocks:
        rows = np.asarray(rows, np.float32)
        if start != written or rows.shape[1:] != (n_features,):
            raise ValueError(
                f"Blocks must cover the rows of {path} in order with {n_features} "
                f"columns: expected a block at row {written}, received one at "
                f"{start} of shape {rows.shape}."
            )
        adapter.write(array, start, rows)
        written += len(rows)
    if written != n_rows:
        raise ValueError(f"Blocks wrote {written} rows to {path}, expected {n_rows}.")
    adapter.finish(array)
    return path


class FeatureStore:
    """A feature matrix on disk, in any of `FORMATS`, opened lazily per process.

    First used in lesson 07 (merged_models_bcolz).

    Pickling keeps only the path, so worker processes open their own handle.

    Args:
        source: a path (`*.bcolz`, `*.b2nd`, `*.zarr`, `*.npy`) or an open
            array of one of those formats (a `bcolz.carray` with a rootdir,
            a `blosc2.NDArray` with a urlpath, a `zarr.Array` on a local
            store, or an `np.memmap`).

    Raises:
        FileNotFoundError: if nothing is stored at the path.
        TypeError: for an in-memory array or an unknown type.

    Example:

    ```python
    store = FeatureStore("data/lesson/features/matrix.bcolz")
    store.shape, store.chunk_rows  # -> ((16384, 256), 256)
    ```
    """

    def __init__(self, source: str | Path | object):
        self.path, self.format = self._locate(source)
        if not self.path.exists():
            fix = config.rebuild_hint(self.path, "Write it with features.write_features.")
            raise FileNotFoundError(
                f"No {self.format} feature store at {str(self.path)[:100]}. Check the path. {fix}"
            )
        self._handle = PerProcess()
        array = self.array
        self.shape = tuple(array.shape)
        if len(self.shape) != 2:
            raise ValueError(
                f"{self.path}: expected a 2-D matrix (samples, features), received "
                f"shape {self.shape}."
            )
        self.chunk_rows = ADAPTERS[self.format].chunk_rows(array)

    @staticmethod
    def _locate(source):
        if isinstance(source, (str, os.PathLike)):
            return Path(source), format_of(source)
        kind = "memmap" if isinstance(source, np.memmap) else type(source).__module__.split(".")[0]
        path = ADAPTERS[kind].path_of(source) if kind in ADAPTERS else None
        if path:
            return Path(path), kind
        raise TypeError(
            f"Expected a feature store on disk (a path, or a bcolz / blosc2 / zarr / "
            f"np.memmap array backed by a file), received {type(source).__name__}. "
            f"Save an in-memory array with np.save and open it with "
            f"np.load(path, mmap_mode='r')."
        )

    @property
    def array(self):
        """The open array of this process."""
        return self._handle.get(self._open)

    def _open(self):
        return ADAPTERS[self.format].open(self.path)

    def __len__(self):
        return self.shape[0]

    def read(self, start: int, stop: int):
        """Rows `start..stop-1` as a float32 array."""
        return np.asarray(self.array[start:stop], np.float32)

    def nan_rows(self):
        """Row numbers whose features hold NaN, scanning the matrix chunk by chunk.

        Example:

        ```python
        bad = FeatureStore("features.bcolz").nan_rows()
        index = index[~index.id.isin(bad)]   # leave those samples out
        ```
        """
        bad = [
            start + np.flatnonzero(np.isnan(self.read(start, start + self.chunk_rows)).any(axis=1))
            for start in range(0, len(self), self.chunk_rows)
        ]
        return np.concatenate(bad or [np.zeros(0, np.int64)])

    def gather(self, rows: ArrayLike):
        """Rows at the given indices, the naive way: the format's own fancy indexing."""
        return np.asarray(ADAPTERS[self.format].gather(self.array, np.asarray(rows)), np.float32)


def _new_cache():
    """A chunk cache and its lock, one per process."""
    return collections.OrderedDict(), threading.Lock()


class ChunkReader:
    """Reads rows of a `FeatureStore` one whole chunk at a time, with a chunk cache.

    First used in lesson 07 (merged_models_bcolz).

    Every chunk a batch touches is read (decompressed) once; the last
    `cache_chunks` chunks stay in memory for the next batches. The rows a
    batch asks for are checked for NaN, so a batch fails only when it holds
    a sample whose features are NaN, and the error names exactly those rows.

    Args:
        store: a `FeatureStore` (or anything `FeatureStore` accepts).
        cache_chunks: how many decompressed chunks to keep.

    Raises:
        ValueError: when a requested row holds NaN (named by row) or is out
            of range.

    Example:

    ```python
    reader = ChunkReader("data/lesson/features/matrix.bcolz")
    reader.read(np.array([3, 4, 5, 300])).shape  # -> (4, 256)
    ```
    """

    def __init__(self, store: FeatureStore | str | Path, cache_chunks: int = 16):
        self.store = store if isinstance(store, FeatureStore) else FeatureStore(store)
        self.cache_chunks = int(cache_chunks)
        self._per_process = PerProcess()  # this process's (chunk cache, its lock)

    def __len__(self):
        return len(self.store)

    def __repr__(self):
        return f"ChunkReader({self.store.path}, {len(self)} rows)"

    def _chunk(self, index):
        """Chunk `index` as `(rows, nan_rows)`: its values, and which of its rows
        hold NaN (`None` when none does), found once when the chunk is read."""
        cache, lock = self._per_process.get(_new_cache)
        with lock:
            if index in cache:
                cache.move_to_end(index)
                return cache[index]
        start = index * self.store.chunk_rows
        rows = self.store.read(start, min(start + self.store.chunk_rows, len(self.store)))
        nan_rows = np.isnan(rows).any(axis=1)
        entry = (rows, nan_rows if nan_rows.any() else None)
        with lock:
            cache[index] = entry
            while len(cache) > self.cache_chunks:
                cache.popitem(last=False)
        return entry

    def read(self, rows: ArrayLike):
        """The feature rows at `rows` (any order), as one float32 array."""
        rows = np.asarray(rows, np.int64)
        errors.check_rows(self.store.path, rows, len(self.store))
        out = np.empty((len(rows), self.store.shape[1]), np.float32)
        chunks = rows // self.store.chunk_rows
        bad = []
        for index in np.unique(chunks):
            mask = chunks == index
            local = rows[mask] - index * self.store.chunk_rows
            values, nan_rows = self._chunk(int(index))
            out[mask] = values[local]
            if nan_rows is not None:
                bad += (local[nan_rows[local]] + index * self.store.chunk_rows).tolist()
        if bad:
            raise ValueError(
                f"{self.store.path} holds NaN in feature row(s) {sorted(bad)[:10]} of "
                f"this batch. Fix those rows, or leave those samples out of the ids: "
                f"`FeatureStore(path).nan_rows()` lists every row with NaN, e.g. "
                f"index = index[~index.id.isin(bad)]."
            )
        return out
