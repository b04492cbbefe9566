"""Sharded TFRecord files of encoded images, and the `tf.data` pipeline that reads them.

The format TensorFlow users move to at scale: each split is a few files
("shards") of `tf.train.Example` records, one per sample, holding the
encoded image (`image`, JPEG/PNG bytes), its class (`label`) and its id
(`id`). Shards are read whole and in sequence, which is what a disk does
best, and several at once (`interleave`); their order is shuffled every
epoch, and a shuffle buffer mixes the records of the shards being read.

A folder of shards written here also holds `shards.json`: each shard's
record count and size, the class names and the image shape. The reader
checks every shard's size against it (a truncated shard is found before
training, named with the record where it ends), and gives Keras the number
of batches per epoch. Shards written elsewhere are checked by walking their
record headers once.

| function                     | does                                                  |
|------------------------------|-------------------------------------------------------|
| `serialize`, `parse`         | one sample to a record and back                       |
| `ShardWriter`                | writes records into shards of about `shard_bytes`    |
| `check_shards`, `scan_shard` | a folder's or a file's shards and record counts      |
| `record_dataset`             | the training pipeline: shuffled shards, `interleave`, |
|                              | parse, decode, batch, prefetch                        |
| `find_bad_record`            | names the shard and record a read error came from    |
"""

import json
import math
import re
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_lib import errors

INDEX_NAME = "shards.json"
SHARD_BYTES = 128 * 2**20
"""Default shard size: 100-200 MB shards read efficiently and are few enough
to list, yet many enough to share between workers."""
FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "id": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}
_HEADER = 12  # a record: uint64 length, uint32 CRC of the length, data, uint32 CRC


def serialize(image_bytes: bytes, label: int, sample_id: int):
    """One sample as a serialized `tf.train.Example` (`image`, `label`, `id`).

    First used in lesson 09 (files_and_records).

    Example:

    >>> record = serialize(b"not really a jpeg", 2, 17)
    >>> parsed = parse(record)
    >>> int(parsed["label"]), int(parsed["id"])
    (2, 17)
    """
    feature = tf.train.Feature
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": feature(bytes_list=tf.train.BytesList(value=[bytes(image_bytes)])),
                "label": feature(int64_list=tf.train.Int64List(value=[int(label)])),
                "id": feature(int64_list=tf.train.Int64List(value=[int(sample_id)])),
            }
        )
    ).SerializeToString()


def parse(record: tf.Tensor):
    """Parses one serialized record into `{"image", "label", "id"}` tensors.

    First used in lesson 09 (files_and_records).

    A missing feature parses as its default (`""` or -1); `record_dataset`
    turns that into an error naming the shard and the record.
    """
    return tf.io.parse_single_example(record, FEATURES)


