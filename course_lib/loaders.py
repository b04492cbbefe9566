"""Loaders that stream batches from disk: `keras.utils.PyDataset` subclasses.

Every loader here takes its batch order from one `sampling.BatchSampler`, so
they share its guarantees (each sample once per epoch, the last partial batch
kept, a new reproducible order each epoch), and passes `workers`,
`use_multiprocessing` and `max_queue_size` on to `PyDataset`.

The loaders shuffle themselves, so train with `model.fit(loader, shuffle=False)`:
Keras would otherwise shuffle the batch indices again, which changes nothing
about which samples an epoch sees but spoils the sequential reads that the
`"block"` strategy is built for.
"""

import os
import threading
from pathlib import Path

import h5py
import keras
import numpy as np

from course_lib.hdf5_rows import RowReader
from course_lib.sampling import BatchSampler


class SampledDataset(keras.utils.PyDataset):
    """Base class: batch positions from a `BatchSampler`, one epoch at a time.

    Subclasses implement `read(positions)`, returning the batch for those
    sorted sample positions. The epoch counter advances in `on_epoch_end`,
    which Keras calls before it hands worker processes their copy of the
    dataset for the next epoch, so every worker follows it. (Keras also calls
    it once when `fit` starts, so the counter counts those calls rather than
    your epochs; what matters is that it changes between epochs.)

    Args:
        n: number of samples.
        batch_size, shuffle, seed, drop_last, block_size, window, chunk_rows,
            shard: see `sampling.BatchSampler` (`shuffle` is its `strategy`).
            Every loader below accepts `shard=(index, count)` too: for several
            training workers, each reading its own part of the data.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.
    """

    def __init__(self, n, batch_size, shuffle="full", seed=None, drop_last=False,
                 block_size=None, window=None, chunk_rows=None, shard=None, **kwargs):
        super().__init__(**kwargs)
        self.sampler = BatchSampler(n, batch_size, shuffle, seed, drop_last,
                                    block_size, window, chunk_rows, shard=shard)
        self.epoch = 0

    def __len__(self):
        return len(self.sampler)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for {len(self)} batches.")
        return self.read(self.sampler.batches(self.epoch)[index])

    def read(self, positions):
        raise NotImplementedError

    def sample_keys(self, index):
        """Stable ids of the samples in batch `index` this epoch (seeds augmentation)."""
        return self.sampler.batches(self.epoch)[index]

    def on_epoch_end(self):
        self.epoch += 1


def _dataset_names(file):
    """Paths of every dataset in an open h5py file, e.g. `["train/images", ...]`."""
    names = []

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            names.append(name)

    file.visititems(collect)
    return names


class HDF5Dataset(SampledDataset):
    """Streams batches of (images, labels) from datasets in an HDF5 file.

    Works with any file and dataset names: the kit's layout
    (`train/images`, `train/labels`), a food-101 style file (`train_img`,
    one-hot `train_labels`) or an EArray written by PyTables. Rows are read
    with `hdf5_rows.RowReader`: straight from their byte offsets when the
    dataset is uncompressed, otherwise as a few contiguous h5py slices. The
    file is opened lazily, once per process, and never pickled, so the
    loader is safe with thread and process workers, under `fork` and `spawn`.

    Args:
        path: the HDF5 file.
        images: name of the images dataset (samples first).
        labels: name of the labels dataset, or `None` to yield images only
            (for `predict`).
        batch_size: samples per batch.
        shuffle: `"none"`, `"full"` or `"block"` (the default: fast and mixed;
            see `sampling`).
        seed: seed of the epoch orders.
        preprocess: optional function applied to each batch of images, e.g.
            `to_float32`.
        drop_last, block_size, window: see `sampling.BatchSampler`.
        direct_reads: read uncompressed rows from their byte offsets (the
            default); `False` reads everything through h5py, for comparison.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if a dataset is missing, empty, or the two lengths differ.

    Example:

    >>> train = HDF5Dataset("data/lesson/course.h5", "train/images",
    ...                     "train/labels", batch_size=64, seed=1)
    >>> model.fit(train, epochs=2, shuffle=False)
    """

    def __init__(self, path, images="train/images", labels="train/labels",
                 batch_size=32, shuffle="block", seed=None, preprocess=None,
                 drop_last=False, block_size=None, window=None, direct_reads=True,
                 **kwargs):
        self.path = Path(path)
        self.direct_reads = direct_reads
        self.images_name, self.labels_name = images, labels
        self.preprocess = preprocess
        n = self._validate()
        super().__init__(n, batch_size, shuffle, seed, drop_last, block_size,
                         window, **kwargs)
        self._file, self._row_readers, self._pid = None, None, None
        self._open_lock = threading.Lock()

    def _validate(self):
        if not self.path.is_file():
            raise FileNotFoundError(
                f"No HDF5 file at {str(self.path)[:100]}. Check the path, or build "
                f"the course data with `make data`.")
        with h5py.File(self.path, "r") as file:
            lengths = {}
            for name in filter(None, (self.images_name, self.labels_name)):
                if name not in file or not isinstance(file[name], h5py.Dataset):
                    raise ValueError(
                        f"{self.path} has no dataset {name!r}. Datasets in the "
                        f"file: {', '.join(_dataset_names(file))[:100]}. Pass their "
                        f"names as `images=` and `labels=`.")
                lengths[name] = len(file[name])
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise ValueError(
                f"{self.path}: expected images and labels of the same non-zero "
                f"length, received {lengths}. Check that the names belong together.")
        return next(iter(lengths.values()))

    def _readers(self):
        """`(images, labels)` row readers of this process; opens the file on first use."""
        if self._pid != os.getpid():
            with self._open_lock:
                if self._pid != os.getpid():
                    self._file = h5py.File(self.path, "r")
                    labels = self._file[self.labels_name] if self.labels_name else None
                    self._row_readers = (
                        RowReader(self._file[self.images_name], self.direct_reads),
                        None if labels is None else self._labels_reader(labels))
                    self._pid = os.getpid()
        return self._row_readers

    def _labels_reader(self, labels):
        """Labels are small: read them once per process, unless they exceed 64 MiB
        (masks used as labels, say), which are streamed like the images."""
        if labels.nbytes <= 64 * 2**20:
            return labels[:].__getitem__
        return RowReader(labels, self.direct_reads)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_file=None, _row_readers=None, _pid=None, _open_lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open_lock = threading.Lock()

    def read(self, positions):
        images, labels = self._readers()
        x = images(positions)
        if self.preprocess is not None:
            x = self.preprocess(x)
        if labels is None:
            return (x,)
        return x, labels(positions)


