"""Checker for a validation split of row numbers that keeps every class (lesson 05)."""

import numpy as np

from course_lib.checks.report import Findings

CLASS_SIZES = (700, 500, 301)
"""The checker's class-sorted file: three classes of unequal size, one after another."""


def _as_rows(found, part, name, seed):
    rows = np.asarray(part)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        found.stop(
            f"split_rows(labels, ..., seed={seed}) returned {name} of dtype {rows.dtype} "
            f"and shape {rows.shape}: return a 1-D array of row numbers (integers)."
        )
    return rows


def _split(found, split_rows, labels, valid_fraction, seed):
    """Calls the learner's function on a copy of `labels`; returns `(train, valid)` arrays."""
    given = labels.copy()
    parts = found.call(
        f"split_rows(labels, {valid_fraction}, seed={seed})",
        split_rows,
        given,
        valid_fraction,
        seed,
    )
    if not isinstance(parts, tuple) or len(parts) != 2:
        found.stop(
            f"split_rows returned a {type(parts).__name__}: return the pair "
            f"(train_rows, valid_rows)."
        )
    if not np.array_equal(given, labels):
        found.add(
            "split_rows changed the labels it was given: work on row numbers, not on the "
            "labels array."
        )
    return tuple(_as_rows(found, part, name, seed) for part, name in zip(parts, ("train", "valid")))


def _check_parts(found, train, valid, labels, valid_fraction):
    n = len(labels)
    both = np.intersect1d(train, valid)
    if len(both):
        found.stop(
            f"Row {both[0]} is in both parts ({len(both)} rows are): a validation row must "
            f"never be trained on."
        )
    for rows, name in ((train, "train"), (valid, "valid")):
        if len(np.unique(rows)) != len(rows):
            found.stop(f"The {name} rows hold a row twice: draw without replacement.")
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            found.stop(f"The {name} rows go outside 0..{n - 1}: return row numbers of the file.")
    missing = np.setdiff1d(np.arange(n), np.concatenate([train, valid]))
    if len(missing):
        found.stop(
            f"{len(missing)} rows are in neither part (row {missing[0]}, ...): every row "
            f"goes to train or to valid."
        )
    held = np.unique(labels[valid])
    if len(held) == 1:
        found.stop(
            f"The validation rows hold class {held[0]} only: on a file sorted by class the "
            f"last rows are one class, and that is what Keras's validation_split takes. "
            f"Draw each class's share from that class's own rows."
        )
    for label, size in enumerate(CLASS_SIZES):
        want, got = round(valid_fraction * size), int(np.sum(labels[valid] == label))
        if abs(got - want) > 1:
            found.add(
                f"Class {label} ({size} rows) gave {got} rows to validation, not "
                f"{want}: draw round(valid_fraction * size) rows from each class."
            )
    runs = [labels[valid] == label for label in range(len(CLASS_SIZES))]
    runs = [valid[of_class] for of_class in runs if of_class.sum() > 2]
    if runs and all(rows.max() - rows.min() + 1 == len(rows) for rows in runs):
        found.add(
            f"Each class gave validation one run of consecutive rows (rows {runs[0].min()} "
            f"to {runs[0].max()} of class 0): inside a class, files are often sorted further "
            f"(by source, date, person), so a run is not a sample of it. Draw each class's "
            f"rows at random: rng.choice(rows_of_class, size, replace=False)."
        )
    for rows, name in ((train, "train"), (valid, "valid")):
        if np.any(np.diff(rows) < 0):
            found.add(
                f"The {name} rows are not sorted: np.sort them, so the validation loader "
                f"reads in file order (predictions line up with rows) and in runs."
            )


def check_split_rows(split_rows, valid_fraction=0.2, verbose=True):
    """Checks `split_rows(labels, valid_fraction, seed)` on a class-sorted file's labels.

    The labels are three classes of unequal size (`CLASS_SIZES`), sorted. Each
    call must return `(train_rows, valid_rows)`: sorted row numbers, every row
    on exactly one side, each class giving `round(valid_fraction * size)` rows
    (one either way) to validation; the same seed must give the same split,
    and another seed another one.

    Returns:
        A `Report`.

    Example:

    >>> def last_rows(labels, valid_fraction, seed):  # what validation_split does
    ...     cut = round(len(labels) * (1 - valid_fraction))
    ...     return np.arange(cut), np.arange(cut, len(labels))
    >>> check_split_rows(last_rows, verbose=False).ok
    False
    """
    labels = np.repeat(np.arange(len(CLASS_SIZES)), CLASS_SIZES)
    found = Findings()
    with found:
        first = _split(found, split_rows, labels, valid_fraction, seed=0)
        _check_parts(found, *first, labels, valid_fraction)
        again = _split(found, split_rows, labels, valid_fraction, seed=0)
        if not np.array_equal(again[1], first[1]):
            found.add(
                "Seed 0 gave two different splits: draw from np.random.default_rng(seed), "
                "never from the global np.random state."
            )
        other = _split(found, split_rows, labels, valid_fraction, seed=1)
        _check_parts(found, *other, labels, valid_fraction)
        if np.array_equal(other[1], first[1]):
            found.add(
                "Seeds 0 and 1 gave the same validation rows: draw them at random from "
                "np.random.default_rng(seed)."
            )
    shares = ", ".join(str(round(valid_fraction * size)) for size in CLASS_SIZES)
    return found.report(
        f"each of the {len(CLASS_SIZES)} classes of a class-sorted file gave its "
        f"share to validation ({shares} rows), every row went to exactly one "
        f"side, in file order, and the split follows the seed.",
        verbose,
    )
