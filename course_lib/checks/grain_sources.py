"""Checkers of the Grain lesson: a pipeline's epochs, and a Grain source over HDF5."""

import pickle
import tempfile

import h5py
import numpy as np

from course_lib.checks.loaders import id_coded_file
from course_lib.checks.report import Findings

PICKLE_LIMIT = 64 * 1024
"""A source sent to a worker process pickles as its path: a few hundred bytes, far
below this, and below half the checker's small file."""


class _IdSource:
    """A Grain source of `(id, label)`, labels sorted by class like a class-sorted file."""

    def __init__(self, n, n_classes):
        self.n, self.labels = n, np.arange(n) * n_classes // n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.int64(index), np.int64(self.labels[index])

    def __repr__(self):
        return f"a source of {self.n} class-sorted samples"


def _epochs(found, dataset, n_epochs, steps):
    """The ids of `n_epochs` epochs of `steps` batches from one iterator of `dataset`."""
    iterator, epochs = iter(dataset), []
    for epoch in range(n_epochs):
        batches = []
        for step in range(steps):
            try:
                batch = next(iterator)
            except StopIteration:
                found.stop(
                    f"The dataset ended after {epoch * steps + step} batches (epoch {epoch}): "
                    f"fit with steps_per_epoch reads one iterator through every epoch, so "
                    f"add .repeat() (or fit warns 'Your input ran out of data' and stops)."
                )
            if not isinstance(batch, tuple | list) or len(batch) != 2:
                found.stop(
                    f"A batch is {type(batch).__name__}, not (ids, labels): map or batch the "
                    f"source's (id, label) pairs without changing them."
                )
            batches.append((np.asarray(batch[0]).ravel(), np.asarray(batch[1]).ravel()))
        epochs.append(batches)
    return epochs


def check_grain_epochs(
    make_dataset, n_samples=600, batch_size=30, n_classes=3, epochs=3, verbose=True
):
    """Checks a learner's Grain pipeline for `fit`: every epoch a new permutation.

    Calls `make_dataset(source, batch_size, seed)` with a Grain source of
    `(id, label)` pairs sorted by class, and reads `epochs` epochs of
    `n_samples / batch_size` batches from one iterator, as `fit` does with
    `steps_per_epoch`. Each epoch must hold every sample once with its own
    label, in a shuffled order that changes every epoch (new batches, not
    the same batches reordered), the same seed must give the same epochs and
    another seed other ones.

    Returns:
        A `Report`.
    """
    import grain

    found = Findings()
    steps = n_samples // batch_size
    with found:
        source = _IdSource(n_samples, n_classes)
        made = found.call(
            "make_dataset(source, batch_size, seed)", make_dataset, source, batch_size, 0
        )
        if not isinstance(made, grain.MapDataset | grain.IterDataset | grain.DataLoader):
            found.stop(
                f"make_dataset returned {type(made).__name__}, not a Grain dataset: start from "
                f"grain.MapDataset.source(source)."
            )
        seen = _epochs(found, made, epochs, steps)
        for epoch, batches in enumerate(seen):
            ids = np.concatenate([b[0] for b in batches])
            labels = np.concatenate([b[1] for b in batches])
            if ids.min() < 0 or ids.max() >= n_samples:
                found.stop(f"Epoch {epoch} holds ids outside [0, {n_samples}).")
            if not np.array_equal(labels, source.labels[ids]):
                found.stop(f"Epoch {epoch}: some labels do not belong to their samples.")
            counts = np.bincount(ids, minlength=n_samples)
            if (counts != 1).any():
                found.stop(
                    f"Epoch {epoch} holds {np.count_nonzero(counts > 1)} samples more than once "
                    f"and misses {np.count_nonzero(counts == 0)}: shuffle the source's indices "
                    f"before .repeat(), so each epoch is one permutation of them."
                )
            if np.array_equal(ids, np.arange(n_samples)):
                found.stop(
                    f"Epoch {epoch} is in file order: on a class-sorted file every batch is one "
                    f"class. Add .shuffle(seed=...)."
                )
        orders = [np.concatenate([b[0] for b in batches]) for batches in seen]
        if any(np.array_equal(orders[0], later) for later in orders[1:]):
            found.add(
                "Every epoch has the same order: Keras starts from the same point of the "
                "shuffle each time. Shuffle, then .repeat(), and fit with steps_per_epoch."
            )
        compositions = [{tuple(np.sort(b[0])) for b in batches} for batches in seen]
        if len(seen) > 1 and compositions[0] == compositions[1]:
            found.add(
                "Every epoch is made of the same batches, only reordered: shuffle the samples "
                "before .batch(), not the batches after it."
            )
        again = found.call(
            "make_dataset(source, batch_size, seed)", make_dataset, source, batch_size, 0
        )
        first = np.concatenate([b[0] for b in _epochs(found, again, 1, steps)[0]])
        if not np.array_equal(first, orders[0]):
            found.add(
                "The same seed gave another first epoch: pass seed to .shuffle(seed=seed), "
                "so a run can be repeated."
            )
        else:
            other = found.call(
                "make_dataset(source, batch_size, seed=1)", make_dataset, source, batch_size, 1
            )
            if np.array_equal(
                np.concatenate([b[0] for b in _epochs(found, other, 1, steps)[0]]), first
            ):
                found.add(
                    "Seeds 0 and 1 gave the same first epoch: the seed argument is ignored. "
                    "Pass it on: .shuffle(seed=seed)."
                )
    return found.report(
        f"{epochs} epochs of {steps} batches, each a new permutation of all {n_samples} "
        f"samples, repeatable from the seed.",
        verbose,
    )


