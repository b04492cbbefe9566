"""The kit's file layouts, for any data: the HDF5 split file and the npy folder.

| layout | what it holds                                                       |
|--------|---------------------------------------------------------------------|
| HDF5   | groups `/train`, `/valid`, `/test`, each with `images` (uint8,      |
|        | `(n, h, w, c)`, chunked), `labels` and `ids` (int64); file          |
|        | attributes `class_names` and `image_shape`                          |
| HDF5,  | the same, but `images` holds each image's JPEG (or PNG) bytes: a    |
| encoded| variable-length uint8 row per sample, attribute `encoding`          |
| npy    | one `<name>.npy` per sample, plus `partition.json`                  |
|        | (`{split: [names]}`) and `labels.json` (`{name: label}`)            |

These are the formats users' files are converted to (`data_scripts/`) and the
loaders read. `course_data` builds the course's synthetic data in them.
"""

import json
from pathlib import Path

import h5py
import numpy as np

from course_lib import config, errors
from course_lib.formats import encoded, hdf5_rows

PARTITION_NAME = "partition.json"
LABELS_NAME = "labels.json"


def sample_name(sample_id):
    """The name of sample `sample_id` in the npy layout.

    First used in lesson 00 (setup_and_data).

    Example:

    >>> sample_name(42)
    'id-000042'
    """
    return f"id-{int(sample_id):06d}"


