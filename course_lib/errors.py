"""Checks for the mistakes that recur across the kit, each worded once.

Every module that takes a choice (a strategy, a layout, a label mode), rows
of a file or a shard spec checks it here, so the same mistake gets the same
exception type and the same sentence wherever it is made:

| mistake                          | check              | raises       |
|----------------------------------|--------------------|--------------|
| a value outside a fixed set      | `check_choice`     | `ValueError` |
| rows outside a file's rows       | `check_rows`       | `IndexError` |
| a shard that is not (index, count) | `check_shard`    | `ValueError` |
"""

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def check_choice(what: str, value: object, choices: Sequence, fix: str = "") -> None:
    """Raises `ValueError` unless `value` is one of `choices`.

    Used by the kit, not by a lesson.

    Args:
        what: what the value chooses, for the message: `"shuffle strategy"`.
        value: the value received.
        choices: the values allowed (`None` may be one of them).
        fix: a sentence to add, saying how to fix it.

    Example:

    >>> check_choice("label_mode", "dense", ("sparse", "one_hot", None))
    Traceback (most recent call last):
    ...
    ValueError: Unknown label_mode 'dense'. Expected one of 'sparse', 'one_hot', None.
    """
    if value in choices:
        return
    raise ValueError(
        f"Unknown {what} {str(value)[:100]!r}. Expected one of "
        f"{', '.join(repr(choice) for choice in choices)}. {fix}".rstrip()
    )


def check_rows(where: object, rows: ArrayLike, n: int) -> None:
    """Raises `IndexError` if any of `rows` is outside `[0, n)`.

    Used by the kit, not by a lesson.

    Args:
        where: the file (and dataset) the rows belong to, for the message.
        rows: row numbers, any order.
        n: the number of rows there are.

    Example:

    >>> check_rows("data/x.h5:/train/images", np.array([3, 12]), 10)
    Traceback (most recent call last):
    ...
    IndexError: Rows 3..12 are outside data/x.h5:/train/images (10 rows: 0..9).
    """
    rows = np.asarray(rows)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(
            f"Rows {rows.min()}..{rows.max()} are outside {where} ({n} rows: 0..{n - 1})."
        )


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int]:
    """The shard `(index, count)` as two ints, checked; `None` is `(0, 1)`.

    Used by the kit, not by a lesson.

    Any integers count (`np.int64` from an array too), but not `True` or 1.5.

    Raises:
        ValueError: unless `shard` is two whole numbers with
            `0 <= index < count`.

    Example:

    >>> check_shard((np.int64(1), 4))
    (1, 4)
    >>> check_shard((4, 4))
    Traceback (most recent call last):
    ...
    ValueError: shard must be (index, count) with 0 <= index < count, received (4, 4).
    """
    if shard is None:
        return 0, 1
    try:
        index, count = shard
    except (TypeError, ValueError):
        index = count = None
    whole = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (index, count))
    if not whole or not 0 <= index < count:
        raise ValueError(
            f"shard must be (index, count) with 0 <= index < count, received {str(shard)[:100]}."
        )
    return int(index), int(count)