def _held_handles(source):
    """Names of the source's attributes that hold an open h5py object."""
    return [
        name
        for name, value in vars(source).items()
        if isinstance(value, h5py.File | h5py.Dataset | h5py.Group)
    ]


def _global_handles(source):
    """Names of module-level h5py objects that the source's `__getitem__` reads through."""
    method = getattr(type(source), "__getitem__", None)
    code, names = getattr(method, "__code__", None), getattr(method, "__globals__", {})
    return [
        name
        for name in (code.co_names if code else ())
        if isinstance(names.get(name), h5py.File | h5py.Dataset | h5py.Group)
    ]


def check_grain_source(source_class, n_samples=300, n_classes=3, verbose=True):
    """Checks a learner's Grain source over an HDF5 file: lazy, picklable, right rows.

    Builds `source_class(path, "train")` over a file whose `train/images` row
    `i` holds the number `i` and whose `train/labels` are sorted by class.
    The source must have one item per row, `source[i] == (image i, label i)`,
    open the file lazily (no h5py object held after `__init__`, none read
    through a module-level handle opened before the workers start) and pickle
    small, as its path, before and after reading, so Grain's worker processes
    can each open their own handle.

    Returns:
        A `Report`.
    """
    found = Findings()
    name = getattr(source_class, "__name__", "source_class")
    with tempfile.TemporaryDirectory() as folder, found:
        path = id_coded_file(folder, n_samples, n_classes, prefix="train/")
        with h5py.File(path, "r") as file:
            labels = file["train/labels"][:]
            limit = min(PICKLE_LIMIT, file["train/images"].nbytes // 2)
        source = found.call(f'{name}(path, "train")', source_class, path, "train")
        held = _held_handles(source)
        if held:
            found.add(
                f"{name}.__init__ keeps an open h5py object in self.{held[0]}: it cannot be "
                f"pickled for a worker process, and a forked worker would share its parent's "
                f"handle. Keep the path; open the file on the first read, once per process."
            )
        length = found.call(f"len({name}(...))", len, source)
        if length != n_samples:
            found.stop(f"len(source) is {length}; the split has {n_samples} rows.")
        for index in (0, n_samples // 2, n_samples - 1, 7):
            item = found.call(f"source[{index}]", source.__getitem__, index)
            if not isinstance(item, tuple | list) or len(item) != 2:
                found.stop(f"source[{index}] is {type(item).__name__}, not (image, label).")
            image, label = np.asarray(item[0]), item[1]
            if image.shape != (2, 2, 1) or not (image == index).all():
                found.stop(
                    f"source[{index}] is not row {index} of train/images (its pixels say "
                    f"{np.unique(image)[:3]}): read file['train/images'][index]."
                )
            if int(label) != labels[index]:
                found.stop(f"source[{index}] has label {label}, the file {labels[index]}.")
        shared = _global_handles(source)
        if shared:
            found.add(
                f"{name}.__getitem__ reads through {shared[0]}, an h5py object opened at "
                f"module level: a forked worker shares the parent's handle (HDF5 handles do "
                f"not survive a fork), a spawned one has none. Open the file inside the "
                f"source, on its first read, so each process opens its own."
            )
        try:
            size = len(pickle.dumps(source))  # after reading: with its handle open
        except Exception as error:
            found.stop(
                f"The source cannot be pickled once it has read ({type(error).__name__}: "
                f"{str(error)[:80]}): Grain sends it to its worker processes. Leave the "
                f"h5py handle out of the pickled state (__getstate__), or open it per read."
            )
        if size > limit:
            found.add(
                f"The source pickles to {size:,} bytes: it holds the data itself, which "
                f"every worker would copy. Keep only the path and read rows on demand."
            )
        copy = pickle.loads(pickle.dumps(source))
        item = found.call("a pickled copy's source[5]", copy.__getitem__, 5)
        if not (np.asarray(item[0]) == 5).all():
            found.add("A pickled copy reads other rows than the original.")
    return found.report(
        f"{n_samples} rows as (image, label), opened lazily, pickled as a path.", verbose
    )
