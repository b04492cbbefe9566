"""Checkers for TFRecord exercises: one sample to a record and back, and a
pipeline that reads shuffled shards with `interleave`."""

import tempfile
from pathlib import Path

import numpy as np

from course_lib.checks.report import Findings

_SHAPE = (4, 4, 3)


def check_record_codec(to_record, from_record, verbose=True):
    """Checks a learner's `to_record(image_bytes, label, sample_id)` and
    `from_record(record)`.

    `to_record` must return a serialized `tf.train.Example` (bytes) with an
    `image` bytes feature, and `label` and `id` int64 features, as
    `course_lib.formats.records` reads them; `from_record` must parse one back into
    `{"image", "label", "id"}` tensors.

    Returns:
        A `Report`.
    """
    import tensorflow as tf

    from course_lib.formats import records

    samples = [(b"\xff\xd8 first image", 2, 7), (bytes(range(256)) * 3, 0, 123456789)]
    found = Findings()
    with found:
        for image, label, sample_id in samples:
            record = found.call(
                "to_record(image_bytes, label, sample_id)", to_record, image, label, sample_id
            )
            if isinstance(record, tf.Tensor):
                record = record.numpy()
            if not isinstance(record, bytes):
                found.stop(
                    f"to_record returned {type(record).__name__}; it must return the "
                    f"bytes of a tf.train.Example (.SerializeToString())."
                )
            try:
                parsed = records.parse(record)
            except Exception as error:  # noqa: BLE001 - a learner's bytes
                found.stop(
                    f"to_record's bytes are not a tf.train.Example that "
                    f"course_lib.formats.records can parse: {str(error)[:150]}"
                )
            got = (parsed["image"].numpy(), int(parsed["label"]), int(parsed["id"]))
            for name, value, wanted in zip(
                ("image", "label", "id"), got, (image, label, sample_id)
            ):
                if value != wanted and value in (b"", -1):
                    found.add(
                        f"to_record: the record has no {name!r} feature (or it has "
                        f"another type): store it as "
                        f"{'a BytesList' if name == 'image' else 'an Int64List'}."
                    )
                elif value != wanted:
                    found.add(
                        f"to_record: {name!r} reads back as {str(value)[:40]}, "
                        f"expected {str(wanted)[:40]}."
                    )
            back = found.call("from_record(record)", from_record, tf.constant(record))
            if not isinstance(back, dict) or not {"image", "label", "id"} <= set(back):
                found.stop(
                    f"from_record returned {type(back).__name__}"
                    f"{sorted(back) if isinstance(back, dict) else ''}; it must return "
                    f"a dict with 'image', 'label' and 'id' (tf.io.parse_single_example)."
                )
            values = (
                np.asarray(back["image"]).item()
                if hasattr(back["image"], "numpy")
                else back["image"],
                int(back["label"]),
                int(back["id"]),
            )
            if values != got:
                found.add(
                    "from_record does not give back what the record holds: parse with "
                    "tf.string for 'image' and tf.int64 for 'label' and 'id'."
                )
    return found.report("records store and give back the image bytes, label and id.", verbose)


def _write_check_shards(folder, n_shards=8, per_shard=40):
    """Small shards whose record ids say which shard they are in."""
    import tensorflow as tf

    from course_lib.formats import encoded, records

    image = encoded.encode(np.zeros(_SHAPE, np.uint8), "png")
    files = []
    for shard in range(n_shards):
        files.append(str(folder / f"part-{shard:02d}.tfrecord"))
        with tf.io.TFRecordWriter(files[-1]) as writer:
            for i in range(per_shard):
                writer.write(records.serialize(image, i % 3, shard * per_shard + i))
    return files


def check_record_pipeline(make_pipeline, batch_size=20, verbose=True):
    """Checks a learner's `make_pipeline(files, batch_size, seed)` over TFRecord shards.

    The checker writes 8 small shards of 40 records and calls the function
    on them. Batches must be dicts of parsed records (`"image"`, `"label"`,
    `"id"`, as `records.parse` gives, batched). Checked: every record once
    per epoch, a new order each epoch, the same order for the same seed,
    batches that mix records of several shards (interleave and a shuffle
    buffer, not one shard after another), and parallel reads.

    Returns:
        A `Report`.
    """
    import tensorflow as tf

    from course_lib.checks.pipelines import _ops

    per_shard, n_shards = 40, 8
    found = Findings()
    with found, tempfile.TemporaryDirectory() as folder:
        files = _write_check_shards(Path(folder), n_shards, per_shard)

        def epoch(dataset, label):
            ids, mixes = [], []
            for batch in dataset:
                if not isinstance(batch, dict) or "id" not in batch:
                    found.stop(
                        f"{label}: batches are {type(batch).__name__}, expected dicts "
                        f"with 'image', 'label' and 'id' (parse, then batch)."
                    )
                batch_ids = np.asarray(batch["id"]).ravel()
                ids.append(batch_ids)
                mixes.append(len(np.unique(batch_ids // per_shard)))
            return (np.concatenate(ids) if ids else np.array([], int)), mixes

        dataset = found.call(
            "make_pipeline(files, batch_size, seed=1)", make_pipeline, files, batch_size, 1
        )
        if not isinstance(dataset, tf.data.Dataset):
            found.stop(
                f"make_pipeline returned {type(dataset).__name__}, expected a tf.data.Dataset."
            )
        first, mixes = epoch(dataset, "make_pipeline")
        second, _ = epoch(dataset, "make_pipeline")
        n = n_shards * per_shard
        for name, ids in (("epoch 0", first), ("epoch 1", second)):
            if len(ids) != n or len(np.unique(ids)) != n:
                found.stop(
                    f"{name} served {len(ids)} records ({len(np.unique(ids))} distinct) "
                    f"of {n}: every record once per epoch (no .repeat(), no "
                    f"drop_remainder, a shuffle buffer never drops records)."
                )
        if np.array_equal(first, second):
            found.add(
                "Epochs 0 and 1 came in the same order: shuffle the files and the "
                "records with reshuffle_each_iteration=True."
            )
        again, _ = epoch(make_pipeline(files, batch_size, 1), "make_pipeline")
        if not np.array_equal(first, again):
            found.add(
                "Two pipelines built with seed=1 gave different orders: pass the seed "
                "to every shuffle (and deterministic=True to interleave)."
            )
        if np.mean(mixes) < 2:
            found.add(
                f"Batches hold records of {np.mean(mixes):.1f} shards on average: read "
                f"several shards at once (interleave with cycle_length > 1) and mix "
                f"them in a shuffle buffer."
            )
        ops = _ops(dataset)
        if not any("Interleave" in op for op in ops):
            found.add(
                "The pipeline reads the shards one after another (no interleave): only a "
                "shuffle buffer bigger than the whole data set (320 records here) mixes "
                "them, and on real data the buffer holds a small fraction of it, so "
                "batches come shard by shard. Interleave several shards "
                "(.interleave(tf.data.TFRecordDataset, cycle_length=4, ...))."
            )
        if not any(op.startswith(("ParallelInterleave", "ParallelMap")) for op in ops):
            found.add(
                "Shards are read one at a time: give interleave "
                "num_parallel_calls=tf.data.AUTOTUNE."
            )
    return found.report(
        "every record once per epoch, a new order each epoch, reproducible "
        "from the seed, batches mixing several shards, parallel reads.",
        verbose,
    )
