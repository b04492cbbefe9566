"""The course data on disk, in the three layouts the lessons stream from.

| layout  | path in the data folder | what it holds                                 |
|---------|-------------------------|-----------------------------------------------|
| `hdf5`  | `course.h5`             | `/<split>/images`, `/labels`, `/ids` per split |
| `npy`   | `npy/`                  | one `<name>.npy` per sample, `partition.json`, `labels.json` |
| `bcolz` | `features/`             | `matrix.bcolz` (row i = sample i), `index.csv` |

Samples have global ids: the training split is numbered first, then the
validation split, then the test split. Sample `i` is called `id-000i` in the
npy layout and owns row `i` of the feature matrix.

Every writer holds one block of samples in memory at a time, so writing needs
the same memory for a thousand samples or for a dataset bigger than RAM. A
layout is built with `atomic.building`: under a `.partial` name, renamed into
place when complete, and only then given its manifest
(`<path>.manifest.json`). A layout without a matching manifest (an
interrupted run, another profile, a damaged file) is rebuilt, never used.
"""

import json
import os
import shutil
from pathlib import Path

import bcolz
import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from course_lib import atomic, config, features, hdf5_rows, synthetic

LAYOUTS = ("hdf5", "npy", "bcolz")
HDF5_NAME = "course.h5"
NPY_NAME = "npy"
FEATURES_NAME = "features"
FEATURE_MATRIX_NAME = "matrix.bcolz"
INDEX_NAME = "index.csv"
USER_HDF5_ENV = "COURSE_HDF5"
FORMAT_VERSION = 1


def sample_name(sample_id):
    """The name of sample `sample_id` in the npy layout, e.g. `"id-000042"`."""
    return f"id-{int(sample_id):06d}"


def split_ranges(profile=None):
    """Returns `{split: range of global sample ids}` for a profile.

    Example:

    >>> split_ranges("ci")["valid"]
    range(2048, 2560)
    """
    profile = config.get_profile(profile)
    ranges, start = {}, 0
    for split, size in profile.split_sizes.items():
        ranges[split] = range(start, start + size)
        start += size
    return ranges


def layout_path(layout, profile=None):
    """Returns where `layout` lives for a profile (built or not).

    Raises:
        ValueError: if `layout` is not one of `LAYOUTS`.
    """
    names = {"hdf5": HDF5_NAME, "npy": NPY_NAME, "bcolz": FEATURES_NAME}
    if layout not in names:
        raise ValueError(
            f"Unknown layout {str(layout)[:100]!r}. Expected one of "
            f"{', '.join(LAYOUTS)}.")
    return config.data_dir(profile) / names[layout]


def _fingerprint(layout, profile):
    """What a built layout must match to be reused."""
    fields = {
        "hdf5": ("image_size", "chunk_rows"),
        "npy": ("image_size",),
        "bcolz": ("n_features",),
    }[layout]
    versions = {"features_version": synthetic.FEATURES_VERSION} if layout == "bcolz" else {}
    return {
        "layout": layout,
        "format_version": FORMAT_VERSION,
        "seed": config.SEED,
        "split_sizes": profile.split_sizes,
        **{field: getattr(profile, field) for field in fields},
        **versions,
    }


