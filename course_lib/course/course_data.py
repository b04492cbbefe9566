"""The course's synthetic data, built once per profile in each layout.

| layout  | path in the data folder | what it holds                                 |
|---------|-------------------------|-----------------------------------------------|
| `hdf5`  | `course.h5`             | `/<split>/images`, `/labels`, `/ids` per split |
| `npy`   | `npy/`                  | one `<name>.npy` per sample, `partition.json`, `labels.json` |
| `bcolz` | `features/`             | `matrix.bcolz` (row i = sample i), `index.csv` |
| `images`| `images/`               | `<split>/<class>/<name>.jpg`: one JPEG file per sample |
| `hdf5_jpeg` | `course_jpeg.h5`    | as `hdf5`, but each image stored as its JPEG bytes |
| `records` | `records/`            | `<split>/shard-*.tfrecord` + `shards.json` (`records`) |
| `array_record` | `array_record/` | `<split>.array_record`, `array_records.json` |

The HDF5 and npy formats are described in `formats.hdf5` and `formats.npy`, and the TFRecord shards
in `records`; users' own files follow them too. The four encoded layouts hold
the same images as JPEG (quality `encoded.JPEG_QUALITY`), so they can be
compared with the raw pixels: size on disk against decoding work. Samples have global ids: the
training split is numbered first,
then the validation split, then the test split. Sample `i` is called
`id-000i` in the npy layout and owns row `i` of the feature matrix.

Every writer holds one block of samples in memory at a time, so writing needs
the same memory for a thousand samples or for a dataset bigger than RAM. A
layout is built with `atomic.building`: under a `.partial` name, renamed into
place when complete, and only then given its manifest
(`<path>.manifest.json`). A layout without a matching manifest (an
interrupted run, another profile, a damaged file) is rebuilt, never used.

Each layout is one `Layout` record in `LAYOUTS`: a new layout is a new record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from course_lib import config, errors
from course_lib.course import synthetic
from course_lib.formats import atomic, encoded, features, hdf5, npy

FEATURE_MATRIX_NAME = "matrix.bcolz"
INDEX_NAME = "index.csv"
USER_HDF5_ENV = "COURSE_HDF5"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one layout of the course data is named, written, sized and checked.

    Used by the kit, not by a lesson.

    Attributes:
        name: the layout's name, a key of `LAYOUTS`: `"hdf5"`, `"npy"`, `"bcolz"`
            (the core three, `CORE_LAYOUTS`), `"images"`, `"hdf5_jpeg"`, `"records"`,
            `"array_record"`.
        path_name: its file or folder name in the profile's data folder.
        profile_fields: the profile settings its contents depend on; a layout
            built with other values is stale.
        write: `write(partial_path, profile, progress)` builds it.
        is_usable: `is_usable(path, profile)` checks a built one's contents.
        estimated_bytes: `estimated_bytes(profile)`, its size on disk.
        versions: generator versions its contents depend on.
    """

    name: str
    path_name: str
    profile_fields: tuple
    write: Callable
    is_usable: Callable
    estimated_bytes: Callable
    versions: dict = dataclasses.field(default_factory=dict)


