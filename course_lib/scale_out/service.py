"""The input pipeline on other processes: a local tf.data service.

When decoding and augmentation cost more CPU than the training machine has,
the pipeline moves to other machines. TensorFlow's engine for that is the
tf.data service: one *dispatcher* that hands out work, N *workers* that run
the pipeline, and the trainer reading their batches with
`tf.data.experimental.service.distribute`. The service needs a pipeline
made only of graph ops (no `from_generator`, `py_function`,
`numpy_function`): the kit's TFRecord pipeline (`records`) is one.

`servers.LocalService` starts a dispatcher and N workers as separate
processes on 127.0.0.1, the way they run on separate machines. This module is
the trainer's side:

`service_dataset` turns a pipeline into the dataset `fit` reads, in one of
the two processing modes:

| mode                | each worker produces            | per epoch, each sample    |
|---------------------|---------------------------------|---------------------------|
| `distributed_epoch` | the shards the dispatcher hands | exactly once (checked);   |
| (dynamic sharding)  | it, one at a time               | lost if its worker dies   |
| `parallel_epochs`   | the whole dataset, in its own   | about once on average,    |
| (no sharding)       | random order, endlessly         | a random draw per epoch   |

Both give Keras an epoch of known length, so `fit` runs without the "Your
input ran out of data" warning (Keras 3 counts the step that hits the end of
a dataset of unknown length as a batch, then asks for one batch too many in
every later epoch of the same length).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

from course_lib import errors
from course_lib.scale_out.servers import check_reachable

MODES = ("distributed_epoch", "parallel_epochs")


def _checked_epoch(batches, samples, batch_size, service):
    """Trainer side of `distributed_epoch`: full batches, each sample counted.

    Rebatching makes every batch full but the last, whatever each worker's
    last batch held, so a whole epoch has exactly `ceil(samples /
    batch_size)` batches. A running count checks each batch's size and, at
    the end of the stream, the total: fewer samples mean a worker died
    holding some (dynamic sharding does not read them again), and the epoch
    stops with an error saying how many arrived.
    """
    import tensorflow as tf

    def empty(spec):
        return tf.zeros([0, *[dim or 0 for dim in spec.shape[1:]]], spec.dtype)

    end = tf.data.Dataset.from_tensors((tf.nest.map_structure(empty, batches.element_spec), True))

    def count(arrived, element):
        batch, last = element
        size = tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]
        expected = tf.where(
            last,
            samples - arrived,
            tf.minimum(tf.constant(batch_size, tf.int64), samples - arrived),
        )
        message = tf.strings.format(
            f"The tf.data service at {service} delivered {{}} of {{}} samples this epoch: a "
            "worker stopped while it held some of them, and distributed_epoch reads each "
            "sample at most once. Restart training from the last checkpoint.",
            (arrived + size, samples),
        )
        assertion = tf.debugging.Assert(tf.equal(size, expected), [message], summarize=1)
        with tf.control_dependencies([assertion]):
            return arrived + size, (tf.nest.map_structure(tf.identity, batch), last)

    return (
        batches.rebatch(batch_size)
        .map(lambda *batch: (batch if len(batch) > 1 else batch[0], False))
        .concatenate(end)
        .scan(tf.constant(0, tf.int64), count)
        .filter(lambda batch, last: tf.logical_not(last))
        .map(lambda batch, last: batch)
        .apply(tf.data.experimental.assert_cardinality(math.ceil(samples / batch_size)))
    )


def service_dataset(
    pipeline: Callable,
    service: str,
    mode: str,
    samples: int,
    batch_size: int,
    job_name: str | None = None,
    check_timeout: float = 3.0,
):
    """Runs a pipeline on the tf.data service; returns what `fit` reads.

    First used in lesson 10 (scale_out).

    Every pass over the returned dataset (every Keras epoch) is a new
    service *job*: the workers start the pipeline again from scratch. A
    pipeline given as a dataset therefore repeats the same seeded order each
    epoch; give a function `pipeline(epoch)` instead (`record_pipeline`
    does), and each epoch's dataset is built and registered with that
    epoch's number, counted here on the trainer.

    Args:
        pipeline: a graph-only `tf.data.Dataset` of batches, one epoch long,
            or a function `pipeline(epoch) -> dataset` of a scalar int64
            tensor. In `distributed_epoch` mode it must start from a
            splittable source (`from_tensor_slices` of file names, `range`).
        service: the dispatcher's address, `grpc://host:port`.
        mode: `"distributed_epoch"` (each sample exactly once per epoch,
            checked) or `"parallel_epochs"` (each worker repeats the whole
            dataset in its own order; an epoch is `samples` of them).
        samples: samples in one epoch of the pipeline.
        batch_size: the batch size `fit` sees.
        job_name: share one job between several readers (they split its
            output); default: each pass makes its own job.
        check_timeout: seconds to wait for the dispatcher before raising.

    Returns:
        A `tf.data.Dataset` of `ceil(samples / batch_size)` batches per
        pass, with that length declared.

    Raises:
        ServiceUnreachable: nothing answers at `service`.
        ValueError: for an unknown `mode`.

    Example:

    ```python
    pipeline, samples = record_pipeline(path, 64, "distributed_epoch")
    train = service_dataset(pipeline, service.target, "distributed_epoch",
                            samples, batch_size=64)
    model.fit(train, epochs=3)
    ```
    """
    import tensorflow as tf

    errors.check_choice("processing mode", mode, MODES)
    check_reachable(service, check_timeout)
    distribute = tf.data.experimental.service.distribute(mode, service, job_name=job_name)

    def on_service(dataset):
        return (dataset if mode == "distributed_epoch" else dataset.repeat()).apply(distribute)

    if callable(pipeline):
        epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)

        def next_epoch(_):
            with warnings.catch_warnings():  # options read in graph mode: harmless here
                warnings.filterwarnings("ignore", "To make it possible to preserve")
                return on_service(pipeline(epoch.assign_add(1)))

        batches = tf.data.Dataset.range(1).flat_map(next_epoch)
    else:
        batches = on_service(pipeline)
    if mode == "distributed_epoch":
        return _checked_epoch(batches, samples, batch_size, service)
    n_batches = math.ceil(samples / batch_size)
    return (
        batches.rebatch(batch_size)
        .take(n_batches)
        .apply(tf.data.experimental.assert_cardinality(n_batches))
    )


def record_pipeline(
    path: str | Path,
    batch_size: int,
    mode: str,
    seed: int = 0,
    augment: Callable | None = None,
    **options,
):
    """The kit's TFRecord pipeline (`records.record_dataset`), shaped for `mode`.

    First used in lesson 10 (scale_out).

    In `distributed_epoch` mode the shard files are the splits the
    dispatcher hands out, in an order drawn from `(seed, epoch)`. In
    `parallel_epochs` mode every worker reads every shard, so each needs its
    own order: it is drawn when a worker starts its pass (from its clock).
    A fixed seed there, or one derived from a global seed
    (`keras.utils.set_random_seed`), makes all workers produce the same
    batches in the same order, and the trainer sees each batch N times.

    Args:
        path: a folder of shards.
        batch_size: samples per batch on each worker.
        mode: `"distributed_epoch"` or `"parallel_epochs"`.
        seed: seed of the epoch orders (`distributed_epoch` only).
        augment: a graph function applied to each decoded batch.
        **options: more `records.record_dataset` arguments.

    Returns:
        `(pipeline, samples)`: `pipeline(epoch)` builds one epoch's
        graph-only dataset (for `service_dataset`), and `samples` is the
        number of samples in an epoch.

    Example:

    ```python
    pipeline, samples = record_pipeline(path, 64, "distributed_epoch", seed=1)
    train = service_dataset(pipeline, service.target, "distributed_epoch",
                            samples, batch_size=64)
    ```
    """
    import tensorflow as tf

    from course_lib.formats import records

    errors.check_choice("processing mode", mode, MODES)
    samples = sum(records.check_shards(path)[1])

    def epoch_of(order_seed):
        return records.record_dataset(
            path, batch_size, seed=order_seed, augment=augment, declare_length=False, **options
        )

    def pipeline(epoch):
        if mode == "distributed_epoch":
            return epoch_of(tf.constant(seed, tf.int64) * 100_003 + epoch)
        clock_seed = tf.data.Dataset.from_tensors(0).map(
            lambda _: tf.cast(tf.timestamp() * 1e6, tf.int64) % (2**31 - 1)
        )
        return clock_seed.flat_map(epoch_of)

    return pipeline, samples
