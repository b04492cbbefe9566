"""Warm and cold reads of every storage format, against the disk's own bandwidth.

A file that fits in memory is read from the page cache after its first epoch
("warm"). Data bigger than memory is read from the disk every epoch ("cold").
These measurements evict each file before each cold epoch
(`pagecache.evict`, checked), so a small course file behaves like a big one,
and compare every reader with the fastest the disk can deliver: the files'
own bytes read in order in large blocks.

| measurement      | what it returns                                               |
|------------------|---------------------------------------------------------------|
| `disk_bandwidth` | MB/s of a cold sequential read of a file, 8 MiB at a time      |
| `format_reads`   | cold and warm MB/s, CPU s/GB, `x disk`, `x plain preadv`       |
| `plain_reads`    | the same byte ranges in the same order, plain `os.preadv`      |
| `record_reads`   | ArrayRecord through Grain against TFRecord through `tf.data`   |
| `disk_sizes`     | the same images as raw pixels, JPEG in HDF5, TFRecord, files   |
| `decode_costs`   | JPEG size and decode time on the course images and on photos  |

`python -m course_lib.bench cold` prints them (inside `make bench` too).
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from course_lib import config
from course_lib.course import course_data
from course_lib.formats import encoded, hdf5, npy
from course_lib.measure import pagecache
from course_lib.measure.harness import own_cpu_seconds, rate, read_epoch

if typing.TYPE_CHECKING:
    import keras

BLOCK = 8 * 2**20


def read_sequentially(paths: Iterable[str | Path], block: int = BLOCK):
    """Reads every byte of the files in order, `block` at a time; returns the bytes read.

    Used by the kit, not by a lesson.
    """
    buffer, total = bytearray(block), 0
    for path in paths:
        with open(path, "rb", buffering=0) as file:
            while count := file.readinto(buffer):
                total += count
    return total


def timed(run: Callable[[], object], evict_paths: Iterable[str | Path] = ()):
    """Seconds `run()` takes, after evicting `evict_paths` (checked) when given.

    Used by the kit, not by a lesson.
    """
    for path in evict_paths:
        pagecache.evict(path)
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def plain_reads(ranges):
    """Reads `(path, byte offset, bytes)` ranges in order, one plain `os.preadv`
    each: no readahead hints, no parsing, one reused buffer.

    The baseline of a reader's cold epoch: the same bytes in the same order,
    so the ratio shows what the reader's own work and hints cost or gain,
    whatever this host's disk does. Returns the bytes read.
    """
    buffer = memoryview(bytearray(max((n for _, _, n in ranges), default=0)))
    total, path, fd = 0, None, None
    try:
        for where, offset, size in ranges:
            if where != path:
                if fd is not None:
                    os.close(fd)
                path, fd = where, os.open(where, os.O_RDONLY)
            total += os.preadv(fd, [buffer[:size]], offset)
    finally:
        if fd is not None:
            os.close(fd)
    return total


def epoch_ranges(loader):
    """The `(path, byte offset, bytes)` one epoch of `loader` reads, in order.

    Exact for an HDF5 loader with direct reads (its `RowReader`'s runs, batch
    after batch) and for sources of one file per sample (each file whole, in
    the epoch's order); `None` for the rest (h5py reads, tf.data pipelines),
    whose byte order is not the kit's to know.
    """
    from course_lib.formats.hdf5 import HDF5Rows
    from course_lib.formats.image_files import ImageFiles
    from course_lib.formats.npy import NpyFiles

    source = loader.inputs if hasattr(loader, "inputs") else loader.images
    batches = loader.sampler.batches(loader.epoch)
    rows = getattr(loader, "rows", None)
    if type(source) is HDF5Rows:
        reader = source.reader()
        if not isinstance(reader, hdf5.RowReader) or not reader.direct:
            return None
        return [
            (str(source.path), offset, size)
            for batch in batches
            for offset, size in reader.byte_ranges(batch if rows is None else rows[batch])
        ]
    if isinstance(source, (ImageFiles, NpyFiles)):
        paths = (
            source.paths
            if isinstance(source, ImageFiles)
            else [source.folder / f"{name}.npy" for name in source.names]
        )
        return [(str(paths[i]), 0, os.path.getsize(paths[i])) for b in batches for i in b]
    return None


def disk_bandwidth(path: str | Path, repeat: int = 3):
    """MB/s of reading `path`'s bytes cold, in order, 8 MiB at a time: best of `repeat`.

    Used by the kit, not by a lesson.

    The physical limit of any reader of this disk: no reader of data bigger
    than memory can beat it.

    Raises:
        pagecache.EvictionFailed: if the file cannot be evicted.
    """
    files = pagecache.files_of(path)
    size = sum(os.path.getsize(f) for f in files)
    return size / 1e6 / min(timed(lambda: read_sequentially(files), [path]) for _ in range(repeat))


def threaded_epoch(loader: keras.utils.PyDataset, threads: int):
    """Reads one epoch of a loader's batches with `threads` threads at once
    (what `PyDataset(workers=threads)` does, without Keras's queue).

    Used by the kit, not by a lesson.
    """
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(loader.__getitem__, range(len(loader))):
            pass


def _stored_bytes(files):
    return sum(os.path.getsize(f) for f in files)


def raw_records_epoch(folder: str | Path, batch_size: int):
    """One epoch over a folder's TFRecord shards read with `interleave`, not parsed.

    Used by the kit, not by a lesson.

    Returns:
        `(run_one_epoch, stored bytes of the shards)`.
    """
    import tensorflow as tf

    names = [str(f) for f in sorted(Path(folder).glob("*.tfrecord"))]
    dataset = (
        tf.data.Dataset.from_tensor_slices(names)
        .interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return (lambda: [None for _ in dataset]), _stored_bytes(names)


def readers(profile: str | config.Profile = "lesson", threads: int = 2):
    """The readers of the training split that `format_reads` measures.

    Used by the kit, not by a lesson.

    Returns:
        `{name: (run_one_epoch, paths to evict, stored bytes read per epoch,
        its byte ranges or None)}` (see `epoch_ranges`).
    """
    import keras

    from course_lib.formats import hdf5, records
    from course_lib.formats.image_files import ImageFiles
    from course_lib.loading import loaders

    p = config.get_profile(profile)
    paths = {
        name: course_data.ensure_layout(name, p, progress=False)
        for name in ("hdf5", "hdf5_jpeg", "records", "npy", "images")
    }
    batch, n = p.batch_size, p.n_train
    shards, image_folder = paths["records"] / "train", paths["images"] / "train"
    partition, labels = npy.read_partition(paths["npy"])
    with hdf5.open_file(paths["hdf5_jpeg"]) as file:
        jpeg_bytes = sum(len(row) for row in file["train/images"][:])

    def hdf5_loader(path, shuffle, stored, workers=1, **options):
        loader = loaders.HDF5Dataset(path, batch_size=batch, shuffle=shuffle, seed=0, **options)
        run = (
            (lambda: read_epoch(loader))
            if workers == 1
            else lambda: threaded_epoch(loader, workers)
        )
        return run, [path], stored, epoch_ranges(loader)

    def record_epoch(decode):
        dataset = records.record_dataset(shards, batch, seed=0, decode=decode)
        return lambda: [None for _ in dataset]

    image_table = course_data.image_table("train", p)
    files = image_table["path"].tolist()
    image_files = loaders.SourceDataset(
        ImageFiles(files, p.image_shape),
        image_table["label"].to_numpy(),
        batch_size=batch,
        shuffle="full",
        seed=0,
    )

    def keras_epoch():
        dataset = keras.utils.image_dataset_from_directory(
            image_folder, image_size=p.image_shape[:2], batch_size=batch, seed=0, verbose=False
        )
        for _ in dataset:
            pass

    npy_loader = loaders.NpyDirectoryDataset(
        paths["npy"], partition["train"], labels, batch_size=batch, seed=0
    )
    raw_run, record_bytes = raw_records_epoch(shards, batch)
    raw, file_bytes = n * int(np.prod(p.image_shape)), _stored_bytes(files)
    npy_bytes = _stored_bytes(paths["npy"] / f"{name}.npy" for name in partition["train"])
    return {
        "HDF5 raw pixels, block (readahead 16, the default)": hdf5_loader(
            paths["hdf5"], "block", raw
        ),
        "HDF5 raw pixels, block, no readahead": hdf5_loader(
            paths["hdf5"], "block", raw, readahead=0
        ),
        "HDF5 raw pixels, full shuffle": hdf5_loader(paths["hdf5"], "full", raw),
        "HDF5 JPEG bytes, block + decode": hdf5_loader(paths["hdf5_jpeg"], "block", jpeg_bytes),
        f"HDF5 JPEG bytes, block + decode, {threads} threads": hdf5_loader(
            paths["hdf5_jpeg"], "block", jpeg_bytes, threads
        ),
        "TFRecord interleave, records only": (raw_run, [shards], record_bytes, None),
        "TFRecord interleave, parse": (record_epoch(False), [shards], record_bytes, None),
        "TFRecord interleave, parse + decode": (record_epoch(True), [shards], record_bytes, None),
        "per-sample .npy files, full shuffle": (
            lambda: read_epoch(npy_loader),
            [paths["npy"]],
            npy_bytes,
            epoch_ranges(npy_loader),
        ),
        f"JPEG files from a DataFrame, {threads} threads": (
            lambda: threaded_epoch(image_files, threads),
            [image_folder],
            file_bytes,
            epoch_ranges(image_files),
        ),
        "keras image_dataset_from_directory": (keras_epoch, [image_folder], file_bytes, None),
    }


def photo_records(folder: str | Path, megabytes: int = 96, side: int = 299, shards: int = 12):
    """Writes TFRecord shards of 299x299 photo crops (food-101-sized records).

    Used by the kit, not by a lesson.

    The course's 64x64 records are about 2.5 KiB, so reading them costs
    per-record work more than disk time. These records are about 30 KiB, like
    a real dataset's, to measure the pipeline where the disk is the limit.
    They are split in `shards` files: a real dataset has many, and a reader
    that interleaves 4 files needs at least 4 of them to keep 4 reads going.

    Returns:
        `(folder, records written)`.
    """
    from course_lib.formats import records

    crops, _ = photo_crops(side, count=32)
    blobs = [encoded.encode(crop) for crop in crops]
    count = int(megabytes * 1e6 // np.mean([len(b) for b in blobs]))
    with records.ShardWriter(
        folder,
        int(megabytes * 1e6 / shards),
        {"class_names": ["photo"], "image_shape": [side, side, 3]},
    ) as writer:
        for i in range(count):
            writer.write(records.serialize(blobs[i % len(blobs)], 0, i))
    return Path(folder), count


def measure_reader(
    run: Callable[[], object],
    evicted: Sequence[str | Path],
    stored: int,
    samples: float,
    repeat: int = 3,
    disk_file: str | Path | None = None,
    ranges: list[tuple[str, int, int]] | None = None,
):
    """One row of `format_reads`: cold and warm samples/s and MB/s of `run()`.

    Used by the kit, not by a lesson.

    With `ranges` (`epoch_ranges`), each cold epoch is also paired with a
    cold replay of the same byte ranges in the same order by `plain_reads`,
    interleaved in the same run: `x plain preadv` is the median of the
    pairs' speed ratios, a verdict that does not depend on this host's disk.

    With `disk_file`, each cold epoch is paired with a cold sequential read
    of that file just before it, and `x disk` is the median of the pairs'
    ratios (`x disk min` and `x disk max` give their range): a disk whose
    speed drifts during the run (a VM's disk cached by its host does, by
    2-3x within minutes) then moves both figures of a pair alike.

    `CPU s/GB` is the CPU time (all threads of this process) that a warm
    epoch spends per GB it reads: the reader's own cost, without the disk.
    A reader that needs `c` CPU seconds per GB cannot go faster than
    `cores / c` GB/s on any disk.

    Raises nothing when eviction fails: the row then has no cold figures, and
    its `note` says why.
    """
    run()  # warm-up: opens files, builds tf.data functions
    row = {"note": ""}
    try:
        colds, ratios, disks, plains = [], [], [], []
        for _ in range(repeat):
            disk = disk_bandwidth(disk_file, repeat=1) if disk_file is not None else None
            plain = timed(lambda: plain_reads(ranges), evicted) if ranges else None
            colds.append(timed(run, evicted))
            if plain is not None:
                plains.append(plain / colds[-1])
            if disk is not None:
                disks.append(disk)
                ratios.append(stored / 1e6 / colds[-1] / disk)
        row.update({"cold samples/s": samples / min(colds), "cold MB/s": stored / 1e6 / min(colds)})
        if plains:
            row["x plain preadv"] = float(np.median(plains))
        if ratios:
            row.update(
                {
                    "disk MB/s": float(np.median(disks)),
                    "x disk": float(np.median(ratios)),
                    "x disk min": min(ratios),
                    "x disk max": max(ratios),
                }
            )
    except pagecache.EvictionFailed as error:
        row["note"] = f"no cold figure: {error}"
    warm, cpu = [], []
    for _ in range(repeat):
        before = own_cpu_seconds()
        warm.append(timed(run))
        cpu.append(own_cpu_seconds() - before)
    row.update(
        {
            "warm samples/s": samples / min(warm),
            "warm MB/s": stored / 1e6 / min(warm),
            "CPU s/GB": min(cpu) / (stored / 1e9),
        }
    )
    return row


def format_reads(profile: str | config.Profile = "lesson", repeat: int = 3):
    """Cold and warm reads of one training epoch in every format, in one run.

    First used in lesson 09 (files_and_records).

    Each cold epoch follows an eviction of the reader's files (checked) and
    a cold sequential read of the raw HDF5 file, the disk's limit, measured
    right then (`disk_bandwidth`); the warm epochs come after the cold ones,
    with the files in the page cache. A reader whose files could not be
    evicted gets no cold figure, and its row says why.

    Returns:
        A DataFrame, one row per reader (`measure_reader`): `cold samples/s`,
        `warm samples/s`, `cold MB/s` and `warm MB/s` (stored bytes read per
        second), `CPU s/GB`, `disk MB/s` (the median of the sequential reads
        paired with its cold epochs), `x disk` (the median of the pairs'
        ratios), `x disk min`, `x disk max` and `note`. The first row is the
        disk's sequential read measured the same way, so its ratios show how
        much two reads of the same file in a row differ on this disk. The last
        row reads TFRecord shards of food-101-sized records (`photo_records`),
        written for the run.
    """
    p = config.get_profile(profile)
    raw_file = course_data.ensure_layout("hdf5", p, progress=False)
    rows = {
        "disk: sequential 8 MiB reads (the limit)": measure_reader(
            lambda: read_sequentially([raw_file]),
            [raw_file],
            os.path.getsize(raw_file),
            samples=np.nan,
            repeat=repeat,
            disk_file=raw_file,
        )
    }
    rows.update(
        {
            name: measure_reader(run, evicted, stored, p.n_train, repeat, raw_file, ranges)
            for name, (run, evicted, stored, ranges) in readers(p).items()
        }
    )
    with tempfile.TemporaryDirectory(dir=raw_file.parent) as folder:
        shards, count = photo_records(folder, 16 if p.name == "ci" else 96)
        run, stored = raw_records_epoch(shards, p.batch_size)
        rows["TFRecord interleave, records only, 299x299 photo records"] = measure_reader(
            run, [shards], stored, count, repeat, raw_file
        )
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "reader"
    return frame.reindex(
        columns=[
            "cold samples/s",
            "warm samples/s",
            "cold MB/s",
            "warm MB/s",
            "CPU s/GB",
            "x plain preadv",
            "disk MB/s",
            "x disk",
            "x disk min",
            "x disk max",
            "note",
        ]
    )


def record_reads(profile: str | config.Profile = "lesson", repeat: int = 3):
    """One training epoch of ArrayRecord (Grain) against TFRecord (`tf.data`), cold and warm.

    First used in lesson 11 (grain_and_jax).

    The same JPEG bytes in both formats. TFRecord shards are read whole and in
    sequence, mixed by a shuffle buffer; ArrayRecord records are read by number
    in a global shuffle (every epoch one permutation of all the records, no
    buffer) or in file order. Each is measured as `format_reads` measures
    (`measure_reader`), against the disk's sequential read of the raw HDF5 file.

    Returns:
        A DataFrame as `format_reads`'s, one row per reader.
    """
    import grain

    from course_lib.formats import array_records, records
    from course_lib.loading import grain_data

    p = config.get_profile(profile)
    raw_file = course_data.ensure_layout("hdf5", p, progress=False)
    shards = course_data.ensure_layout("records", p, progress=False) / "train"
    folder = course_data.ensure_layout("array_record", p, progress=False)
    path = array_records.split_path(folder, "train")
    options = grain.ReadOptions(num_threads=2, prefetch_buffer_size=2 * p.batch_size)

    def array_record_epoch(shuffle, decode):
        source = (
            array_records.ArrayRecordFile(folder, "train")
            if decode
            else grain.sources.ArrayRecordDataSource(str(path))
        )
        dataset = grain.MapDataset.source(source)
        if shuffle:
            dataset = dataset.shuffle(seed=0)
        dataset = dataset.batch(p.batch_size, batch_fn=list if not decode else None)
        return lambda: [None for _ in dataset.to_iter_dataset(options)]

    tfrecord_bytes = _stored_bytes(shards.glob("*.tfrecord"))
    rows = {
        "TFRecord interleave + shuffle buffer, parse + decode": (
            lambda: [None for _ in records.record_dataset(shards, p.batch_size, seed=0)],
            [shards],
            tfrecord_bytes,
        ),
        "TFRecord interleave, records only": (
            raw_records_epoch(shards, p.batch_size)[0],
            [shards],
            tfrecord_bytes,
        ),
    }
    batches = grain_data.global_shuffle_batches(
        array_records.ArrayRecordFile(folder, "train"), p.batch_size, seed=0, epochs=1
    )
    rows["ArrayRecord via Grain, global shuffle read by batch, parse + decode"] = (
        lambda: [None for _ in batches.to_iter_dataset(grain.ReadOptions(num_threads=1))],
        [path],
        os.path.getsize(path),
    )
    for shuffle, order in ((True, "global shuffle"), (False, "file order")):
        for decode, what in ((True, "parse + decode"), (False, "records only")):
            rows[f"ArrayRecord via Grain, {order}, {what}"] = (
                array_record_epoch(shuffle, decode),
                [path],
                os.path.getsize(path),
            )
    frame = pd.DataFrame.from_dict(
        {
            name: measure_reader(run, evicted, stored, p.n_train, repeat, raw_file)
            for name, (run, evicted, stored) in rows.items()
        },
        orient="index",
    )
    frame.index.name = "reader"
    return frame.drop(columns=["x plain preadv"], errors="ignore")


def disk_sizes(profile: str | config.Profile = "lesson"):
    """Bytes on disk of the same images in each layout, against the raw pixels.

    First used in lesson 09 (files_and_records).

    Returns:
        A DataFrame: `MiB` on disk (whole file-system blocks), `files`, and
        `x raw` (size against the raw-pixel HDF5 file).
    """
    p = config.get_profile(profile)
    rows = {}
    for name, label in (
        ("hdf5", "HDF5 raw pixels"),
        ("npy", "per-sample .npy files"),
        ("hdf5_jpeg", "HDF5 JPEG bytes"),
        ("records", "TFRecord shards"),
        ("images", "JPEG files"),
    ):
        size, files = course_data.disk_usage(course_data.ensure_layout(name, p, progress=False))
        rows[label] = {"MiB": size / 2**20, "files": files}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "layout"
    frame["x raw"] = frame["MiB"] / frame.loc["HDF5 raw pixels", "MiB"]
    return frame


def photo_crops(side: int, count: int = 64):
    """Crops of the photographs that ship with installed packages, `side` pixels square.

    Used by the kit, not by a lesson.

    matplotlib's sample data holds one photograph (Grace Hopper); when
    scikit-learn is installed its two sample images are used too. Crops are
    taken on a grid, resized when the photo is smaller than `side`.

    Returns:
        `(crops, sources)`: uint8 `(count, side, side, 3)` and the file names.
    """
    import matplotlib
    from PIL import Image

    names = [os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")]
    sklearn_file = _sklearn_file()
    if sklearn_file:
        names += glob.glob(
            os.path.join(os.path.dirname(sklearn_file), "datasets", "images", "*.jpg")
        )
    crops = []
    for name in names:
        with Image.open(name) as photo:
            photo = photo.convert("RGB")
            if min(photo.size) < side:
                photo = photo.resize((side, side))
            width, height = photo.size
            step = max(1, min(width - side, height - side) // 7)
            for top in range(0, height - side + 1, step):
                for left in range(0, width - side + 1, step):
                    crops.append(np.asarray(photo.crop((left, top, left + side, top + side))))
    picks = np.linspace(0, len(crops) - 1, count).astype(int)
    return np.stack([crops[i] for i in picks]), [os.path.basename(n) for n in names]


def _sklearn_file():
    try:
        import sklearn
    except ImportError:
        return None
    return sklearn.__file__


def _decode_row(images, threads=2, repeat=3):
    blobs = [encoded.encode(image) for image in images]
    shape = images.shape[1:]

    def decode_all(part):
        return [encoded.decode(b, shape) for b in part]

    def threaded():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(decode_all, [blobs[i :: 4 * threads] for i in range(4 * threads)]))

    one = rate(lambda: decode_all(blobs), len(blobs), repeat)
    return {
        "raw KiB": images[0].nbytes / 2**10,
        "JPEG KiB": np.mean([len(b) for b in blobs]) / 2**10,
        "x smaller": images[0].nbytes / np.mean([len(b) for b in blobs]),
        "decode us": 1e6 / one,
        f"x {threads} threads": rate(threaded, len(blobs), repeat) / one,
    }


def training_step_us(profile: str | config.Profile = "lesson", steps: int = 10):
    """Microseconds per sample of one training step of the kit's small convnet.

    Used by the kit, not by a lesson.
    """
    from course_lib.measure.running_time import training_step_seconds

    p = config.get_profile(profile)
    return 1e6 * training_step_seconds(p, steps) / p.batch_size


def decode_costs(profile: str | config.Profile = "lesson"):
    """JPEG size and decode time per image, course images against photographs.

    First used in lesson 09 (files_and_records).

    Rows: the course's synthetic images, crops of real photographs at the
    same size, and photographs at 299x299 (food-101's usual training size),
    then the training step of the small convnet per sample, for scale.

    Returns:
        A DataFrame: `raw KiB`, `JPEG KiB` (quality `encoded.JPEG_QUALITY`),
        `x smaller`, `decode us` per image (PIL, one thread), `x 2 threads`
        (decode rate with two threads against one: PIL releases the GIL while
        it decodes) and `x step` (decode time against the training step's
        time per sample).
    """
    from course_lib.course import synthetic

    p = config.get_profile(profile)
    side = p.image_size
    course = synthetic.images(0, 64, side, config.SEED)
    photos, names = photo_crops(side)
    large, _ = photo_crops(299, count=16)
    rows = {
        f"course images {side}x{side}": _decode_row(course),
        f"photo crops {side}x{side} ({', '.join(names)})": _decode_row(photos),
        "photo crops 299x299 (food-101 size)": _decode_row(large),
    }
    step = training_step_us(p)
    rows[f"training step of the small convnet, per sample ({side}x{side})"] = {"decode us": step}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "images"
    frame["x step"] = frame["decode us"] / step
    return frame
