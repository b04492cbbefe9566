"""Class labels where they enter the kit: checked, then given in the mode the model wants.

Files store class labels in one of two ways:

| mode      | one sample's label       | found in                                  |
|-----------|--------------------------|-------------------------------------------|
| `sparse`  | its class index, `2`     | the kit's files, most folders-of-classes  |
| `one_hot` | `[0, 0, 1]`, one 1 a row | food-101's HDF5 files, `to_categorical`   |

The kit's models train on sparse labels. The loaders read labels as stored,
check them once (a label of 9 in a 3-class file is reported by file, dataset
and row before training starts, not as a TensorFlow graph error), and give
each batch in the mode asked for.
"""

import numpy as np
from numpy.typing import ArrayLike

from course_lib import errors

MODES = ("sparse", "one_hot")


def stored_mode(shape: tuple[int, ...]):
    """How labels of this shape are stored: `"sparse"`, `"one_hot"`, or `None`.

    Used by the kit, not by a lesson.

    Args:
        shape: the shape of the labels, samples first.

    Returns:
        `"sparse"` for `(n,)` or `(n, 1)`, `"one_hot"` for `(n, k)` with
        `k >= 2`, `None` for anything else (masks, boxes: not class labels).

    Example:

    >>> stored_mode((100,)), stored_mode((100, 4)), stored_mode((100, 8, 8))
    ('sparse', 'one_hot', None)
    """
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return "sparse"
    if len(shape) == 2:
        return "one_hot"
    return None


def check_mode(label_mode: str | None, targets: bool = True):
    """Raises `ValueError` unless `label_mode` is one of `MODES`, or `None`
    where `targets` allows it (targets as stored).

    Used by the kit, not by a lesson.
    """
    errors.check_choice("label_mode", label_mode, (*MODES, None) if targets else MODES)


def class_indices(
    values: ArrayLike,
    n_classes: int | None = None,
    where: str = "labels",
    rows: ArrayLike | None = None,
):
    """Checks a block of labels and returns their class indices.

    Used by the kit, not by a lesson.

    Args:
        values: labels, sparse `(n,)` / `(n, 1)` or one-hot `(n, k)`.
        n_classes: the number of classes, when known; sparse labels must
            lie in `[0, n_classes)`.
        where: what to name in an error, e.g. `"food.h5:/train_labels"`.
        rows: the file row number (or sample id) of each value, named in
            errors; default `0, 1, 2, ...`.

    Returns:
        An int64 array of class indices.

    Raises:
        ValueError: for a fractional, negative or too large class index, a
            one-hot row that is not one 1 among zeros, or labels stored as
            class names (strings); names `where` and the first bad row.

    Example:

    >>> class_indices(np.array([[0, 1], [1, 0]]))
    array([1, 0])
    """
    values = np.asarray(values)
    _check_not_names(values, where)

    def row(i):
        key = i if rows is None else rows[i]
        return f"sample {key!r}" if isinstance(key, str) else f"row {key}"

    if stored_mode(values.shape) == "one_hot":
        ones = values == 1
        bad = np.flatnonzero((ones.sum(axis=1) != 1) | ((values != 0) & ~ones).any(axis=1))
        if len(bad):
            raise ValueError(
                f"{where}: {row(bad[0])} is {str(values[bad[0]].tolist())[:100]}, "
                f"not a one-hot vector (a single 1 among 0s); {len(bad)} row(s) in "
                f"this block are like it. Fix those rows, or pass label_mode=None "
                f"to use the values as they are."
            )
        return ones.argmax(axis=1)
    values = values.reshape(len(values))
    if not np.issubdtype(values.dtype, np.integer):
        fractional = np.flatnonzero(values != np.round(values))
        if len(fractional):
            raise ValueError(
                f"{where}: {row(fractional[0])} holds {values[fractional[0]]}, not a class "
                f"index. Class labels must be whole numbers from 0; pass "
                f"label_mode=None for regression targets."
            )
    limit = n_classes if n_classes else np.inf
    bad = np.flatnonzero((values < 0) | (values >= limit))
    if len(bad):
        expected = f"[0, {n_classes})" if n_classes else "0 or more"
        raise ValueError(
            f"{where}: {row(bad[0])} has label {values[bad[0]]}, expected a class "
            f"index in {expected}; {len(bad)} row(s) in this block are out of range. "
            f"Fix those labels, or pass the right n_classes=."
        )
    return values.astype(np.int64)


def _check_not_names(values: np.ndarray, where: str):
    """Raises `ValueError` for labels stored as class names (fixed or variable-length strings)."""
    first = values.reshape(-1)[0] if values.size else None
    if values.dtype.kind in "SU" or isinstance(first, (str, bytes)):
        shown = [v.decode() if isinstance(v, bytes) else v for v in values.reshape(-1)[:3]]
        raise ValueError(
            f"{where}: the labels are class names ({values.dtype} strings such as {shown}), "
            f"not class indices. Map each name to an index once and store the indices: "
            f"`class_names = np.unique(names)` then `np.searchsorted(class_names, names)` "
            f"gives int64 labels; write those as the labels dataset and keep `class_names` "
            f"beside them (an attribute of the file, say)."
        )


def convert(values: ArrayLike, label_mode: str | None, n_classes: int | None = None):
    """Labels of one batch in `label_mode`; `None` returns them as they are.

    Used by the kit, not by a lesson.

    Raises:
        ValueError: when one-hot output is asked for without `n_classes`.

    Example:

    >>> convert(np.array([2, 0]), "one_hot", n_classes=3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    if label_mode is None:
        return values
    stored = stored_mode(np.shape(values))
    if label_mode == "sparse":
        if stored == "one_hot":
            return np.asarray(values).argmax(axis=1)
        return np.asarray(values).reshape(len(values))
    if stored == "one_hot":
        return np.asarray(values, np.float32)
    if not n_classes:
        raise ValueError("label_mode='one_hot' needs n_classes.")
    return np.eye(n_classes, dtype=np.float32)[np.asarray(values, np.int64).reshape(-1)]