def split_ranges(profile: str | config.Profile | None = None):
    """Returns `{split: range of global sample ids}` for a profile.

    First used in lesson 00 (setup_and_data).

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


def _blocks(profile, progress, label):
    """Yields `(split, start, stop)` blocks of at most `profile.block_size` ids."""
    with tqdm(
        total=profile.n_samples,
        unit="sample",
        disable=not progress,
        desc=f"{label} ({profile.name})",
    ) as bar:
        for split, ids in split_ranges(profile).items():
            for start in range(ids.start, ids.stop, profile.block_size):
                stop = min(start + profile.block_size, ids.stop)
                yield split, start, stop
                bar.update(stop - start)


# --- hdf5 ---------------------------------------------------------------------


def _hdf5_writer(encoding=None):
    """The writer of the `hdf5` layout (raw pixels) or, with `encoding`, of `hdf5_jpeg`."""

    def write(path, profile, progress):
        with hdf5.HDF5Writer(
            path,
            profile.image_shape,
            config.CLASS_NAMES,
            chunk_rows=profile.chunk_rows,
            encoding=encoding,
            attrs={"profile": profile.name, "seed": config.SEED},
        ) as writer:
            for split, start, stop in _blocks(profile, progress, encoding or "hdf5"):
                writer.append(
                    split,
                    synthetic.images(start, stop, profile.image_size, config.SEED),
                    synthetic.labels(start, stop, config.SEED),
                    np.arange(start, stop),
                )

    return write


def _hdf5_check(encoding=None):
    """The usability check of the `hdf5` layout, or of `hdf5_jpeg` with `encoding`."""

    def is_usable(path, profile):
        described = hdf5.check_hdf5(path)
        return described["split_sizes"] == profile.split_sizes and described["encoding"] == encoding

    return is_usable


# --- npy ----------------------------------------------------------------------


def _write_npy(folder, profile, progress):
    folder.mkdir()
    for _, start, stop in _blocks(profile, progress, "npy"):
        block = synthetic.images(start, stop, profile.image_size, config.SEED)
        for sample_id, image in zip(range(start, stop), block):
            np.save(folder / f"{npy.sample_name(sample_id)}.npy", image)
    labels = synthetic.labels(0, profile.n_samples, config.SEED)
    npy.write_partition(
        folder,
        {split: [npy.sample_name(i) for i in ids] for split, ids in split_ranges(profile).items()},
        {npy.sample_name(i): label for i, label in enumerate(labels)},
    )


def _npy_is_usable(folder, profile):
    partition, labels = npy.read_partition(folder)
    names = [name for split in config.SPLITS for name in partition.get(split, [])]
    on_disk = {entry.name[:-4] for entry in os.scandir(folder) if entry.name.endswith(".npy")}
    return len(names) == profile.n_samples and set(labels) == set(names) and on_disk == set(names)


def _npy_bytes(profile):
    """One file per sample, each at least one 4 KiB block."""
    return max(profile.image_bytes // profile.n_samples + 128, 4096) * profile.n_samples


# --- bcolz feature matrix and index table ---------------------------------------


def _write_bcolz(folder, profile, progress):
    folder.mkdir()

    def blocks():
        for split, start, stop in _blocks(profile, progress, "bcolz"):
            _index_block(split, start, stop).to_csv(
                folder / INDEX_NAME, mode="a", header=start == 0, index=False
            )
            yield start, synthetic.features(start, stop, profile.n_features, config.SEED)

    features.write_features(
        folder / FEATURE_MATRIX_NAME, blocks(), profile.n_samples, profile.n_features
    )


def _index_block(split, start, stop):
    """Rows `start..stop-1` of the index table (id, name, split, label, npy_path)."""
    names = [npy.sample_name(i) for i in range(start, stop)]
    return pd.DataFrame(
        {
            "id": np.arange(start, stop),
            "name": names,
            "split": split,
            "label": synthetic.labels(start, stop, config.SEED),
            "npy_path": [f"{LAYOUTS['npy'].path_name}/{name}.npy" for name in names],
        }
    )


def _bcolz_is_usable(folder, profile):
    import bcolz  # only where the features are used: the rest of the kit runs without bcolz

    matrix = bcolz.open(str(folder / FEATURE_MATRIX_NAME), mode="r")
    index = pd.read_csv(folder / INDEX_NAME)
    return matrix.shape == (profile.n_samples, profile.n_features) and len(index) == len(matrix)


# --- encoded images: a folder of JPEG files, JPEG bytes in HDF5, TFRecord shards ---


def _jpeg_blocks(profile, progress, label):
    """Yields `(split, ids, labels, jpeg bytes)` one block at a time."""
    for split, start, stop in _blocks(profile, progress, label):
        images = synthetic.images(start, stop, profile.image_size, config.SEED)
        yield (
            split,
            range(start, stop),
            synthetic.labels(start, stop, config.SEED),
            [encoded.encode(image) for image in images],
        )


def image_path(split: str, label: int, sample_id: int):
    """A sample's file in the `images` layout, relative to its folder.

    Used by the kit, not by a lesson.

    Example:

    >>> str(image_path("train", 2, 7))
    'train/triangle/id-000007.jpg'
    """
    return Path(split, config.CLASS_NAMES[label], f"{npy.sample_name(sample_id)}.jpg")


def _write_images(folder, profile, progress):
    for split, ids, labels, blobs in _jpeg_blocks(profile, progress, "images"):
        for sample_id, label, blob in zip(ids, labels, blobs):
            path = folder / image_path(split, label, sample_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)


def _images_are_usable(folder, profile):
    return all(
        sum(1 for _ in (folder / split).rglob("*.jpg")) == size
        for split, size in profile.split_sizes.items()
    )


def image_table(split: str = "train", profile: str | config.Profile | None = None):
    """The `images` layout's files of one split as a DataFrame: `path`, `label`, `id`.

    First used in lesson 09 (files_and_records).

    The shape many classic recipes start from: file paths and labels in a
    table, read one file per sample.

    Example:

    ```python
    image_table("train", "ci").head(2)
    # -> path .../images/train/circle/id-000003.jpg, label 0, id 3
    ```
    """
    profile = config.get_profile(profile)
    folder = ensure_layout("images", profile)
    ids = np.array(split_ranges(profile)[split])
    labels = synthetic.labels(ids[0], ids[-1] + 1, config.SEED)
    return pd.DataFrame(
        {
            "path": [str(folder / image_path(split, label, i)) for i, label in zip(ids, labels)],
            "label": labels,
            "id": ids,
        }
    )


def _write_records(folder, profile, progress):
    from course_lib.course import startup

    with startup.start_up_notes_hidden():  # TensorFlow loads here, only when records are built
        from course_lib.formats import records

    info = {"class_names": list(config.CLASS_NAMES), "image_shape": list(profile.image_shape)}
    writers = {
        split: records.ShardWriter(folder / split, profile.shard_bytes, info)
        for split in config.SPLITS
    }
    for split, ids, labels, blobs in _jpeg_blocks(profile, progress, "records"):
        for sample_id, label, blob in zip(ids, labels, blobs):
            writers[split].write(records.serialize(blob, label, sample_id))
    for writer in writers.values():
        writer.close()


def _records_are_usable(folder, profile):
    from course_lib.formats import records

    return all(
        sum(records.check_shards(folder / split)[1]) == size
        for split, size in profile.split_sizes.items()
    )


def _write_array_records(folder, profile, progress):
    from course_lib.formats import array_records

    info = {"class_names": list(config.CLASS_NAMES), "image_shape": list(profile.image_shape)}
    with array_records.ArrayRecordWriter(folder, info) as writer:
        for split, ids, labels, blobs in _jpeg_blocks(profile, progress, "array_record"):
            for sample_id, label, blob in zip(ids, labels, blobs):
                writer.write(split, array_records.pack(blob, label, sample_id))


def _array_records_are_usable(folder, profile):
    from course_lib.formats import array_records

    return all(
        len(array_records.ArrayRecordFile(folder, split)) == size
        for split, size in profile.split_sizes.items()
    )


def _encoded_bytes(profile):
    """JPEG of the course images: about a third of the pixels; a 4 KiB block per file."""
    return max(profile.image_bytes // profile.n_samples // 2, 4096) * profile.n_samples


LAYOUTS = {
    "hdf5": Layout(
        "hdf5",
        "course.h5",
        ("image_size", "chunk_rows"),
        _hdf5_writer(),
        _hdf5_check(),
        lambda profile: profile.image_bytes,
    ),
    "npy": Layout("npy", "npy", ("image_size",), _write_npy, _npy_is_usable, _npy_bytes),
    "bcolz": Layout(
        "bcolz",
        "features",
        ("n_features",),
        _write_bcolz,
        _bcolz_is_usable,
        lambda profile: profile.feature_bytes,
        {"features_version": synthetic.FEATURES_VERSION},
    ),
    "images": Layout(
        "images",
        "images",
        ("image_size",),
        _write_images,
        _images_are_usable,
        _encoded_bytes,
        {"jpeg_quality": encoded.JPEG_QUALITY},
    ),
    "hdf5_jpeg": Layout(
        "hdf5_jpeg",
        "course_jpeg.h5",
        ("image_size",),
        _hdf5_writer("jpeg"),
        _hdf5_check("jpeg"),
        lambda profile: profile.image_bytes // 2,
        {"jpeg_quality": encoded.JPEG_QUALITY},
    ),
    "records": Layout(
        "records",
        "records",
        ("image_size", "shard_bytes"),
        _write_records,
        _records_are_usable,
        lambda profile: profile.image_bytes // 2,
        {"jpeg_quality": encoded.JPEG_QUALITY},
    ),
    "array_record": Layout(
        "array_record",
        "array_record",
        ("image_size",),
        _write_array_records,
        _array_records_are_usable,
        lambda profile: profile.image_bytes // 2,
        {"jpeg_quality": encoded.JPEG_QUALITY},
    ),
}
CORE_LAYOUTS = ("hdf5", "npy", "bcolz")
"""The layouts lessons 00-08 use; the encoded ones are built by the lesson on files and records."""


# --- building and reusing layouts -------------------------------------------------


def _layout(name):
    errors.check_choice("layout", name, tuple(LAYOUTS))
    return LAYOUTS[name]


def layout_path(layout: str, profile: str | config.Profile | None = None):
    """Returns where `layout` lives for a profile (built or not).

    Used by the kit, not by a lesson.

    Raises:
        ValueError: if `layout` is not one of `LAYOUTS`.
    """
    return config.data_dir(profile) / _layout(layout).path_name


def _fingerprint(layout, profile):
    """What a built layout must match to be reused."""
    return {
        "layout": layout.name,
        "format_version": FORMAT_VERSION,
        "seed": config.SEED,
        "split_sizes": profile.split_sizes,
        **{field: getattr(profile, field) for field in layout.profile_fields},
        **layout.versions,
    }


def disk_usage(path: str | Path):
    """Returns `(bytes, files)` used on disk by a file or a folder tree.

    First used in lesson 00 (setup_and_data).

    Bytes are what the file system allocates (whole blocks, usually 4 KiB),
    so a thousand 100-byte files count as about 4 MB, not 100 KB.
    """
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files), len(files)


def _check_free_space(folder, needed):
    free = shutil.disk_usage(folder).free
    if free < needed * 1.05:
        raise OSError(
            f"Not enough disk space in {str(folder)[:100]}: the data needs about "
            f"{needed / 2**30:.1f} GiB and {free / 2**30:.1f} GiB are free. Free "
            f"some space, or point {config.DATA_DIR_ENV} at a bigger disk."
        )


def layout_status(layout: str, profile: str | config.Profile | None = None):
    """Says whether a layout can be used as it is.

    First used in lesson 00 (setup_and_data).

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
        if json.loads(manifest.read_text()) != _fingerprint(LAYOUTS[layout], profile):
            return "stale"
        if not LAYOUTS[layout].is_usable(path, profile):
            return "damaged: its contents do not match the manifest"
    except (OSError, ValueError, KeyError) as error:
        return f"damaged: {str(error)[:150]}"
    return "complete"


