"""Checkers for loaders the learner writes: PyDatasets, generators, block reads."""

import collections
import itertools
import pickle
import tempfile
from pathlib import Path

import h5py
import numpy as np

from course_lib.checks.report import Findings, H5pyReads, Stop, fingerprints, first_array, runs
from course_lib.formats import atomic


def _epoch(ds, found, n_classes):
    """Reads every batch of one epoch; returns sample fingerprints, batch sizes and labels."""
    prints, sizes, labels = [], [], []
    for index in range(len(ds)):
        batch = found.call(f"ds[{index}]", ds.__getitem__, index)
        if not isinstance(batch, tuple) or len(batch) not in (2, 3):
            found.stop(
                f"ds[{index}] returned {type(batch).__name__}, but Keras expects a "
                f"tuple (inputs, labels); end __getitem__ with `return x, y`."
            )
        x, y = first_array(batch[0]), np.asarray(batch[1])
        if index == 0 and x.dtype == np.float64:
            found.add(
                "ds[0]'s inputs are float64: 8 bytes a value, 8 times the uint8 pixels on "
                "disk (lesson 01). Return the pixels as stored (the kit's models rescale "
                "them) or as float32 (`astype('float32')`)."
            )
        if len(x) == 0:
            found.add(
                f"ds[{index}] is empty, so Keras would fail on it with an unrelated "
                f"shape error; __len__ returns {len(ds)}, at least one batch too "
                f"many. Use math.ceil(n_samples / batch_size)."
            )
            continue
        if len(x) != len(y):
            found.stop(
                f"ds[{index}] has {len(x)} inputs but {len(y)} labels; both must "
                f"come from the same sample ids."
            )
        prints += fingerprints(x)
        sizes.append(len(x))
        classes = y.argmax(-1) if y.ndim == 2 else y
        _check_labels(found, f"ds[{index}]", classes, n_classes)
        labels += classes.reshape(len(x)).tolist()
    return prints, sizes, labels


def _same_labels(found, first, first_labels, second, second_labels):
    """Adds a problem when a sample comes with another label in the second epoch."""
    label_of = dict(zip(first, first_labels))
    moved = [p for p, label in zip(second, second_labels) if label_of.get(p, label) != label]
    if moved:
        found.add(
            f"{len(moved)} of {len(second)} samples came with another label in the second "
            f"epoch than in the first: the labels no longer follow their images. Shuffle "
            f"the ids once, then read each batch's images and labels with the same ids "
            f"(never one shuffle for the images and another, or none, for the labels)."
        )


def _check_labels(found, where, labels, n_classes):
    """Stops on labels that are not class indices in range."""
    if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
        found.stop(
            f"{where} labels are {labels.dtype} with fractions; sparse labels "
            f"must be whole class indices."
        )
    if len(labels) and labels.min() < 0:
        found.stop(f"{where} has a negative label ({labels.min()}).")
    if n_classes is not None and len(labels) and labels.max() >= n_classes:
        found.stop(
            f"{where} has label {labels.max()} but there are only "
            f"{n_classes} classes (0 to {n_classes - 1})."
        )


def _missing_samples(n_samples, unique, sizes, length):
    """One sentence on samples that never appear, with the cause the numbers fit."""
    missing = n_samples - unique
    said = f"{missing} of {n_samples} samples never appear in an epoch."
    batch = max(sizes, default=0)
    if (
        batch
        and set(sizes) == {batch}
        and length == n_samples // batch
        and missing == n_samples % batch
    ):
        return (
            f"{said} __len__ rounds down ({length} full batches of {batch}); use "
            f"math.ceil(n_samples / batch_size) so the last, smaller batch is kept."
        )
    counts = collections.Counter(sizes)
    shape = ", ".join(f"{count} of {size}" for size, count in sorted(counts.items(), reverse=True))
    return (
        f"{said} The epoch served {sum(sizes)} samples in batches of these sizes: "
        f"{shape}. Check how __getitem__ slices the ids for each index."
    )


