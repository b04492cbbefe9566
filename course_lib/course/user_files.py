"""Files in the shape users bring them: one split, sorted by class, one-hot labels.

The course file is written in random order with a validation split. Files
people make themselves rarely are: a common shape is two PyTables EArrays,
`images` and one-hot `labels`, appended one class after another, and no
validation split. Lessons 04 and 05 and the tests build such files from any
images and labels with `write_class_sorted`, so every loader and checker is
also tried on the data shape that breaks naive shuffles. `drawings` makes
images for them that owe nothing to the kit's own generator (`synthetic`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

DRAWING_CLASSES = ("blob", "bar", "ring")


def drawings(n: int, size: int = 64, seed: int = 0):
    """Noisy drawings of three classes, a stand-in for a user's own images.

    First used in lesson 05 (hdf5_reading).

    Each image is one blob (a filled disc), bar (an upright rectangle) or
    ring, of random place, size and colour, over Gaussian noise. Nothing is
    shared with `synthetic`, so a result on these files is not a result on
    the kit's data only.

    Args:
        n: number of images.
        size: image height and width.
        seed: seed of the drawings and of the labels.

    Returns:
        `(images, labels)`: uint8 `(n, size, size, 3)` and int64 `(n,)` class
        indices into `DRAWING_CLASSES`, in random order.

    Example:

    >>> images, labels = drawings(6, size=16)
    >>> images.shape, sorted(set(labels.tolist())) <= [0, 1, 2]
    ((6, 16, 16, 3), True)
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(DRAWING_CLASSES), n)
    rows, cols = np.mgrid[:size, :size]
    images = np.empty((n, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        col, row = rng.uniform(size / 4, 3 * size / 4, 2)
        radius = rng.uniform(0.14, 0.23) * size
        distance = np.hypot(cols - col, rows - row)
        if label == 0:
            shape = distance < radius
        elif label == 1:
            shape = (np.abs(cols - col) < radius / 3) & (np.abs(rows - row) < radius * 1.5)
        else:
            shape = np.abs(distance - radius) < size / 32
        image = rng.normal(80, 25, (size, size, 3))
        image[shape] += rng.uniform(100, 150, 3)
        images[i] = np.clip(image, 0, 255)
    return images, labels


def write_class_sorted(
    path: str | Path,
    images: np.ndarray,
    labels: ArrayLike,
    n_classes: int,
    one_hot: bool = True,
    block_size: int = 1024,
    chunk_rows: int | None = None,
):
    """Writes `images` and their labels as PyTables EArrays, one class after another.

    First used in lesson 04 (hdf5_writing).

    Each class is appended in blocks of at most `block_size` rows, as a user's
    script that walks one folder per class does.

    Args:
        path: the new HDF5 file (replaced if it exists).
        images: array of shape `(n, ...)`.
        labels: class indices of shape `(n,)`, in `[0, n_classes)`.
        n_classes: number of classes (the width of one-hot rows).
        one_hot: store one-hot float32 rows (`True`) or int64 class indices.
        block_size: rows per `append`.
        chunk_rows: rows per HDF5 chunk of the images; default: PyTables's
            choice.

    Returns:
        The class index of each row written, in file order.

    Raises:
        ValueError: `images` and `labels` differ in length, or a label is out
            of range.

    Example:

    ```python
    sorted_labels = write_class_sorted("own.h5", x, y, n_classes=3)
    HDF5Dataset("own.h5", "images", "labels", batch_size=64)  # one-hot read as classes
    ```
    """
    import tables

    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(
            f"{len(images)} images but {len(labels)} labels for {path}: pass one label per image."
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels for {path} must lie in [0, {n_classes}); found {labels.min()}..{labels.max()}."
        )
    order = np.argsort(labels, kind="stable")
    with tables.open_file(str(path), "w") as file:
        image_rows = file.create_earray(
            "/",
            "images",
            tables.Atom.from_dtype(images.dtype),
            (0, *images.shape[1:]),
            chunkshape=None if chunk_rows is None else (chunk_rows, *images.shape[1:]),
        )
        label_rows = file.create_earray(
            "/",
            "labels",
            tables.Float32Atom() if one_hot else tables.Int64Atom(),
            (0, n_classes) if one_hot else (0,),
        )
        for start in range(0, len(order), block_size):
            rows = order[start : start + block_size]
            image_rows.append(images[rows])
            label_rows.append(
                np.eye(n_classes, dtype=np.float32)[labels[rows]]
                if one_hot
                else labels[rows].astype(np.int64)
            )
    return labels[order]