def disk_usage(path):
    """Returns `(bytes, files)` used on disk by a file or a folder tree."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _estimated_bytes(layout, profile):
    if layout == "bcolz":
        return profile.feature_bytes
    if layout == "npy":  # one file per sample, at least one 4 KiB block each
        per_file = max(profile.image_bytes // profile.n_samples + 128, 4096)
        return per_file * profile.n_samples
    return profile.image_bytes


def _check_free_space(folder, needed):
    free = shutil.disk_usage(folder).free
    if free < needed * 1.05:
        raise OSError(
            f"Not enough disk space in {str(folder)[:100]}: the data needs about "
            f"{needed / 2**30:.1f} GiB and {free / 2**30:.1f} GiB are free. Free "
            f"some space, or point {config.DATA_DIR_ENV} at a bigger disk.")


# --- HDF5 ------------------------------------------------------------------


class HDF5Writer:
    """Appends blocks of images and labels to the splits of an HDF5 file.

    Each split is a group holding resizable, chunked datasets that grow by one
    block per `append`: `images` (uint8, `(n, h, w, c)`), `labels` (int64) and
    `ids` (int64), plus `sources` (strings) when the caller gives them. Only the
    block being appended is in memory.

    Args:
        path: the HDF5 file to create (overwritten).
        image_shape: `(height, width, channels)` of every image.
        class_names: the class names; labels must lie in `[0, len(class_names))`.
        chunk_rows: images per HDF5 chunk.
        attrs: extra file attributes (JSON-serialisable values).

    Raises:
        ValueError: from `append`, when a block does not match the file.

    Example:

    ```python
    with HDF5Writer("toy.h5", (8, 8, 3), ["a", "b"]) as writer:
        writer.append("train", np.zeros((4, 8, 8, 3), np.uint8),
                      labels=[0, 1, 1, 0], ids=[0, 1, 2, 3])
    ```
    """

    def __init__(self, path, image_shape, class_names, chunk_rows=64, attrs=None):
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
        group.create_dataset(
            "images", shape=(0, *self.image_shape), dtype=np.uint8,
            maxshape=(None, *self.image_shape),
            chunks=(self.chunk_rows, *self.image_shape))
        for name in ("labels", "ids"):
            group.create_dataset(name, shape=(0,), dtype=np.int64,
                                 maxshape=(None,), chunks=(4096,))
        if with_sources:
            group.create_dataset("sources", shape=(0,), maxshape=(None,),
                                 dtype=h5py.string_dtype(), chunks=(4096,))
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
                f"before appending.")
        lengths = {len(images), len(labels), len(ids)} | (
            {len(sources)} if sources is not None else set())
        if len(lengths) != 1:
            raise ValueError(
                f"{where}: images, labels, ids (and sources) must have the same "
                f"length, received {len(images)}, {len(labels)}, {len(ids)}.")
        bad = (labels < 0) | (labels >= len(self.class_names))
        if bad.any():
            raise ValueError(
                f"{where}: label {labels[bad][0]} is out of range for "
                f"{len(self.class_names)} classes {self.class_names}"[:200]
                + ". Labels must be class indices starting at 0.")
        group = self._datasets(split, sources is not None)
        start, stop = len(group["images"]), len(group["images"]) + len(images)
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

    Args:
        path: an HDF5 file written by `HDF5Writer`, `make_dataset.py` or
            `images_to_hdf5.py`.

    Returns:
        A dict with `image_shape`, `class_names` and `split_sizes`.

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
        path, "Convert your images again with data_scripts/images_to_hdf5.py.")
    with hdf5_rows.open_file(path, fix) as file:
        for attribute in ("class_names", "image_shape"):
            if attribute not in file.attrs:
                raise ValueError(
                    f"{path} has no {attribute!r} attribute, so it is not in the "
                    f"course layout (datasets found: {', '.join(file)[:100]}). {fix}")
        class_names = json.loads(file.attrs["class_names"])
        image_shape = tuple(int(d) for d in file.attrs["image_shape"])
        sizes = {}
        for split in config.SPLITS:
            for name in ("images", "labels", "ids"):
                if f"{split}/{name}" not in file:
                    raise ValueError(
                        f"{path} has no dataset /{split}/{name}. Expected "
                        f"/train, /valid and /test groups holding images, "
                        f"labels and ids. {fix}")
            group = file[split]
            n = len(group["images"])
            if group["images"].shape[1:] != image_shape or group["images"].dtype != np.uint8:
                raise ValueError(
                    f"{path}:/{split}/images is {group['images'].dtype} "
                    f"{group['images'].shape}, expected uint8 (n, "
                    f"{', '.join(map(str, image_shape))}). {fix}")
            if len(group["labels"]) != n or len(group["ids"]) != n:
                raise ValueError(
                    f"{path}:/{split} holds {n} images but "
                    f"{len(group['labels'])} labels and {len(group['ids'])} ids. "
                    f"{fix}")
            sizes[split] = n
    return {"image_shape": image_shape, "class_names": class_names,
            "split_sizes": sizes}


def _write_hdf5(path, profile, progress):
    ranges = split_ranges(profile)
    with HDF5Writer(path, profile.image_shape, config.CLASS_NAMES,
                    chunk_rows=profile.chunk_rows,
                    attrs={"profile": profile.name, "seed": config.SEED}) as writer:
        for split, start, stop in _blocks(ranges, profile, progress, "hdf5"):
            writer.append(split,
                          synthetic.images(start, stop, profile.image_size, config.SEED),
                          synthetic.labels(start, stop, config.SEED),
                          np.arange(start, stop))


def _hdf5_is_usable(path, profile):
    return check_hdf5(path)["split_sizes"] == profile.split_sizes


# --- npy directory ----------------------------------------------------------


def _write_npy(folder, profile, progress):
    folder.mkdir()
    ranges = split_ranges(profile)
    for _, start, stop in _blocks(ranges, profile, progress, "npy"):
        block = synthetic.images(start, stop, profile.image_size, config.SEED)
        for sample_id, image in zip(range(start, stop), block):
            np.save(folder / f"{sample_name(sample_id)}.npy", image)
    labels = synthetic.labels(0, profile.n_samples, config.SEED)
    partition = {split: [sample_name(i) for i in ids] for split, ids in ranges.items()}
    (folder / "partition.json").write_text(json.dumps(partition))
    (folder / "labels.json").write_text(json.dumps(
        {sample_name(i): int(label) for i, label in enumerate(labels)}))


def read_partition(folder):
    """Reads the npy layout's `partition.json` and `labels.json`.

    Returns:
        `(partition, labels)`: `{split: [names]}` and `{name: label}`.

    Raises:
        FileNotFoundError: if either file is missing.
    """
    folder = Path(folder)
    loaded = []
    for name in ("partition.json", "labels.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"No {name} in {str(folder)[:100]}. An npy dataset folder holds "
                f"one .npy per sample plus partition.json and labels.json; build "
                f"it with `make data`.")
        loaded.append(json.loads((folder / name).read_text()))
    return tuple(loaded)


def _npy_is_usable(folder, profile):
    partition, labels = read_partition(folder)
    names = [name for split in config.SPLITS for name in partition.get(split, [])]
    on_disk = {entry.name[:-4] for entry in os.scandir(folder)
               if entry.name.endswith(".npy")}
    return (len(names) == profile.n_samples and set(labels) == set(names)
            and on_disk == set(names))


# --- bcolz feature matrix and index table -----------------------------------


def _write_bcolz(folder, profile, progress):
    folder.mkdir()

    def blocks():
        for split, start, stop in _blocks(split_ranges(profile), profile, progress, "bcolz"):
            _index_block(split, start, stop).to_csv(
                folder / INDEX_NAME, mode="a", header=start == 0, index=False)
            yield start, synthetic.features(start, stop, profile.n_features, config.SEED)

    features.write_features(folder / FEATURE_MATRIX_NAME, blocks(), profile.n_samples,
                            profile.n_features)


def _index_block(split, start, stop):
    """Rows `start..stop-1` of the index table (id, name, split, label, npy_path)."""
    names = [sample_name(i) for i in range(start, stop)]
    return pd.DataFrame({
        "id": np.arange(start, stop),
        "name": names,
        "split": split,
        "label": synthetic.labels(start, stop, config.SEED),
        "npy_path": [f"{NPY_NAME}/{name}.npy" for name in names],
    })


def open_features(profile=None):
    """Opens the feature matrix of a profile read-only, building it if needed.

    Returns:
        A `bcolz.carray` of shape `(n_samples, n_features)`; row i is sample i.
    """
    folder = ensure_layout("bcolz", profile)
    return bcolz.open(str(folder / FEATURE_MATRIX_NAME), mode="r")


def read_index(profile=None):
    """Reads the index table (id, name, split, label, npy_path) of a profile."""
    folder = ensure_layout("bcolz", profile)
    return pd.read_csv(folder / INDEX_NAME)


def _bcolz_is_usable(folder, profile):
    matrix = bcolz.open(str(folder / FEATURE_MATRIX_NAME), mode="r")
    index = pd.read_csv(folder / INDEX_NAME)
    return matrix.shape == (profile.n_samples, profile.n_features) and len(index) == len(matrix)


# --- building and reusing layouts -------------------------------------------

_WRITERS = {"hdf5": _write_hdf5, "npy": _write_npy, "bcolz": _write_bcolz}
_USABLE = {"hdf5": _hdf5_is_usable, "npy": _npy_is_usable, "bcolz": _bcolz_is_usable}


def _blocks(ranges, profile, progress, label):
    """Yields `(split, start, stop)` blocks of at most `profile.block_size` ids."""
    with tqdm(total=profile.n_samples, unit="sample", disable=not progress,
              desc=f"{label} ({profile.name})") as bar:
        for split, ids in ranges.items():
            for start in range(ids.start, ids.stop, profile.block_size):
                stop = min(start + profile.block_size, ids.stop)
                yield split, start, stop
                bar.update(stop - start)


def layout_status(layout, profile=None):
    """Says whether a layout can be used as it is.

    Returns:
        `"complete"`, `"missing"`, `"incomplete"` (a `.partial` build or no
        manifest: an interrupted run), `"stale"` (built for other settings) or
        `"damaged: <reason>"` (manifest matches but the data does not).
    """
    profile = config.get_profile(profile)
    path = layout_path(layout, profile)
    manifest = atomic.manifest_path(path)
    if not path.exists():
        return "incomplete" if atomic.partial_path(path).exists() else "missing"
    if not manifest.is_file():
        return "incomplete"
    try:
        if json.loads(manifest.read_text()) != _fingerprint(layout, profile):
            return "stale"
        if not _USABLE[layout](path, profile):
            return "damaged: its contents do not match the manifest"
    except (OSError, ValueError, KeyError) as error:
        return f"damaged: {str(error)[:150]}"
    return "complete"


def ensure_layout(layout, profile=None, force=False, progress=True):
    """Builds one layout of the course data unless a complete one exists.

    Idempotent and quick when the data is already there. An incomplete, stale
    or damaged layout is rebuilt, and a line says why.

    Args:
        layout: `"hdf5"`, `"npy"` or `"bcolz"`.
        profile: a profile name or `Profile`; `None` means the current one.
        force: rebuild even when a complete layout exists.
        progress: show a progress bar while writing.

    Returns:
        The path of the layout.

    Raises:
        ValueError: for an unknown layout or profile.
        PermissionError: if the data folder is not writable.
        OSError: if the disk has too little free space.

    Example:

    ```python
    ensure_layout("hdf5", "ci")  # -> PosixPath('.../data/ci/course.h5')
    ```
    """
    profile = config.get_profile(profile)
    path = layout_path(layout, profile)
    status = layout_status(layout, profile)
    if status == "complete" and not force:
        return path
    if status not in ("missing", "complete"):
        print(f"{path} is {status}; rebuilding it.")
    _check_free_space(path.parent, _estimated_bytes(layout, profile))
    with atomic.building(path, _fingerprint(layout, profile)) as partial:
        _WRITERS[layout](partial, profile, progress)
    return path


def ensure_all(profile=None, layouts=LAYOUTS, force=False, progress=True):
    """Builds every layout a lesson needs; returns `{layout: path}`.

    Example:

    ```python
    paths = ensure_all("ci")
    sorted(paths)  # -> ['bcolz', 'hdf5', 'npy']
    ```
    """
    return {layout: ensure_layout(layout, profile, force, progress) for layout in layouts}


def course_hdf5(profile=None, progress=True):
    """Returns the HDF5 file the lessons train on, building it if needed.

    When `COURSE_HDF5` names a file (for example one made from your own images
    with `data_scripts/images_to_hdf5.py`), that file is checked and used
    instead of the synthetic data.

    Raises:
        FileNotFoundError, ValueError: if `COURSE_HDF5` names a file that is
            missing or not in the course layout (see `check_hdf5`).
    """
    user_file = os.environ.get(USER_HDF5_ENV, "").strip()
    if user_file:
        path = Path(user_file).expanduser()
        check_hdf5(path)
        return path
    return ensure_layout("hdf5", profile, progress=progress)


def load_split(path, split, limit=None, dtype=None):
    """Loads a whole split of an HDF5 file into memory: the classic recipe.

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
    if split not in config.SPLITS:
        raise ValueError(
            f"Unknown split {str(split)[:100]!r}. Expected one of "
            f"{', '.join(config.SPLITS)}.")
    with hdf5_rows.open_file(path) as file:
        images = file[split]["images"][:limit]
        labels = file[split]["labels"][:limit]
    if dtype is not None:
        images = images.astype(dtype)
        images /= 255  # in place: one float copy, not two
    return images, labels
