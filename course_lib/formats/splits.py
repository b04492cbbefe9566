"""Train/valid/test splits of a file's rows, class by class.

Where a split is written to disk (the image converters) and where a loader
serves part of a file without copying it (`HDF5Dataset.split`), the rows are
drawn here, so both keep every class's share in every split.
"""

import numbers

import numpy as np
from numpy.typing import ArrayLike


def stratified_split(
    labels: ArrayLike | int,
    valid_fraction: float,
    test_fraction: float = 0.0,
    seed: int = 0,
    shuffle: bool = True,
) -> dict[str, np.ndarray]:
    """Splits sample positions into train/valid/test, class by class.

    Used by the kit, not by a lesson.

    Each class gives `round(fraction * its size)` samples to valid and to
    test, so every split keeps the class balance of the whole. The splits
    are disjoint and together hold every position once; the same seed gives
    the same split.

    Args:
        labels: the class index of each position, or an int `n` to split
            `n` positions at random without classes.
        valid_fraction, test_fraction: the share of each class for valid
            and for test.
        seed: seed of the split.
        shuffle: return each split in random order; `False` keeps it sorted.

    Returns:
        `{"train": positions, "valid": positions, "test": positions}`.

    Raises:
        ValueError: if the fractions are negative or leave no training data.

    Example:

    >>> parts = stratified_split(np.repeat([0, 1], 10), 0.2, seed=0, shuffle=False)
    >>> [len(p) for p in parts.values()]
    [16, 4, 0]
    """
    if min(valid_fraction, test_fraction) < 0 or valid_fraction + test_fraction >= 1:
        raise ValueError(
            f"Expected fractions >= 0 with valid + test < 1, received valid="
            f"{valid_fraction}, test={test_fraction}."
        )
    labels = (
        np.zeros(labels, np.int64) if isinstance(labels, numbers.Integral) else np.asarray(labels)
    )
    rng = np.random.default_rng(seed)
    parts = {"train": [], "valid": [], "test": []}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_valid = round(valid_fraction * len(members))
        n_test = round(test_fraction * len(members))
        parts["valid"].append(members[:n_valid])
        parts["test"].append(members[n_valid : n_valid + n_test])
        parts["train"].append(members[n_valid + n_test :])
    splits = {
        split: np.sort(np.concatenate(p or [np.zeros(0, np.int64)])) for split, p in parts.items()
    }
    return {split: rng.permutation(ids) if shuffle else ids for split, ids in splits.items()}