def ensure_layout(
    layout: str,
    profile: str | config.Profile | None = None,
    force: bool = False,
    progress: bool = True,
):
    """Builds one layout of the course data unless a complete one exists.

    First used in lesson 03 (pydataset).

    Idempotent and quick when the data is already there. An incomplete, stale
    or damaged layout is rebuilt, and a line says why.

    Args:
        layout: a name of `LAYOUTS` (see `Layout.name`).
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
    record = LAYOUTS[layout]
    _check_free_space(path.parent, record.estimated_bytes(profile))
    with atomic.building(path, _fingerprint(record, profile)) as partial:
        record.write(partial, profile, progress)
    return path


def ensure_all(
    profile: str | config.Profile | None = None,
    names: Sequence[str] = CORE_LAYOUTS,
    force: bool = False,
    progress: bool = True,
):
    """Builds every layout a lesson needs; returns `{layout: path}`.

    First used in lesson 00 (setup_and_data).

    Example:

    ```python
    paths = ensure_all("ci")
    sorted(paths)  # -> ['bcolz', 'hdf5', 'npy']
    ```
    """
    return {name: ensure_layout(name, profile, force, progress) for name in names}


def course_hdf5(profile: str | config.Profile | None = None, progress: bool = True):
    """Returns the HDF5 file the lessons train on, building it if needed.

    First used in lesson 01 (in_memory_fit).

    When `COURSE_HDF5` names a file (for example one made from your own images
    with `data_scripts/images_to_hdf5.py`), that file is checked and used
    instead of the synthetic data.

    Raises:
        FileNotFoundError, ValueError: if `COURSE_HDF5` names a file that is
            missing or not in the course layout (see `hdf5.check_hdf5`).
    """
    user_file = os.environ.get(USER_HDF5_ENV, "").strip()
    if user_file:
        path = Path(user_file).expanduser()
        hdf5.check_hdf5(path)
        return path
    return ensure_layout("hdf5", profile, progress=progress)


def open_features(profile: str | config.Profile | None = None):
    """Opens the feature matrix of a profile read-only, building it if needed.

    First used in lesson 00 (setup_and_data).

    Returns:
        A `bcolz.carray` of shape `(n_samples, n_features)`; row i is sample i.
    """
    import bcolz

    folder = ensure_layout("bcolz", profile)
    return bcolz.open(str(folder / FEATURE_MATRIX_NAME), mode="r")


def read_index(profile: str | config.Profile | None = None):
    """Reads the index table (id, name, split, label, npy_path) of a profile.

    First used in lesson 00 (setup_and_data).
    """
    folder = ensure_layout("bcolz", profile)
    return pd.read_csv(folder / INDEX_NAME)
