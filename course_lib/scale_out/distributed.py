"""Training on several workers: `MultiWorkerMirroredStrategy` on localhost.

`launch` starts `n_workers` Python processes on this machine (through
`course_lib.scale_out.child`), each with its own `TF_CONFIG` (the cluster's addresses and its own
index), waits for them
and returns what each printed. Every worker runs `train_worker`: it reads
only its shard of the HDF5 file (`shard=(index, n_workers)`), and the
workers average their gradients after every step.

Keras 3's `fit` does not work under `MultiWorkerMirroredStrategy` (see
keras-team/keras#20585), so `train_worker` uses a short custom training
loop: `strategy.run` for the step, `tf.nn.compute_average_loss` for a loss
scaled to the global batch.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from course_lib.scale_out import child


def free_ports(count: int):
    """`count` TCP ports on 127.0.0.1 that are free right now.

    Used by the kit, not by a lesson.
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: Sequence[int], index: int):
    """The `TF_CONFIG` JSON of worker `index` in a localhost cluster on `ports`.

    Used by the kit, not by a lesson.
    """
    return json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )


def train_worker(path: str | Path, epochs: int = 1, batch_size: int = 32, seed: int = 0):
    """Trains the small convnet as one worker of the cluster in `TF_CONFIG`.

    First used in lesson 12 (capstone).

    Args:
        path: the HDF5 file (its `train/images` and `train/labels`).
        epochs: epochs to train.
        batch_size: samples per step on this worker (the global batch is
            this times the number of workers).
        seed: the shared seed of the epoch orders (the same on every worker).

    Returns:
        A dict: `worker`, `workers`, `losses` (the all-reduced loss of each
        epoch, the same on every worker), `steps` per epoch, `positions`
        (the sample positions this worker read, per epoch) and `seconds`.
    """
    import keras
    import tensorflow as tf

    from course_lib import models
    from course_lib.loading import tfdata
    from course_lib.loading.loaders import HDF5Dataset

    config = json.loads(os.environ["TF_CONFIG"])
    index, workers = config["task"]["index"], len(config["cluster"]["worker"])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    loader = HDF5Dataset(
        path, batch_size=batch_size, seed=seed, shard=(index, workers), drop_last=True
    )
    global_batch = batch_size * strategy.num_replicas_in_sync
    tag = f"[worker {index}/{workers}]"
    print(
        f"{tag} cluster ready: {strategy.num_replicas_in_sync} replicas in sync; reading "
        f"shard {index} of {workers}: {len(loader)} batches of {batch_size}",
        flush=True,
    )

    def dataset_fn(context):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return tfdata.parallel_reads(loader).prefetch(2).with_options(options)

    with strategy.scope():
        keras.utils.set_random_seed(seed)
        x, _ = loader[0]
        model = models.small_convnet(x.shape[1:], 3)
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)  # its first step would build it in a replica
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction="none")

    @tf.function
    def train_step(batch):
        def replica_step(images, labels):
            with tf.GradientTape() as tape:
                per_sample = loss_fn(labels, model(images, training=True))
                loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    started = time.perf_counter()
    losses, positions, steps = [], [], 0
    for _ in range(epochs):
        positions.append(sorted(int(p) for b in loader.sampler.batches(loader.epoch) for p in b))
        total, steps = 0.0, 0
        for batch in strategy.distribute_datasets_from_function(dataset_fn):
            total += float(train_step(batch))
            steps += 1
        losses.append(total / steps)
        loader.on_epoch_end()
        print(
            f"{tag} epoch {len(losses)}/{epochs}: {steps} steps, loss {losses[-1]:.4f}, "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return {
        "worker": index,
        "workers": workers,
        "losses": losses,
        "steps": steps,
        "positions": positions,
        "seconds": time.perf_counter() - started,
    }


def launch(
    path: str | Path,
    n_workers: int = 2,
    epochs: int = 1,
    batch_size: int = 32,
    timeout: float = 600,
):
    """Starts `n_workers` local workers running `train_worker`, waits for them.

    First used in lesson 12 (capstone).

    Args:
        path: the HDF5 file to train on.
        n_workers: how many worker processes.
        epochs, batch_size: passed to `train_worker`.
        timeout: seconds before the workers are stopped.

    Returns:
        A list, one dict per worker: `result` (what `train_worker`
        returned, or `None` if it failed), `log` (everything it printed),
        `returncode`.

    Example:

    ```python
    results = launch("data/ci/course.h5", n_workers=2)
    [r["result"]["losses"] for r in results]
    ```
    """
    ports = free_ports(n_workers)
    workers = [
        child.start(
            train_worker, str(path), epochs, batch_size, env={"TF_CONFIG": tf_config(ports, index)}
        )
        for index in range(n_workers)
    ]
    deadline = time.time() + timeout
    outcomes = []
    for worker in workers:
        result = worker.wait(timeout=max(deadline - time.time(), 1))
        if result.stopped:  # one worker hung: the others wait for it forever
            for other in workers:
                other.wait(timeout=1)
        outcomes.append(
            {"result": result.value, "log": result.log, "returncode": result.returncode}
        )
    return outcomes