class HDF5Writer:
    """Appends blocks of images and labels to the splits of an HDF5 file.

    First used in lesson 01 (in_memory_fit).

    Each split is a group holding resizable, chunked datasets that grow by one
    block per `append`: `images` (uint8, `(n, h, w, c)`), `labels` (int64) and
    `ids` (int64), plus `sources` (strings) when the caller gives them. Only the
    block being appended is in memory.

    With `encoding="jpeg"` (or `"png"`), `images` stores each image encoded:
    one variable-length uint8 row per sample, several times smaller than the
    pixels, decoded again on every read.

    Args:
        path: the HDF5 file to create (overwritten).
        image_shape: `(height, width, channels)` of every image.
        class_names: the class names; labels must lie in `[0, len(class_names))`.
        chunk_rows: images per HDF5 chunk.
        attrs: extra file attributes (JSON-serialisable values).
        encoding: `None` (raw pixels), `"jpeg"` or `"png"`.

    Raises:
        ValueError: for an unknown encoding; from `append`, when a block does
            not match the file.

    Example:

    ```python
    with HDF5Writer("toy.h5", (8, 8, 3), ["a", "b"]) as writer:
        writer.append("train", np.zeros((4, 8, 8, 3), np.uint8),
                      labels=[0, 1, 1, 0], ids=[0, 1, 2, 3])
    ```
    """

    def __init__(self, path, image_shape, class_names, chunk_rows=64, attrs=None, encoding=None):
        if encoding is not None:
            encoded.check_encoding(encoding)
        self.encoding = encoding
        self.path = Path(path)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.class_names = list(class_names)
        self.chunk_rows = int(chunk_rows)
        self._file = h5py.File(self.path, "w")
        self._file.attrs["class_names"] = json.dumps(self.class_names)
        self._file.attrs["image_shape"] = self.image_shape
        for key, value in (attrs or {}).items():
            self._file.attrs[key] = json.dumps(value)

    def _datasets(self, split, with_sources):
        if split in self._file:
            return self._file[split]
        group = self._file.create_group(split)
        if self.encoding:
            images = group.create_dataset(
                "images",
                shape=(0,),
                dtype=h5py.vlen_dtype(np.uint8),
                maxshape=(None,),
                chunks=(max(self.chunk_rows, 1024),),
            )
            images.attrs["encoding"] = self.encoding
        else:
            group.create_dataset(
                "images",
                shape=(0, *self.image_shape),
                dtype=np.uint8,
                maxshape=(None, *self.image_shape),
                chunks=(self.chunk_rows, *self.image_shape),
            )
        for name in ("labels", "ids"):
            group.create_dataset(name, shape=(0,), dtype=np.int64, maxshape=(None,), chunks=(4096,))
        if with_sources:
            group.create_dataset(
                "sources", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype(), chunks=(4096,)
            )
        return group

    def append(self, split, images, labels, ids, sources=None):
        """Appends one block of samples to `split`.

        Raises:
            ValueError: if the images are not uint8 of the file's image shape,
                the lengths differ, or a label is out of range.
        """
        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        where = f"{self.path.name}:/{split}"
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            raise ValueError(
                f"{where}: expected uint8 images of shape (n, "
                f"{', '.join(map(str, self.image_shape))}), received "
                f"{images.dtype} {images.shape}. Resize and convert images "
                f"before appending."
            )
        lengths = {len(images), len(labels), len(ids)} | (
            {len(sources)} if sources is not None else set()
        )
        if len(lengths) != 1:
            raise ValueError(
                f"{where}: images, labels, ids (and sources) must have the same "
                f"length, received {len(images)}, {len(labels)}, {len(ids)}."
            )
        bad = (labels < 0) | (labels >= len(self.class_names))
        if bad.any():
            raise ValueError(
                f"{where}: label {labels[bad][0]} is out of range for "
                f"{len(self.class_names)} classes {self.class_names}"[:200]
                + ". Labels must be class indices starting at 0."
            )
        group = self._datasets(split, sources is not None)
        start, stop = len(group["images"]), len(group["images"]) + len(images)
        if self.encoding:
            stored = np.empty(len(images), object)
            stored[:] = [
                np.frombuffer(encoded.encode(image, self.encoding), np.uint8) for image in images
            ]
            images = stored
        values = {"images": images, "labels": labels, "ids": ids, "sources": sources}
        for name in group:
            group[name].resize(stop, axis=0)
            group[name][start:stop] = values[name]

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def check_hdf5(path):
    """Checks that an HDF5 file has the course layout and describes it.

    Used by the kit, not by a lesson.

    Args:
        path: an HDF5 file written by `HDF5Writer`, `make_dataset.py` or
            `images_to_hdf5.py`.

    Returns:
        A dict with `image_shape`, `class_names`, `split_sizes` and
        `encoding` (`None` for raw pixels, else `"jpeg"` or `"png"`).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is truncated or not HDF5, or a split, a
            dataset or an attribute is missing or inconsistent; the message
            names the file and the dataset.

    Example:

    ```python
    check_hdf5("data/lesson/course.h5")["split_sizes"]["train"]  # -> 12288
    ```
    """
    path = Path(path)
    fix = config.rebuild_hint(
        path, "Convert your images again with data_scripts/images_to_hdf5.py."
    )
    with hdf5_rows.open_file(path, fix) as file:
        for attribute in ("class_names", "image_shape"):
            if attribute not in file.attrs:
                raise ValueError(
                    f"{path} has no {attribute!r} attribute, so it is not in the "
                    f"course layout (datasets found: {', '.join(file)[:100]}). {fix}"
                )
        class_names = json.loads(file.attrs["class_names"])
        image_shape = tuple(int(d) for d in file.attrs["image_shape"])
        sizes, encodings = {}, set()
        for split in config.SPLITS:
            for name in ("images", "labels", "ids"):
                if f"{split}/{name}" not in file:
                    raise ValueError(
                        f"{path} has no dataset /{split}/{name}. Expected "
                        f"/train, /valid and /test groups holding images, "
                        f"labels and ids. {fix}"
                    )
            group = file[split]
            n = len(group["images"])
            encodings.add(_check_images(path, group["images"], image_shape, fix))
            if len(group["labels"]) != n or len(group["ids"]) != n:
                raise ValueError(
                    f"{path}:/{split} holds {n} images but "
                    f"{len(group['labels'])} labels and {len(group['ids'])} ids. "
                    f"{fix}"
                )
            sizes[split] = n
    if len(encodings) > 1:
        raise ValueError(
            f"{path}: its splits store images in different ways "
            f"({sorted(map(str, encodings))}). {fix}"
        )
    return {
        "image_shape": image_shape,
        "class_names": class_names,
        "split_sizes": sizes,
        "encoding": encodings.pop(),
    }


