"""Exercise checkers: run them on your own code, read what is wrong."""

import collections
import hashlib

import numpy as np


def _first_array(x):
    """The array a batch's inputs start with: x itself, x[0] or x's first value."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (tuple, list)):
        x = x[0]
    return np.asarray(x)


def _epoch(ds, problems, n_classes):
    """Reads every batch of one epoch; returns sample fingerprints and sizes."""
    fingerprints, sizes = [], []
    for index in range(len(ds)):
        batch = ds[index]
        if not isinstance(batch, tuple) or len(batch) not in (2, 3):
            problems.append(
                f"ds[{index}] returned {type(batch).__name__}, but Keras expects a "
                f"tuple (inputs, labels); end __getitem__ with `return x, y`.")
            return None, None
        x, y = _first_array(batch[0]), np.asarray(batch[1])
        if len(x) == 0:
            problems.append(
                f"ds[{index}] is empty, so Keras would fail on it with an unrelated "
                f"shape error; __len__ returns {len(ds)}, at least one batch too "
                f"many. Use math.ceil(n_samples / batch_size).")
            continue
        if len(x) != len(y):
            problems.append(
                f"ds[{index}] has {len(x)} inputs but {len(y)} labels; both must "
                f"come from the same sample ids.")
            return None, None
        fingerprints += [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest()
                         for row in x]
        sizes.append(len(x))
        if not _labels_ok(index, y.argmax(-1) if y.ndim == 2 else y, n_classes, problems):
            return None, None
    return fingerprints, sizes


def _labels_ok(index, labels, n_classes, problems):
    """Checks one batch's class indices; adds a problem and says False if bad."""
    if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
        problems.append(
            f"ds[{index}] labels are {labels.dtype} with fractions; sparse labels "
            f"must be whole class indices.")
    elif len(labels) and labels.min() < 0:
        problems.append(f"ds[{index}] has a negative label ({labels.min()}).")
    elif n_classes is not None and len(labels) and labels.max() >= n_classes:
        problems.append(
            f"ds[{index}] has label {labels.max()} but there are only "
            f"{n_classes} classes (0 to {n_classes - 1}).")
    else:
        return True
    return False


class CheckReport:
    """The outcome of `check_dataset`: a list of problems, empty when all is well."""

    def __init__(self, problems):
        self.problems = problems

    @property
    def ok(self):
        return not self.problems

    def __repr__(self):
        if self.ok:
            return "All checks passed: every sample once per epoch, reshuffled, last batch kept."
        return "\n".join(f"- {problem}" for problem in self.problems)


def check_dataset(ds, n_samples, n_classes=None, shuffled=True, verbose=True):
    """Checks a learner's `PyDataset` and says in plain words what is wrong.

    Reads two epochs (calling `on_epoch_end` in between, as Keras does) and
    checks that `super().__init__(**kwargs)` was called, that `len(ds)` counts
    every batch, that batches are `(inputs, labels)` tuples of matching
    length with valid labels, that every sample appears exactly once per
    epoch (so the last partial batch is kept), and, when `shuffled`, that the
    second epoch comes in a new order. Samples are told apart by the bytes of
    their first input, so they must differ from one another.

    Args:
        ds: the dataset to check.
        n_samples: how many samples it should serve per epoch.
        n_classes: if given, labels must lie in `[0, n_classes)`.
        shuffled: whether the order should change between epochs.
        verbose: print the report.

    Returns:
        A `CheckReport`; `report.ok` is True when nothing is wrong.

    Example:

    ```python
    check_dataset(MyDataset(ids, labels, batch_size=32), n_samples=len(ids))  # -> All checks passed: every sample once per epoch, reshuffled, last batch kept.
    ```
    """
    problems = []
    if "_workers" not in vars(ds):
        problems.append(
            "__init__ does not call super().__init__(**kwargs), so Keras cannot "
            "set workers, use_multiprocessing or max_queue_size; add it as the "
            "first line of __init__.")
    if len(ds) == 0:
        problems.append(
            f"len(ds) is 0, so Keras would train on nothing; with {n_samples} "
            f"samples use math.ceil(n_samples / batch_size).")
        return _report(problems, verbose)

    first, sizes = _epoch(ds, problems, n_classes)
    if first is None:
        return _report(problems, verbose)
    served, unique = len(first), len(set(first))
    if unique < served:
        problems.append(
            f"{served - unique} sample(s) came twice in one epoch; each batch must "
            f"take its own slice of the ids, e.g. ids[i * batch_size:(i + 1) * batch_size].")
    if unique < n_samples:
        problems.append(_missing_samples(n_samples, unique, sizes, len(ds)))
    elif served > n_samples:
        problems.append(f"An epoch served {served} samples, more than the {n_samples} expected.")

    ds.on_epoch_end()
    second, _ = _epoch(ds, problems, n_classes)
    complete = unique == served == n_samples
    if second is not None:
        if complete and sorted(second) != sorted(first):
            problems.append(
                "The second epoch served different samples than the first; "
                "on_epoch_end should reorder the ids, not change them.")
        elif shuffled and second == first and len(first) > 1:
            problems.append(
                "The second epoch came in the same order as the first; shuffle the "
                "ids in on_epoch_end (or pass a new seed per epoch).")
    return _report(problems, verbose)


def _missing_samples(n_samples, unique, sizes, length):
    """One sentence on samples that never appear, with the cause the numbers fit."""
    missing = n_samples - unique
    said = f"{missing} of {n_samples} samples never appear in an epoch."
    batch = max(sizes, default=0)
    if batch and set(sizes) == {batch} and length == n_samples // batch \
            and missing == n_samples % batch:
        return (f"{said} __len__ rounds down ({length} full batches of {batch}); use "
                f"math.ceil(n_samples / batch_size) so the last, smaller batch is kept.")
    counts = collections.Counter(sizes)
    shape = ", ".join(f"{count} of {size}" for size, count in sorted(counts.items(), reverse=True))
    return (f"{said} The epoch served {sum(sizes)} samples in batches of these sizes: "
            f"{shape}. Check how __getitem__ slices the ids for each index.")


def _report(problems, verbose):
    report = CheckReport(list(dict.fromkeys(problems)))  # each sentence once
    if verbose:
        print(report)
    return report
