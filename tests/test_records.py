"""TFRecord shards: the writer, the checks, and the pipeline's guarantees, on
shards in the shapes users bring (class-sorted shards, a truncated copy, a
label out of range, a record without its image, a flipped byte)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from course_lib.formats import encoded, records

SHAPE = (8, 8, 3)
CLASSES = ["a", "b", "c"]


def write_shards(folder, n=100, shard_bytes=1500, labels=None, sort_by_class=False, info=True):
    """n samples of 8x8 PNG; label i % 3 unless given; optionally one class after another."""
    labels = np.arange(n) % 3 if labels is None else np.asarray(labels)
    order = np.argsort(labels, kind="stable") if sort_by_class else np.arange(n)
    rng = np.random.default_rng(0)
    meta = {"class_names": CLASSES, "image_shape": list(SHAPE)} if info else {}
    with records.ShardWriter(folder, shard_bytes, meta) as writer:
        for i in order:
            image = rng.integers(0, 256, SHAPE, np.uint8)
            writer.write(records.serialize(encoded.encode(image, "png"), labels[i], i))
    if not info:
        (folder / records.INDEX_NAME).unlink()
    return folder


def epoch(dataset):
    """`(ids, batch sizes)` of one pass."""
    batches = [batch for batch in dataset]
    return (np.concatenate([b[2].numpy() for b in batches]), [len(b[1]) for b in batches])


@pytest.fixture
def shards(tmp_path):
    return write_shards(tmp_path / "train")


def test_writer_splits_into_shards_and_indexes_them(shards):
    files, counts, info = records.check_shards(shards)
    assert len(files) > 3 and sum(counts) == 100
    assert info == {"class_names": CLASSES, "image_shape": list(SHAPE)}
    assert [records.scan_shard(f) for f in files] == counts


def test_each_sample_once_per_epoch_new_order_each_epoch_reproducible(shards):
    dataset = records.record_dataset(shards, 32, seed=3, with_ids=True)
    assert dataset.cardinality().numpy() == 4
    first, sizes = epoch(dataset)
    second, _ = epoch(dataset)
    assert sorted(first) == sorted(second) == list(range(100))
    assert sizes == [32, 32, 32, 4]  # the last partial batch is kept
    assert (first != second).mean() > 0.5
    again, _ = epoch(records.record_dataset(shards, 32, seed=3, with_ids=True))
    assert (again == first).all()


def test_a_seed_drawn_at_run_time_orders_records_too_whatever_the_global_seed(tmp_path):
    # As on tf.data service workers: one graph, a seed drawn inside it for each pass. One
    # shard, so the file order is the same for every draw and only the records' mix can
    # differ; a global seed must not give two draws one order.
    one_shard = write_shards(tmp_path / "one", shard_bytes=10**6)
    assert len(records.check_shards(one_shard)[0]) == 1
    tf.keras.utils.set_random_seed(0)
    passes = tf.data.Dataset.from_tensor_slices(tf.constant([11, 12, 11], tf.int64)).flat_map(
        lambda seed: records.record_dataset(
            one_shard, 20, seed=seed, shuffle_buffer=40, declare_length=False, with_ids=True
        )
    )
    first, second, again = np.split(epoch(passes)[0], 3)
    assert sorted(first) == sorted(second) == list(range(100))
    assert (first != second).mean() > 0.5
    assert (again == first).all()


def test_batches_decode_to_the_written_images_and_labels(shards):
    images, labels = next(iter(records.record_dataset(shards, 100, shuffle=False)))
    assert images.shape == (100, *SHAPE) and images.dtype == tf.uint8
    assert (labels.numpy() == np.arange(100) % 3).all()


def test_drop_last(shards):
    ids, sizes = epoch(records.record_dataset(shards, 32, seed=0, drop_last=True, with_ids=True))
    assert sizes == [32, 32, 32] and len(set(ids)) == 96


def test_workers_read_disjoint_shards_that_cover_the_data(shards):
    parts = [
        epoch(records.record_dataset(shards, 16, seed=1, shard=(i, 2), with_ids=True))[0]
        for i in range(2)
    ]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(np.concatenate(parts)) == list(range(100))
    with pytest.raises(ValueError, match="only .* shard file"):
        records.record_dataset(shards, 16, shard=(0, 50))


def test_class_sorted_shards_still_give_mixed_batches(tmp_path):
    folder = write_shards(tmp_path / "sorted", n=300, shard_bytes=2000, sort_by_class=True)
    dataset = records.record_dataset(folder, 30, seed=0)
    single_class = sum(len(np.unique(labels)) == 1 for _, labels in dataset)
    assert single_class == 0


def test_shards_without_index_are_scanned(tmp_path):
    folder = write_shards(tmp_path / "plain", info=False)
    with pytest.raises(ValueError, match="image_shape"):
        records.record_dataset(folder, 10)
    ids, _ = epoch(
        records.record_dataset(folder, 10, image_shape=SHAPE, n_classes=3, with_ids=True)
    )
    assert sorted(ids) == list(range(100))


@pytest.mark.parametrize("with_index", [True, False])
def test_truncated_shard_is_named_with_its_record(tmp_path, with_index):
    folder = write_shards(tmp_path / "cut", info=with_index)
    files = sorted(folder.glob("*.tfrecord"))
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) - 30])
    count = records.scan_shard(files[0])
    with pytest.raises(ValueError, match=rf"{files[1].name}: record {count - 1} .*truncated"):
        records.record_dataset(folder, 10, image_shape=SHAPE, n_classes=3)


def test_label_out_of_range_is_named_with_shard_and_record(tmp_path):
    labels = np.arange(100) % 3
    labels[57] = 7
    folder = write_shards(tmp_path / "bad", labels=labels)
    files, counts, _ = records.check_shards(folder)
    shard = int(np.searchsorted(np.cumsum(counts), 57, side="right"))
    record = 57 - int(np.sum(counts[:shard]))
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        for _ in records.record_dataset(folder, 10, seed=0):
            pass
    message = str(error.value)
    assert f"{files[shard].name}] [record] [{record}] [has a label outside [0, 3)" in message


def test_record_without_image_is_named(tmp_path):
    folder = tmp_path / "noimage"
    with records.ShardWriter(
        folder, info={"class_names": CLASSES, "image_shape": list(SHAPE)}
    ) as writer:
        for i in range(5):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={"label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
                )
            )
            writer.write(example.SerializeToString())
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"shard-00000.tfrecord\] \[record\] "
        r"\[\d\] \[has no .{1,2}image",
    ):
        next(iter(records.record_dataset(folder, 5)))


def test_flipped_byte_is_found_by_shard_and_record(tmp_path):
    folder = write_shards(tmp_path / "flip")
    files, counts, _ = records.check_shards(folder)
    data = bytearray(files[2].read_bytes())
    data[len(data) // 2] ^= 0xFF
    files[2].write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError):  # TensorFlow's own error: no file name
        for _ in records.record_dataset(folder, 10, shuffle=False):
            pass
    with pytest.raises(ValueError, match=rf"{files[2].name}: record \d+ .*checksum"):
        records.find_bad_record(folder)
    assert records.find_bad_record(write_shards(tmp_path / "fine")) is None


def test_index_that_disagrees_with_a_shard_is_an_error(shards):
    index = json.loads((shards / records.INDEX_NAME).read_text())
    index["shards"][0]["records"] += 1
    index["shards"][0]["bytes"] = -1
    (shards / records.INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="shard-00000.tfrecord holds .* records"):
        records.check_shards(shards)


def test_no_shards_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No \\*.tfrecord shards"):
        records.check_shards(tmp_path)


def test_keras_fit_trains_on_the_pipeline(shards):
    import keras

    model = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(
        records.record_dataset(shards, 32, seed=0), epochs=2, verbose=0, shuffle=False
    )
    assert len(history.history["loss"]) == 2