def image_encoding(dataset):
    """`None` for a dataset of raw pixels, else its `encoding` attribute.

    Used by the kit, not by a lesson.
    """
    return dataset.attrs.get("encoding") if dataset.dtype.kind == "O" else None


def _check_images(path, images, image_shape, fix):
    """Checks one split's images dataset; returns its encoding (`None`: pixels)."""
    encoding = image_encoding(images)
    if encoding is not None:
        if (
            encoding not in encoded.ENCODINGS
            or images.ndim != 1
            or h5py.check_vlen_dtype(images.dtype) != np.uint8
        ):
            raise ValueError(
                f"{path}:{images.name} is {images.dtype} {images.shape} with "
                f"encoding={str(encoding)[:20]!r}, expected one variable-length "
                f"uint8 row of {'/'.join(encoded.ENCODINGS)} bytes per sample. {fix}"
            )
    elif images.shape[1:] != image_shape or images.dtype != np.uint8:
        raise ValueError(
            f"{path}:{images.name} is {images.dtype} {images.shape}, expected "
            f"uint8 (n, {', '.join(map(str, image_shape))}) (or encoded image "
            f"bytes with an `encoding` attribute). {fix}"
        )
    return encoding


def write_partition(folder, partition, labels):
    """Writes the npy layout's `partition.json` and `labels.json`.

    Used by the kit, not by a lesson.

    Args:
        folder: the npy folder (it must exist).
        partition: `{split: [sample names]}`.
        labels: `{sample name: class index}`.
    """
    folder = Path(folder)
    (folder / PARTITION_NAME).write_text(json.dumps(partition))
    (folder / LABELS_NAME).write_text(
        json.dumps({name: int(label) for name, label in labels.items()})
    )


def read_partition(folder):
    """Reads the npy layout's `partition.json` and `labels.json`.

    First used in lesson 00 (setup_and_data).

    Returns:
        `(partition, labels)`: `{split: [names]}` and `{name: label}`.

    Raises:
        FileNotFoundError: if either file is missing.
    """
    folder = Path(folder)
    loaded = []
    for name in (PARTITION_NAME, LABELS_NAME):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"No {name} in {str(folder)[:100]}. An npy dataset folder holds "
                f"one .npy per sample plus partition.json and labels.json; build "
                f"it with `make data`."
            )
        loaded.append(json.loads((folder / name).read_text()))
    return tuple(loaded)


def load_split(path, split, limit=None, dtype=None):
    """Loads a whole split of an HDF5 file into memory: the classic recipe.

    First used in lesson 00 (setup_and_data).

    Encoded images (JPEG/PNG bytes) are decoded.

    Args:
        path: an HDF5 file in the course layout.
        split: `"train"`, `"valid"` or `"test"`.
        limit: load only the first `limit` samples.
        dtype: convert the images, e.g. `"float32"` (scaled to [0, 1]);
            `None` keeps uint8.

    Returns:
        `(images, labels)` as numpy arrays.

    Raises:
        ValueError: for an unknown split.
    """
    errors.check_choice("split", split, config.SPLITS)
    with hdf5_rows.open_file(path) as file:
        images = file[split]["images"][:limit]
        labels = file[split]["labels"][:limit]
        if image_encoding(file[split]["images"]):
            shape = tuple(int(d) for d in file.attrs["image_shape"])
            images = encoded.decode_batch(
                images, shape, f"{path}:/{split}/images", range(len(images))
            )
    if dtype is not None:
        images = images.astype(dtype)
        images /= 255  # in place: one float copy, not two
    return images, labels