class ShardWriter:
    """Writes serialized records into numbered shards of about `shard_bytes`.

    First used in lesson 09 (files_and_records).

    `folder/shard-00000.tfrecord`, `shard-00001.tfrecord`, ...; a new shard
    starts when the current one reaches `shard_bytes`. `close()` writes
    `shards.json`. Only the record being written is in memory.

    Args:
        folder: the folder to write into (created if needed).
        shard_bytes: the size at which a shard is closed.
        info: extra entries for `shards.json` (class names, image shape).

    Example:

    ```python
    with ShardWriter("records/train", info={"class_names": ["cat", "dog"],
                                            "image_shape": [64, 64, 3]}) as writer:
        writer.write(serialize(jpeg_bytes, label=1, sample_id=0))
    ```
    """

    def __init__(
        self, folder: str | Path, shard_bytes: int = SHARD_BYTES, info: dict | None = None
    ):
        if not shard_bytes >= 1:
            raise ValueError(f"shard_bytes must be at least 1, received {shard_bytes!r}.")
        self.folder, self.shard_bytes = Path(folder), int(shard_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.info = dict(info or {})
        self.shards, self._writer = [], None

    def write(self, record: bytes):
        """Appends one serialized record."""
        if self._writer is None:
            name = f"shard-{len(self.shards):05d}.tfrecord"
            self._writer = tf.io.TFRecordWriter(str(self.folder / name))
            self.shards.append({"file": name, "records": 0, "bytes": 0})
        self._writer.write(record)
        shard = self.shards[-1]
        shard["records"] += 1
        shard["bytes"] += _HEADER + len(record) + 4
        if shard["bytes"] >= self.shard_bytes:
            self._close_shard()

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self):
        """Closes the last shard and writes `shards.json`."""
        self._close_shard()
        (self.folder / INDEX_NAME).write_text(
            json.dumps({**self.info, "shards": self.shards}, indent=1)
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def record_offsets(path: str | Path):
    """The byte offset of each record of a shard, found by walking their headers.

    Used by the kit, not by a lesson.

    Reads 12 bytes per record and seeks over the data, so it costs one pass
    over the file's blocks at most (checksums are left to TensorFlow, which
    verifies them as it reads).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: naming the file and the record, if the file ends inside a
            record (a truncated copy or an interrupted write).
    """
    path = Path(path)
    size, offsets, offset = path.stat().st_size, [], 0
    with open(path, "rb") as file:
        while offset < size:
            header = file.read(_HEADER)
            length = struct.unpack("<Q", header[:8])[0] if len(header) == _HEADER else None
            end = None if length is None else offset + _HEADER + length + 4
            if end is None or end > size:
                raise ValueError(
                    f"{path}: record {len(offsets)} (starting at byte {offset:,}) runs past "
                    f"the end of the file ({size:,} bytes): the shard is truncated, as "
                    f"after an interrupted copy or write. Copy or write it again; "
                    f"records 0-{len(offsets) - 1} before it are intact."
                )
            file.seek(end)
            offsets.append(offset)
            offset = end
    return offsets


def scan_shard(path: str | Path):
    """Counts a shard's records (`record_offsets`), checking its structure.

    Used by the kit, not by a lesson.

    Raises:
        FileNotFoundError, ValueError: as `record_offsets`.
    """
    return len(record_offsets(path))


def check_shards(path: str | Path):
    """Lists a folder's (or a list of files') shards with their record counts.

    First used in lesson 09 (files_and_records).

    With `shards.json` (written by `ShardWriter`), every shard's size is
    compared with the one it was written with, and a shard of another size is
    scanned to name the record where it breaks. Without it, every shard is
    scanned (`scan_shard`).

    Args:
        path: a folder of `*.tfrecord` shards, or a list of shard files.

    Returns:
        `(files, counts, info)`: shard paths, records per shard, and the rest
        of `shards.json` (`{}` without one).

    Raises:
        FileNotFoundError: if there are no shards, or a listed one is missing.
        ValueError: naming the shard and record, for a truncated shard.

    Example:

    ```python
    files, counts, info = check_shards("data/lesson/records/train")
    sum(counts), info["class_names"]  # -> (12288, ['circle', 'square', 'triangle'])
    ```
    """
    if isinstance(path, (list, tuple)):
        return [Path(f) for f in path], [scan_shard(f) for f in path], {}
    folder = Path(path)
    index = folder / INDEX_NAME
    if not index.is_file():
        files = sorted(folder.glob("*.tfrecord"))
        if not files:
            raise FileNotFoundError(
                f"No *.tfrecord shards in {str(folder)[:150]}. Write them with "
                f"data_scripts/images_to_tfrecord.py, or pass a list of shard files."
            )
        return files, [scan_shard(f) for f in files], {}
    info = json.loads(index.read_text())
    files, counts = [], []
    for shard in info.pop("shards"):
        file = folder / shard["file"]
        if not file.is_file():
            raise FileNotFoundError(
                f"{file} is listed in {index} but missing. Copy the folder again."
            )
        count = shard["records"] if file.stat().st_size == shard["bytes"] else scan_shard(file)
        if count != shard["records"]:
            raise ValueError(
                f"{file} holds {count} records, {index} says {shard['records']}. "
                f"Copy or write the shards again."
            )
        files.append(file)
        counts.append(count)
    return files, counts, info


def _shard_files(files, counts, shard):
    """This worker's files: every `count`-th file from `index`, as a tensor."""
    index, count = errors.check_shard(shard)
    if count > len(files):
        raise ValueError(
            f"{count} workers but only {len(files)} shard file(s): each worker reads "
            f"whole shards, so write at least {count} shards (a smaller shard_bytes)."
        )
    mine = list(range(index, len(files), count))
    return [str(files[i]) for i in mine], sum(counts[i] for i in mine)


def record_dataset(
    path: str | Path | Sequence[str | Path],
    batch_size: int,
    image_shape: tuple[int, int, int] | None = None,
    n_classes: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    shard: tuple[int, int] | None = None,
    cycle_length: int = 4,
    shuffle_buffer: int = 1024,
    decode: bool = True,
    drop_last: bool = False,
    with_ids: bool = False,
    augment: Callable | None = None,
    declare_length: bool = True,
):
    """The training pipeline over TFRecord shards: each sample once per epoch.

    First used in lesson 09 (files_and_records).

    Shard files are listed (and this worker's taken), shuffled each epoch,
    read `cycle_length` at a time with `interleave`, mixed in a shuffle
    buffer, batched, then parsed and checked a batch at a time (one
    vectorised `parse_example`), decoded, and prefetched. Each pass
    over the dataset is one epoch in a new order, reproducible from `seed`;
    Keras `fit` makes one pass per epoch.

    Args:
        path: a folder of shards (`check_shards`), or a list of shard files.
        batch_size: samples per batch.
        image_shape: the decoded shape; default: from `shards.json`.
        n_classes: labels must lie in `[0, n_classes)`; default: the number
            of class names in `shards.json`.
        shuffle: shuffle shards and records; `False` reads the shards one
            after the other, records in file order (for `predict`).
        seed: seed of the epoch orders; a scalar int64 tensor computed at run
            time (as `service.record_pipeline` does on each worker) orders the
            shards for that one pass and mixes the records `shuffle_buffer`
            at a time (a window, not a sliding buffer), whatever the global seed.
        shard: `(index, count)`: read only this worker's shards (every
            `count`-th file). The shards must be at least as many as workers.
        cycle_length: shards read at once.
        shuffle_buffer: records mixed at a time (memory: this many records).
        decode: decode the images (uint8 `image_shape`); `False` gives the
            encoded bytes, to decode elsewhere.
        drop_last: drop a last partial batch.
        with_ids: batches are `(images, labels, ids)`, to check which samples
            an epoch holds (not for `fit`, which would take ids as weights).
        augment: a graph function `augment(images) -> images` applied to each
            decoded batch (for example `tfdata.flip_and_shift`).
        declare_length: tell Keras the number of batches per epoch. `False`
            for a pipeline the tf.data service runs (`service`), where each
            worker reads only part of an epoch.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches with a known length.
        A record with a missing feature or a label out of range stops the
        epoch with an error naming its shard file and record index.

    Raises:
        FileNotFoundError, ValueError: from `check_shards`; for a missing
            image shape or class count; for an invalid `shard`.

    Example:

    ```python
    train = record_dataset("data/lesson/records/train", batch_size=64, seed=1)
    model.fit(train, epochs=3)
    ```
    """
    files, counts, info = check_shards(path)
    image_shape = tuple(image_shape or info.get("image_shape") or ())
    n_classes = n_classes or len(info.get("class_names", ()))
    if decode and len(image_shape) != 3:
        raise ValueError(
            f"{str(path)[:100]}: pass image_shape=(h, w, 3); the shards "
            f"have no shards.json that says it."
        )
    if not n_classes:
        raise ValueError(
            f"{str(path)[:100]}: pass n_classes=; the shards have no "
            f"shards.json that lists the class names."
        )
    mine, n = _shard_files(files, counts, shard)
    batches = n // batch_size if drop_last else math.ceil(n / batch_size)

    def numbered_records(file):
        return (
            tf.data.TFRecordDataset(file)
            .enumerate()
            .map(lambda index, record: (file, index, record))
        )

    def parse_checked(files, indices, batch):
        sample = tf.io.parse_example(batch, FEATURES)
        images, labels = sample["image"], sample["label"]
        checks = []
        for bad, problem in (
            (tf.strings.length(images) == 0, ["has no 'image' feature (the encoded image)."]),
            (
                tf.logical_or(labels < 0, labels >= n_classes),
                [f"has a label outside [0, {n_classes}) (or no 'label' feature, read as -1)."],
            ),
        ):
            first = tf.argmax(tf.cast(bad, tf.int32))
            checks.append(
                tf.debugging.Assert(
                    tf.logical_not(tf.reduce_any(bad)),
                    [files[first], "record", indices[first], *problem],
                    summarize=1,
                )
            )
        with tf.control_dependencies(checks):
            if decode:
                images = tf.map_fn(
                    lambda data: tf.ensure_shape(
                        tf.io.decode_image(data, channels=3, expand_animations=False), image_shape
                    ),
                    images,
                    fn_output_signature=tf.uint8,
                )
                if augment is not None:
                    images = augment(images)
            batch = (tf.identity(images), tf.identity(labels))
            return batch + (tf.identity(sample["id"]),) if with_ids else batch

    drawn = shuffle and isinstance(seed, tf.Tensor)  # a seed drawn at run time, per pass
    files_ds = tf.data.Dataset.from_tensor_slices(
        tf.gather(mine, _drawn_order(len(mine), seed, 0)) if drawn else mine
    )
    if shuffle and not drawn:
        files_ds = files_ds.shuffle(len(mine), seed=seed, reshuffle_each_iteration=True)
    if shuffle:
        records = files_ds.interleave(
            numbered_records,
            cycle_length=cycle_length,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        records = (
            _shuffled_in_windows(records, shuffle_buffer, seed)
            if drawn
            else records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        )
    else:
        records = files_ds.flat_map(numbered_records)
    batches_ds = records.batch(batch_size, drop_remainder=drop_last).map(
        parse_checked, num_parallel_calls=tf.data.AUTOTUNE
    )
    if declare_length:
        batches_ds = batches_ds.apply(tf.data.experimental.assert_cardinality(batches))
    return batches_ds.prefetch(tf.data.AUTOTUNE)


def _drawn_order(n, seed, stream):
    """A permutation of `n` drawn from a run-time seed tensor and a stream number."""
    key = tf.stack([seed, tf.cast(stream, tf.int64) * 7_919 + seed // 7])
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(n, [1]), key))


def _shuffled_in_windows(records, size, seed):
    """Records mixed `size` at a time, in orders drawn from a run-time seed tensor.

    Under a global seed, `Dataset.shuffle` cannot take a seed computed inside
    the pipeline (its seed logic compares the seed in Python), and without
    one it follows the global seed, the same on every tf.data service worker.
    """

    def permuted(index, window):
        order = _drawn_order(tf.shape(window[0])[0], seed, index + 1)
        return tf.data.Dataset.from_tensor_slices(tuple(tf.gather(part, order) for part in window))

    return records.batch(size).enumerate().flat_map(permuted)


def find_bad_record(path: str | Path):
    """Reads every record through TensorFlow and names the first damaged one.

    First used in lesson 09 (files_and_records).

    TensorFlow's own read error says only "corrupted record at <byte>",
    without the file. Call this on the same shards to find which.

    Returns:
        `None` when every record reads.

    Raises:
        ValueError: naming the shard file and the record index, for a
            truncated shard or a record whose checksum does not match.
    """
    files, _, _ = check_shards(path)
    for file in files:
        try:
            for _ in tf.data.TFRecordDataset(str(file)):
                pass
        except tf.errors.DataLossError as error:
            at = re.search(r"record at (\d+)", str(error))
            byte = int(at.group(1)) if at else -1
            index = int(np.searchsorted(record_offsets(file), byte, side="right")) - 1
            raise ValueError(
                f"{file}: record {max(index, 0)} (at byte {byte:,}) is damaged: its "
                f"checksum does not match its bytes. Copy or write the shard again."
            ) from None
    return None