class NpyDirectoryDataset(SampledDataset):
    """Streams batches from a folder of one `.npy` file per sample.

    The classic layout: `<folder>/<id>.npy` per sample, a list of ids per
    split (`partition.json`) and a dict from id to class (`labels.json`).

    Args:
        folder: the folder holding `<id>.npy` files.
        ids: the sample ids of this split, e.g. `partition["train"]`.
        labels: dict from id to integer class, or `None` to yield only images.
        batch_size: samples per batch.
        shuffle: `"none"` or `"full"` (the default).
        seed: seed of the epoch orders.
        label_mode: `"sparse"` (integer labels) or `"one_hot"` (float32
            vectors of length `n_classes`).
        n_classes: number of classes; required for `"one_hot"`.
        drop_last: see `sampling.BatchSampler`.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Raises:
        ValueError: if `ids` is empty, an id has no label, a label is out of
            range, or `label_mode` is unknown.
        FileNotFoundError: when a batch needs a `.npy` file that is missing.

    Example:

    >>> partition, labels = datasets.read_partition("data/lesson/npy")
    >>> train = NpyDirectoryDataset("data/lesson/npy", partition["train"], labels,
    ...                             batch_size=64, seed=1)
    """

    def __init__(self, folder, ids, labels=None, batch_size=32, shuffle="full",
                 seed=None, label_mode="sparse", n_classes=None, drop_last=False,
                 **kwargs):
        self.folder = Path(folder)
        self.ids = list(ids)
        if not self.ids:
            raise ValueError(f"No sample ids given for {str(self.folder)[:100]}.")
        if label_mode not in ("sparse", "one_hot"):
            raise ValueError(
                f"label_mode must be 'sparse' or 'one_hot', received {label_mode!r}.")
        self.label_mode, self.n_classes = label_mode, n_classes
        self.labels = None if labels is None else self._label_array(labels)
        super().__init__(len(self.ids), batch_size, shuffle, seed, drop_last, **kwargs)

    def _label_array(self, labels):
        missing = [i for i in self.ids if i not in labels]
        if missing:
            raise ValueError(
                f"{len(missing)} id(s) have no label, e.g. {str(missing[:3])[:100]}. "
                f"Every id in `ids` needs an entry in `labels`.")
        values = np.array([labels[i] for i in self.ids], dtype=np.int64)
        if self.label_mode == "one_hot" and not self.n_classes:
            raise ValueError("label_mode='one_hot' needs n_classes.")
        limit = self.n_classes or values.max() + 1
        if values.min() < 0 or values.max() >= limit:
            raise ValueError(
                f"Labels must lie in [0, {limit}), received values from "
                f"{values.min()} to {values.max()}. Use class indices from 0.")
        return values

    def read(self, positions):
        x = load_npy_batch(self.folder, [self.ids[p] for p in positions])
        if self.labels is None:
            return (x,)
        y = self.labels[positions]
        if self.label_mode == "one_hot":
            y = np.eye(self.n_classes, dtype=np.float32)[y]
        return x, y


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
            raise FileNotFoundError(
                f"Missing sample file {path}. Rebuild the folder (`make data`) "
                f"or remove {name!r} from the ids.") from None
    return np.stack(images)


def to_float32(images):
    """Converts a batch of uint8 images to float32 in [0, 1], in place.

    Example:

    >>> to_float32(np.full((1, 2, 2, 3), 255, np.uint8)).max()
    1.0
    """
    images = images.astype(np.float32)
    images /= 255
    return images


class ThreadSafeIterator:
    """Wraps an iterator so that several threads can call `next` on it.

    A Python generator raises `ValueError: generator already executing` when
    two threads advance it at once; a lock around `next` makes them take
    turns.

    Args:
        iterator: any iterator, typically a generator object.

    Example:

    >>> batches = ThreadSafeIterator(batch_generator(x, y, 32))
    """

    def __init__(self, iterator):
        self._iterator = iter(iterator)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._iterator)


def threadsafe_generator(generator_function):
    """Decorator: the generator function returns a `ThreadSafeIterator`.

    Example:

    >>> @threadsafe_generator
    ... def numbers():
    ...     yield from range(3)
    >>> list(numbers())
    [0, 1, 2]
    """

    def wrapper(*args, **kwargs):
        return ThreadSafeIterator(generator_function(*args, **kwargs))

    wrapper.__name__ = generator_function.__name__
    wrapper.__doc__ = generator_function.__doc__
    return wrapper
