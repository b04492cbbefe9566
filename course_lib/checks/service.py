"""Checkers for the tf.data service exercises: each worker its own order in
`parallel_epochs`, and an epoch Keras can count."""

import collections
import math
import warnings

import numpy as np

from course_lib.checks.report import Findings

LOST = 5
"""Samples the second worker loses in the checker's broken epoch (not a multiple of a batch)."""


def _two_workers(samples, worker_batch, lost=0):
    """What `distributed_epoch` hands the trainer: two workers' batches, each
    worker ending with a partial batch, interleaved, of unknown length; the
    second worker's last `lost` samples never arrive (it died holding them)."""
    import tensorflow as tf

    split = samples * 2 // 5 + 3
    streams = [
        tf.data.Dataset.range(start, stop).batch(worker_batch)
        for start, stop in ((0, split), (split, samples - lost))
    ]
    streams = [
        s.map(lambda ids: (tf.cast(tf.reshape(ids, (-1, 1)), tf.float32), ids % 2)) for s in streams
    ]
    return tf.data.Dataset.sample_from_datasets(streams, seed=0).filter(lambda x, y: True)


def _lost_epoch_error(found, fit_ready, samples, batch_size):
    """Reads the learner's epoch of a stream that lost `LOST` samples; it must fail
    and say how many arrived."""
    import tensorflow as tf

    arrived = samples - LOST
    dataset = found.call(
        f"fit_ready(batches missing {LOST} samples, ...)",
        fit_ready,
        _two_workers(samples, 7, lost=LOST),
        samples,
        batch_size,
    )
    try:
        for _ in dataset:
            pass
    except tf.errors.OpError as error:
        if str(arrived) not in error.message:
            found.add(
                f"An epoch that lost {LOST} samples fails, but its error does not say how many "
                f"arrived ({arrived} of {samples}): put the count in the message, so whoever "
                f"reads it knows samples were lost, not that the code is wrong."
            )
        return
    found.add(
        f"An epoch that lost {LOST} samples (a worker died holding them) read through without "
        f"an error, and fit would train on {arrived} of {samples} without a word: count the "
        f"samples as they arrive, and fail, saying how many arrived, when a batch holds fewer "
        f"than it should."
    )


def check_fit_ready(fit_ready, verbose=True):
    """Checks a learner's `fit_ready(batches, samples, batch_size)`.

    It gets the batches two service workers produced (each worker's last
    batch partial, the length unknown to Keras) and must return a dataset of
    exactly `ceil(samples / batch_size)` batches, full but the last, each
    sample once, with that length declared, so that `fit` runs several
    epochs without "Your input ran out of data". Given a stream that lost
    `LOST` samples (a worker died holding them), reading its epoch must fail
    with an error that says how many arrived.

    Returns:
        A `Report`.
    """
    import keras
    import tensorflow as tf

    samples, batch_size = 203, 16
    wanted = math.ceil(samples / batch_size)
    found = Findings()
    with found:
        dataset = found.call(
            "fit_ready(batches, samples=203, batch_size=16)",
            fit_ready,
            _two_workers(samples, 7),
            samples,
            batch_size,
        )
        if not isinstance(dataset, tf.data.Dataset):
            found.stop(f"fit_ready returned {type(dataset).__name__}; return a tf.data.Dataset.")
        length = int(dataset.cardinality())
        if length < 0:
            found.stop(
                "The length is unknown to Keras (cardinality "
                f"{'unknown' if length == -2 else 'infinite'}): declare it with "
                "tf.data.experimental.assert_cardinality(...)."
            )
        if length != wanted:
            found.add(
                f"The declared length is {length} batches; 203 samples in batches of 16 "
                f"are {wanted}."
            )
        try:
            batches = [(x.numpy(), y.numpy()) for x, y in dataset]
        except tf.errors.OpError as error:
            found.stop(
                f"Reading one epoch failed: {error.message.splitlines()[0][:200]} "
                f"(rebatch to batch_size before declaring the length)."
            )
        sizes = [len(y) for _, y in batches]
        if any(size != batch_size for size in sizes[:-1]) or not sizes:
            found.add(
                f"Batch sizes are {sorted(set(sizes))}: every batch but the last must "
                f"hold batch_size samples (Dataset.rebatch)."
            )
        ids = np.concatenate([x[:, 0] for x, _ in batches]).astype(int) if batches else []
        if sorted(ids) != list(range(samples)):
            found.add(
                f"The epoch holds {len(ids)} samples ({len(set(ids))} distinct) of "
                f"{samples}: keep every sample, once."
            )
        if found.problems:
            return found.report("", verbose)
        _lost_epoch_error(found, fit_ready, samples, batch_size)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(dataset, epochs=2, verbose=0, shuffle=False)
        if any("ran out of data" in str(w.message) for w in caught):
            found.add("fit warned 'Your input ran out of data'.")
    return found.report(
        f"an epoch of 13 full-but-the-last batches, each sample once, its length declared; "
        f"an epoch that lost {LOST} samples fails saying so; fit runs two epochs without a "
        f"warning.",
        verbose,
    )


