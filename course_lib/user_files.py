"""Files in the shape users bring them: one split, sorted by class, one-hot labels.

The course file is written in random order with a validation split. Files
people make themselves rarely are: a common shape is two PyTables EArrays,
`images` and one-hot `labels`, appended one class after another, and no
validation split. Lessons 04 and 05 and the tests build such files from any
images and labels with `write_class_sorted`, so every loader and checker is
also tried on the data shape that breaks naive shuffles.
"""

import numpy as np


def write_class_sorted(path, images, labels, n_classes, one_hot=True, block_size=1024):
    """Writes `images` and their labels as PyTables EArrays, one class after another.

    Each class is appended in blocks of at most `block_size` rows, as a user's
    script that walks one folder per class does.

    Args:
        path: the new HDF5 file (replaced if it exists).
        images: array of shape `(n, ...)`.
        labels: class indices of shape `(n,)`, in `[0, n_classes)`.
        n_classes: number of classes (the width of one-hot rows).
        one_hot: store one-hot float32 rows (`True`) or int64 class indices.
        block_size: rows per `append`.

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
        raise ValueError(f"{len(images)} images but {len(labels)} labels for {path}: "
                         "pass one label per image.")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels for {path} must lie in [0, {n_classes}); found "
                         f"{labels.min()}..{labels.max()}.")
    order = np.argsort(labels, kind="stable")
    with tables.open_file(str(path), "w") as file:
        image_rows = file.create_earray("/", "images", tables.Atom.from_dtype(images.dtype),
                                        (0, *images.shape[1:]))
        label_rows = file.create_earray(
            "/", "labels", tables.Float32Atom() if one_hot else tables.Int64Atom(),
            (0, n_classes) if one_hot else (0,))
        for start in range(0, len(order), block_size):
            rows = order[start:start + block_size]
            image_rows.append(images[rows])
            label_rows.append(np.eye(n_classes, dtype=np.float32)[labels[rows]] if one_hot
                              else labels[rows].astype(np.int64))
    return labels[order]
