"""Checkers of the Grain lesson: a pipeline's epochs, and a Grain source over HDF5."""

import math
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


def _check_fit_kwargs(found, fit_kwargs, n_samples, batch_size):
    """Checks the keyword arguments for `fit`: the epoch's length, and Grain's order."""
    steps = math.ceil(n_samples / batch_size)
    if not isinstance(fit_kwargs, dict):
        found.stop(
            f"fit_kwargs is {type(fit_kwargs).__name__}, not a dict of fit's keyword arguments "
            f"(steps_per_epoch=..., shuffle=...)."
        )
    given = fit_kwargs.get("steps_per_epoch")
    if given is None:
        found.add(
            "fit_kwargs has no steps_per_epoch: fit then makes a new iterator every epoch (the "
            "first epoch's order again) and warns that the input ran out of data, or never ends "
            "an epoch of an endless dataset. Give it the number of batches in an epoch."
        )
    elif given == n_samples // batch_size:
        found.add(
            f"steps_per_epoch is {given}, but {n_samples} samples in batches of {batch_size} make "
            f"{steps} batches, the last of {n_samples % batch_size}: round up (math.ceil), or "
            f"every epoch leaves its last batch to the next and fit's epochs drift."
        )
    elif given != steps:
        found.add(f"steps_per_epoch is {given}; an epoch here has {steps} batches.")
    if fit_kwargs.get("shuffle", True) is not False:
        found.add(
            "fit_kwargs does not set shuffle=False: fit's default shuffle=True does not apply "
            "to a Grain dataset, so Keras warns and ignores it. The order is Grain's."
        )


def _each_sample_once(found, orders, n_samples):
    """Stops unless each epoch's ids are one permutation of the samples."""
    for epoch, ids in enumerate(orders):
        counts = np.bincount(ids, minlength=n_samples)
        if (counts != 1).any():
            found.stop(
                f"Epoch {epoch} holds {np.count_nonzero(counts > 1)} samples more than once "
                f"and misses {np.count_nonzero(counts == 0)}: shuffle the source's indices "
                f"before .repeat(), so each epoch is one permutation of them."
            )


def check_grain_epochs(
    make_input, n_samples=610, batch_size=30, n_classes=3, epochs=3, verbose=True
):
    """Checks a learner's Grain input for `fit`: a new permutation every epoch, epochs apart.

    Calls `make_input(source, batch_size, seed)`, which returns `(dataset,
    fit_kwargs)`: Grain batches of `(ids, labels)` over `source` (pairs sorted
    by class) and the keyword arguments `fit` needs with them. `n_samples` is
    not a multiple of `batch_size`, so an epoch ends with a smaller batch.
    Reads `epochs` epochs from one iterator, as `fit` does with
    `steps_per_epoch`. Each epoch must hold every sample once with its own
    label, in a shuffled order that changes every epoch (new batches, not the
    same batches reordered), end with its own last batch (no batch holds two
    epochs); `fit_kwargs` must give the epoch's length and `shuffle=False`; the
    same seed must give the same epochs and another seed other ones.

    Args:
        make_input: the learner's function.
        n_samples, batch_size, n_classes, epochs: the source and what is read.
        verbose: print the report.

    Returns:
        A `Report`.
    """
    import grain

    found = Findings()
    steps = math.ceil(n_samples / batch_size)
    with found:
        source = _IdSource(n_samples, n_classes)
        made = found.call("make_input(source, batch_size, seed)", make_input, source, batch_size, 0)
        if not isinstance(made, tuple | list) or len(made) != 2:
            found.stop(
                f"make_input returned {type(made).__name__}, not (dataset, fit_kwargs): the "
                f"Grain dataset and a dict of the keyword arguments fit gets with it."
            )
        dataset, fit_kwargs = made
        if not isinstance(dataset, grain.MapDataset | grain.IterDataset | grain.DataLoader):
            found.stop(
                f"The dataset is {type(dataset).__name__}, not a Grain dataset: start from "
                f"grain.MapDataset.source(source)."
            )
        _check_fit_kwargs(found, fit_kwargs, n_samples, batch_size)
        seen = _epochs(found, dataset, epochs, steps)
        orders = [np.concatenate([b[0] for b in batches]) for batches in seen]
        for epoch, (batches, ids) in enumerate(zip(seen, orders, strict=True)):
            labels = np.concatenate([b[1] for b in batches])
            if ids.min() < 0 or ids.max() >= n_samples:
                found.stop(f"Epoch {epoch} holds ids outside [0, {n_samples}).")
            if not np.array_equal(labels, source.labels[ids]):
                found.stop(f"Epoch {epoch}: some labels do not belong to their samples.")
        _each_sample_once(found, [orders[0][:n_samples]], n_samples)  # epochs may cross
        sizes = [[len(b[0]) for b in batches] for batches in seen]
        for epoch, epoch_sizes in enumerate(sizes):
            if epoch_sizes == [batch_size] * steps:
                found.stop(
                    f"Epoch {epoch}'s last batch is full: it holds the end of epoch {epoch} and "
                    f"the start of the next, so samples cross from one epoch to another. "
                    f".batch() before .repeat() ends each epoch with its own smaller batch."
                )
        _each_sample_once(found, orders, n_samples)
        if np.array_equal(orders[0], np.arange(n_samples)):
            found.stop(
                "Epoch 0 is in file order: on a class-sorted file every batch is one class. "
                "Add .shuffle(seed=...)."
            )
        if any(np.array_equal(orders[0], later) for later in orders[1:]):
            found.stop(
                "Every epoch has the same order: Keras starts from the same point of the "
                "shuffle each time. Shuffle, then .repeat(), and fit with steps_per_epoch."
            )
        compositions = [{tuple(np.sort(b[0])) for b in batches} for batches in seen]
        if compositions[0] == compositions[1]:
            found.stop(
                "Every epoch is made of the same batches, only reordered: shuffle the samples "
                "before .batch(), not the batches after it."
            )
        expected = [batch_size] * (steps - 1) + [n_samples - batch_size * (steps - 1)]
        for epoch, epoch_sizes in enumerate(sizes):
            if epoch_sizes != expected:
                found.stop(
                    f"Epoch {epoch}'s batches hold {epoch_sizes} samples; expected {steps - 1} "
                    f"of {batch_size} and a last one of {expected[-1]}."
                )
        again = found.call(
            "make_input(source, batch_size, seed)", make_input, source, batch_size, 0
        )
        first = np.concatenate([b[0] for b in _epochs(found, again[0], 1, steps)[0]])
        if not np.array_equal(first, orders[0]):
            found.add(
                "The same seed gave another first epoch: pass seed to .shuffle(seed=seed), "
                "so a run can be repeated."
            )
        else:
            other = found.call(
                "make_input(source, batch_size, seed=1)", make_input, source, batch_size, 1
            )
            if np.array_equal(
                np.concatenate([b[0] for b in _epochs(found, other[0], 1, steps)[0]]), first
            ):
                found.add(
                    "Seeds 0 and 1 gave the same first epoch: the seed argument is ignored. "
                    "Pass it on: .shuffle(seed=seed)."
                )
    return found.report(
        f"{epochs} epochs of {steps} batches, each a new permutation of all {n_samples} "
        f"samples ending with its own batch of {n_samples % batch_size}, fit told the epoch's "
        f"length and Grain's order, repeatable from the seed.",
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