def twin_batches(ids, batch_size):
    """How many batches arrived more than once, as the very same batch.

    >>> twin_batches([1, 2, 3, 4, 1, 2], batch_size=2)
    2
    """
    ids = list(np.asarray(ids).ravel())
    batches = collections.Counter(
        tuple(ids[k : k + batch_size]) for k in range(0, len(ids), batch_size)
    )
    return sum(count for count in batches.values() if count > 1)


def _write_shards(folder, n, per_shard=40):
    """`n` tiny records in shards of about `per_shard`, with their shards.json."""
    from course_lib.formats import encoded, records

    image = encoded.encode(np.zeros((4, 4, 3), np.uint8), "png")
    size = len(records.serialize(image, 0, n)) + 16
    info = {"class_names": ["a", "b", "c"], "image_shape": [4, 4, 3]}
    with records.ShardWriter(folder, shard_bytes=per_shard * size, info=info) as writer:
        for sample_id in range(n):
            writer.write(records.serialize(image, sample_id % 3, sample_id))


def check_parallel_order(make_pipeline, batch_size=16, service=None, verbose=True):
    """Checks `make_pipeline(folder, batch_size)` for the service's `parallel_epochs` mode.

    Writes 8 small TFRecord shards (320 records, with `shards.json`), sets a global seed as every
    lesson's Setup does (`keras.utils.set_random_seed`), builds the learner's
    dataset and runs it on a local service with two workers, each of which
    runs it whole. The dataset must run on the service (graph-only: no
    `py_function`), give batches that end with the records' ids (`with_ids=True`,
    or dicts with an `"id"`), let each
    worker deliver every record once (two copies of each in all), and give
    each worker its own order: no batch may arrive twice.

    Args:
        make_pipeline: the learner's function.
        batch_size: the batch size it is called with.
        service: a running `servers.LocalService` with two workers to use; when
            `None`, one is started for the check and stopped after it (seconds:
            three processes that import TensorFlow).

    Returns:
        A `Report`.
    """
    import contextlib
    import tempfile
    from pathlib import Path

    import keras
    import tensorflow as tf

    from course_lib.scale_out import servers

    found, n = Findings(), 320
    with found, tempfile.TemporaryDirectory() as folder:
        _write_shards(Path(folder), n)
        keras.utils.set_random_seed(0)
        dataset = found.call("make_pipeline(folder, batch_size)", make_pipeline, folder, batch_size)
        if not isinstance(dataset, tf.data.Dataset):
            found.stop(
                f"make_pipeline returned {type(dataset).__name__}, expected a tf.data.Dataset."
            )
        graph = dataset._as_serialized_graph().numpy()
        if b"PyFunc" in graph:  # EagerPyFunc (py_function), PyFunc (numpy_function)
            found.stop(
                "The pipeline calls Python (tf.py_function or tf.numpy_function): the "
                "service runs the graph in its worker processes, which cannot call back "
                "into your Python. Build it from TensorFlow ops only (records.parse, "
                "tf.io.decode_jpeg, tf.image)."
            )
        running = contextlib.nullcontext(service) if service else servers.LocalService(workers=2)
        with running as local:
            distributed = dataset.apply(
                tf.data.experimental.service.distribute("parallel_epochs", local.target)
            )
            ids = found.call(
                "reading the pipeline on the service",
                lambda: [
                    np.asarray(batch["id"] if isinstance(batch, dict) else batch[-1]).ravel()
                    for batch in distributed
                ],
            )
        ids = np.concatenate(ids) if ids else np.array([], np.int64)
        counts = np.bincount(ids.astype(np.int64), minlength=n) if len(ids) else np.zeros(n)
        if len(ids) != 2 * n or not np.all(counts == 2):
            found.stop(
                f"The two workers delivered {len(ids)} records ({len(np.unique(ids))} "
                f"distinct) for 2 x {n}: in parallel_epochs every worker reads every "
                f"shard once, so each record must arrive exactly twice (no .repeat(), no "
                f"drop_remainder)."
            )
        twins = twin_batches(ids, batch_size)
        if twins:
            found.add(
                f"{twins} of {len(ids) // batch_size} batches arrived twice, the very same "
                f"batch from both workers: with a fixed seed, or a global one "
                f"(keras.utils.set_random_seed), every worker draws the same order. Draw "
                f"each worker's seed when it runs, inside the graph (for instance from "
                f"tf.timestamp()), and shuffle the files and records with it."
            )
    return found.report(
        "two workers on the service, each record once per worker, each worker "
        "in its own order (no batch twice).",
        verbose,
    )