def _padded_last_batch(prints, sizes, n_samples, length):
    """`(batch, left)` when the last batch was padded to a full one, else None: all batches
    full, len rounded up, a remainder, and every repeat in the last batch (its extra rows are
    whatever the array held, or zeros)."""
    batch = max(sizes, default=0)
    left = n_samples % batch if batch else 0
    if not left or set(sizes) != {batch} or length != -(-n_samples // batch):
        return None
    before_last = prints[:-batch]
    return (batch, left) if len(set(before_last)) == len(before_last) else None


def _once_per_epoch(found, prints, sizes, n_samples, length, fix_twice):
    """Adds the problems of one epoch's fingerprints; True when complete."""
    served, unique = len(prints), len(set(prints))
    padded = _padded_last_batch(prints, sizes, n_samples, length)
    if padded and unique < served:
        batch, left = padded
        found.add(
            f"The last batch has {batch} rows, but only {left} samples are left for it: its "
            f"other {batch - left} rows are whatever the array held (np.empty) or zeros, so "
            f"samples seem to come twice. Size each batch by the ids it gets: "
            f"np.stack([...]) over them, or np.empty((len(batch_ids), ...))."
        )
    elif unique < served:
        found.add(f"{served - unique} sample(s) came twice in one epoch; {fix_twice}")
    if unique < n_samples:
        found.add(_missing_samples(n_samples, unique, sizes, length))
    elif served > n_samples:
        found.add(f"An epoch served {served} samples, more than the {n_samples} expected.")
    return unique == served == n_samples


def _workers(found, ds, workers):
    """Checks the Keras worker settings, and that the loader survives pickling."""
    if getattr(ds, "workers", 1) != workers:
        found.add(
            f"ds.workers is {getattr(ds, 'workers', 1)}, expected {workers}: pass "
            f"workers={workers} through **kwargs to super().__init__."
        )
    try:
        pickle.loads(pickle.dumps(ds))
    except Exception as error:  # the learner's object: report, do not raise
        found.stop(
            f"The loader cannot be pickled ({type(error).__name__}: {str(error)[:120]}), so "
            f"process workers cannot receive it. Keep a path in __init__ and open "
            f"files lazily, once per process, in __getitem__."
        )


def _follows_order(found, ds):
    """Adds a problem unless `ds.order` (positions into the ids) decides what ds[0] serves;
    returns True (for `Findings.call`)."""
    saved = ds.order
    try:
        n = len(saved)
        served = []
        for order in (np.arange(n), np.arange(n)[::-1]):
            ds.order = order
            served.append(fingerprints(first_array(ds[0][0])))
    finally:
        ds.order = saved
    if served[0] == served[1]:
        found.add(
            "ds[0] served the same samples whatever self.order held: __getitem__ must take "
            "its ids through self.order (ids[self.order[i]] for the batch's positions i), "
            "which exercise 3.2 sets."
        )
    return True


def _attributes(found, ds, attributes):
    """Adds a problem for each attribute the next exercise builds on that `ds` lacks."""
    missing = [name for name in attributes if not hasattr(ds, name)]
    if missing:
        found.add(
            f"The loader has no attribute {', '.join(f'self.{name}' for name in missing)}, "
            f"which the next exercise builds on: keep the epoch's order (positions into the "
            f"ids) in self.order and the seed in self.seed."
        )
    elif "order" in attributes:
        found.call("reading ds[0] in two orders", _follows_order, found, ds)


def check_dataset(
    ds, n_samples, n_classes=None, shuffled=True, workers=None, attributes=(), verbose=True
):
    """Checks a learner's `PyDataset` and says in plain words what is wrong.

    Reads two epochs (calling `on_epoch_end` in between, as Keras does) and
    checks that `super().__init__(**kwargs)` was called, that `len(ds)` counts
    every batch, that batches are `(inputs, labels)` tuples of matching
    length with valid labels and inputs that are not float64, that every
    sample appears exactly once per epoch (so the last partial batch is kept,
    and not padded to a full one), that each sample keeps its label from one
    epoch to the next, and, when `shuffled`, that the second epoch comes in a
    new order. Samples are told apart by the bytes of
    their first input, so they must differ from one another.

    Args:
        ds: the dataset to check.
        n_samples: how many samples it should serve per epoch.
        n_classes: if given, labels must lie in `[0, n_classes)`.
        shuffled: whether the order should change between epochs.
        workers: if given, `ds.workers` must equal it, and the loader must
            survive pickling (Keras sends it to its process workers, again
            every epoch, after calling `on_epoch_end` in the main process).
        attributes: names the loader must have because a later exercise
            builds on them; with `"order"`, `ds[0]` must follow `ds.order`.
        verbose: print the report.

    Returns:
        A `Report`; `report.ok` is True when nothing is wrong.

    Example:

    ```python
    check_dataset(MyDataset(ids, labels, batch_size=32), n_samples=len(ids))
    # -> All checks passed: all 1,000 samples once per epoch, reshuffled, last batch kept.
    ```
    """
    found = Findings()
    with found:
        found.require(ds, "The dataset")
        if not isinstance(vars(ds).get("_workers"), int):
            found.add(
                "__init__ does not call super().__init__(**kwargs), so Keras cannot "
                "set workers, use_multiprocessing or max_queue_size; add it as the "
                "first line of __init__."
            )
        length = found.call("len(ds)", len, ds)
        if length == 0:
            found.stop(
                f"len(ds) is 0, so Keras would train on nothing; with {n_samples} "
                f"samples use math.ceil(n_samples / batch_size)."
            )
        first, sizes, first_labels = _epoch(ds, found, n_classes)
        complete = _once_per_epoch(
            found,
            first,
            sizes,
            n_samples,
            length,
            "each batch must take its own slice of the ids, e.g. "
            "ids[i * batch_size:(i + 1) * batch_size].",
        )
        found.call("ds.on_epoch_end()", lambda: ds.on_epoch_end() or True)
        second, _, second_labels = _epoch(ds, found, n_classes)
        _same_labels(found, first, first_labels, second, second_labels)
        if complete and sorted(second) != sorted(first):
            found.add(
                "The second epoch served different samples than the first; "
                "on_epoch_end should reorder the ids, not change them."
            )
        elif shuffled and second == first and len(first) > 1:
            found.add(
                "The second epoch came in the same order as the first; shuffle the "
                "ids in on_epoch_end (or pass a new seed per epoch)."
            )
        if workers is not None:
            _workers(found, ds, workers)
        _attributes(found, ds, attributes)
    success = (
        f"all {n_samples:,} samples once per epoch, "
        + ("reshuffled, " if shuffled else "")
        + "last batch kept"
        + (f", ready for {workers} workers." if workers else ".")
    )
    return found.report(success, verbose)


ID_IMAGE_SHAPE = (2, 2, 1)
"""The shape of an image of `id_coded_file`."""


def _holds_no_images(found, ds, n_samples, image_shape):
    """Adds a problem when the loader keeps half the split's images or more in memory."""
    held = 0
    for value in vars(ds).values():
        parts = value if isinstance(value, (list, tuple)) else [value]
        for part in parts:
            if isinstance(part, np.ndarray) and part.shape[-len(image_shape) :] == image_shape:
                held += part.size // int(np.prod(image_shape))
    if held >= n_samples / 2:
        found.add(
            f"The loader holds {held:,} of the {n_samples:,} images in memory (read in "
            f"__init__): a split bigger than memory cannot be loaded that way. Keep the path "
            f"and read each batch's rows from the file in __getitem__."
        )


def id_coded_file(folder, n_samples=1000, n_classes=3, name="ids.h5", prefix=""):
    """Writes an HDF5 file whose image `i` holds the number `i`, sorted by class.

    `images` is int32 `(n, 2, 2, 1)`, every pixel of row `i` equal to `i`;
    `labels` are sorted (`i * n_classes // n`), like a file written one class
    after another. Checkers read a batch's row numbers back from its pixels.
    `prefix` goes before both names (`"train/"`: the course file's layout).

    Returns:
        The path of the file (rewritten on each call, even while an earlier
        one is still open).
    """
    path = Path(folder) / name
    ids = np.arange(n_samples, dtype=np.int32)
    # Written beside and renamed over: a check cell run twice may still hold
    # the previous file open, and HDF5 cannot truncate an open file.
    partial = atomic.partial_path(path)
    with h5py.File(partial, "w") as file:
        images = np.broadcast_to(ids[:, None, None, None], (n_samples, *ID_IMAGE_SHAPE))
        file[f"{prefix}images"] = images
        file.create_dataset(f"{prefix}labels", data=ids * n_classes // n_samples)
    partial.replace(path)
    return path


def check_block_loader(loader_class, batch_size=64, block_size=8, n_samples=1000, verbose=True):
    """Checks a learner's HDF5 loader with a block shuffle, on a file it writes.

    Builds `loader_class(path, batch_size=..., block_size=..., seed=0)` over
    `id_coded_file` (datasets `images` and `labels`), runs `check_dataset`
    on it, then reads which rows each batch took: a block shuffle takes a
    few runs of consecutive rows per batch (about `batch_size / block_size`),
    from random places, in a new order each epoch.

    Returns:
        A `Report`.
    """
    found, counts = Findings(), []
    with tempfile.TemporaryDirectory() as folder:
        with found:
            path = id_coded_file(folder, n_samples)
            ds = found.call(
                f"{getattr(loader_class, '__name__', 'loader_class')}(path, ...)",
                loader_class,
                path,
                batch_size=batch_size,
                block_size=block_size,
                seed=0,
            )
            report = check_dataset(ds, n_samples, n_classes=3, verbose=False)
            found.problems += report.problems
            if not report.ok:
                raise Stop
            _holds_no_images(found, ds, n_samples, ID_IMAGE_SHAPE)
            try:
                pickle.loads(pickle.dumps(ds))
            except Exception as error:  # the learner's object: report, do not raise
                found.add(
                    f"The loader cannot be pickled once it has read a batch "
                    f"({type(error).__name__}: {str(error)[:80]}), so process workers "
                    f"cannot receive it: an h5py.File opened in __init__ (or kept) goes "
                    f"with it. Open the file on the first read, and leave it out of "
                    f"pickling (__getstate__)."
                )
            with H5pyReads() as seen:
                batches = [ds[i] for i in range(len(ds))]
            counts = [runs(first_array(x)[:, 0, 0, 0]) for x, *_ in batches]
            _labels_belong(found, batches, lambda rows: rows * 3 // n_samples)
            if seen.fancy("images"):
                found.add(
                    f"{seen.fancy('images')} reads of /images used a fancy index "
                    f"(images[rows] with an array of rows): that is the naive recipe "
                    f"lesson 05 measured, one small read per row inside HDF5. Read each "
                    f"run of consecutive rows with one slice, images[start:stop], and "
                    f"concatenate."
                )
            expected = -(-batch_size // block_size)
            mean = float(np.mean(counts))
            if mean > 2 * expected:
                found.add(
                    f"A batch takes {mean:.0f} runs of consecutive rows on average, about one "
                    f"per sample: that is a full shuffle, one read per row. Shuffle the order "
                    f"of blocks of {block_size} rows, and read each block with one slice."
                )
            elif expected > 2 and mean <= 2:
                found.add(
                    f"A batch takes {mean:.1f} runs of consecutive rows on average, so on a file "
                    f"sorted by class (like this one) most batches hold a single class. Build "
                    f"each batch from several blocks of {block_size} rows from random places."
                )
    return found.report(
        f"every sample once per epoch, reshuffled, {np.mean(counts or [0]):.1f} contiguous "
        f"reads per batch "
        f"(a block shuffle's {-(-batch_size // block_size)}; a full shuffle would need "
        f"{batch_size}).",
        verbose,
    )


def _labels_belong(found, batches, label_of_row):
    """Adds a problem when a batch's labels are not those of its images (`id_coded_file`'s
    rows, read back from the pixels)."""
    for index, (x, y, *_) in enumerate(batches):
        rows = first_array(x)[:, 0, 0, 0].astype(np.int64)
        wrong = np.flatnonzero(np.asarray(y).reshape(len(rows)) != label_of_row(rows))
        if len(wrong):
            found.add(
                f"Batch {index}: {len(wrong)} of {len(rows)} labels do not belong to their "
                f"images (row {rows[wrong[0]]} has class {label_of_row(rows[wrong[:1]])[0]}, "
                f"the batch says {np.asarray(y).reshape(-1)[wrong[0]]}). Read images and labels "
                f"with the same rows, after one shuffle of the ids, never one shuffle each."
            )
            return


def check_generator(
    make_batches, images, labels, batch_size, steps_per_epoch, epochs=3, shuffled=True, verbose=True
):
    """Checks a learner's batch generator for `fit(..., steps_per_epoch=...)`.

    Calls `make_batches(images, labels, batch_size)` once, then draws
    `steps_per_epoch * epochs` batches, as `fit` does: it must never run
    out, each epoch's batches must hold every sample once, each with its own
    label (a label is matched to its image by the image's bytes). When
    `shuffled`, each epoch comes in a new order and no batch holds a single
    class when the data has several (the fix for class-sorted files); when
    not, every epoch comes in the order of `images` (a validation generator).

    Returns:
        A `Report`.
    """
    found = Findings()
    with found:
        batches = found.call(
            "make_batches(images, labels, batch_size)", make_batches, images, labels, batch_size
        )
        if not hasattr(batches, "__next__"):
            found.stop(
                f"make_batches returned a {type(batches).__name__}, not a generator: "
                f"use `yield` inside the loop, so batches are made one at a time."
            )
        orders, sizes, n_classes = [], [], len(np.unique(labels))
        label_of = dict(zip(fingerprints(np.asarray(images)), np.asarray(labels).tolist()))
        misplaced = None
        for epoch, step in itertools.product(range(epochs), range(steps_per_epoch)):
            if step == 0:
                orders.append([])
                sizes.append([])
            try:
                batch = next(batches)
            except StopIteration:
                found.stop(
                    f"The generator ran out after {epoch * steps_per_epoch + step} batches "
                    f"(epoch {epoch}, step {step}), but fit asks for steps_per_epoch x epochs "
                    f"= {steps_per_epoch * epochs}: wrap the loop in `while True:`."
                )
            except Exception as error:  # the learner's code
                found.stop(f"next(generator) raised {type(error).__name__}: {str(error)[:200]}.")
            if not isinstance(batch, tuple) or len(batch) != 2:
                found.stop(
                    f"Batch {step} of epoch {epoch} is a {type(batch).__name__}, "
                    f"expected a tuple (images, labels): `yield x, y`."
                )
            x, y = first_array(batch[0]), np.asarray(batch[1])
            if len(x) != len(y):
                found.stop(
                    f"Batch {step} of epoch {epoch} has {len(x)} images but {len(y)} labels."
                )
            if shuffled and n_classes > 1 and len(y) > n_classes and len(np.unique(y)) == 1:
                found.add(
                    f"Batch {step} of epoch {epoch} holds class {y[0]} only: shuffle the "
                    f"sample ids at the start of each pass."
                )
            prints = fingerprints(x)
            if misplaced is None:
                wrong = [i for i, p in enumerate(prints) if label_of.get(p, y[i]) != y[i]]
                if wrong:
                    misplaced = (epoch, step, len(wrong), len(prints))
            orders[-1] += prints
            sizes[-1].append(len(x))
        if misplaced:
            epoch, step, wrong, size = misplaced
            found.add(
                f"Batch {step} of epoch {epoch}: {wrong} of {size} labels are not those of "
                f"their images. Take images and labels with the same ids (x[ids], y[ids]) "
                f"after one shuffle, never a shuffle of each."
            )
        for epoch, order in enumerate(orders):
            if not _once_per_epoch(
                found,
                order,
                sizes[epoch],
                len(images),
                steps_per_epoch,
                "each pass must visit every id once.",
            ):
                found.add(
                    f"(epoch {epoch}) With steps_per_epoch = ceil(n / batch_size) = "
                    f"{steps_per_epoch}, each pass must end with the last, smaller batch."
                )
                break
        if shuffled and len(orders) > 1 and orders[0] == orders[1]:
            found.add(
                "Epochs 0 and 1 came in the same order: reshuffle the ids at the start "
                "of each pass of the `while True` loop."
            )
        file_order = fingerprints(np.asarray(images))
        shuffled_passes = [epoch for epoch, order in enumerate(orders) if order != file_order]
        if not shuffled and shuffled_passes:
            found.add(
                f"Epoch {shuffled_passes[0]} came in another order than the file's: a "
                f"validation generator gains nothing from shuffling, and in file order "
                f"its predictions line up with the stored labels. Read start:end slices "
                f"in order, without a permutation."
            )
    return found.report(
        f"{steps_per_epoch * epochs} batches without running out, every sample once per "
        f"epoch" + (", reshuffled and mixed." if shuffled else "."),
        verbose,
    )
