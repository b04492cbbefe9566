"""Checkers for `tf.data` pipelines and for the shards of several workers."""

import numpy as np

from course_lib.checks.report import Findings, Stop, fingerprints, first_array


def _ops(dataset):
    """The names of the dataset ops a `tf.data` pipeline is built from."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    return {node.op for node in graph.node}


def _constant_bytes(dataset):
    """Bytes of the tensors held in a `tf.data` pipeline's graph (`from_tensor_slices`' data,
    constants a `map` captured)."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    nodes = [*graph.node, *(node for f in graph.library.function for node in f.node_def)]
    total = 0
    for node in nodes:
        tensor = node.attr["value"].tensor if node.op == "Const" else None
        if tensor is not None and tf.dtypes.as_dtype(tensor.dtype).is_numpy_compatible:
            total += tf.make_ndarray(tensor).nbytes  # resource handles and variants skipped
    return total


def _read_epoch(dataset, epoch, found):
    """One pass over `dataset`: each sample's fingerprint in order, each batch's set, and the
    bytes of its inputs."""
    order, batches, nbytes = [], [], 0
    for index, batch in enumerate(dataset):
        x, y = first_array(batch[0]), np.asarray(batch[1])
        if len(x) != len(y):
            found.stop(f"Batch {index} of epoch {epoch} has {len(x)} inputs and {len(y)} labels.")
        order += fingerprints(x)
        batches.append(frozenset(fingerprints(x)))
        nbytes += np.asarray(x).nbytes
    return order, batches, nbytes


def check_pipeline(dataset, n_samples, epochs=2, parallel=True, prefetch=True, verbose=True):
    """Checks a learner's `tf.data` pipeline: signature, size, order, overlap.

    Checks that it yields `(inputs, labels)` batches, that its cardinality is
    known and finite (so `fit` shows progress and ends each epoch), that each
    of `epochs` passes serves every sample once, in a new order each time,
    that it does not hold the data in its own graph (`from_tensor_slices`
    of the images), and, if asked, that it reads in parallel
    (`num_parallel_calls` in a `map` or `interleave`) and ends with
    `prefetch`. Samples are told apart by the bytes of their first input.

    Returns:
        A `Report`.

    Example:

    ```python
    check_pipeline(make_pipeline(path, batch_size=32), n_samples=2048)
    ```
    """
    import tensorflow as tf

    found = Findings()
    with found:
        if not isinstance(dataset, tf.data.Dataset):
            found.stop(
                f"Expected a tf.data.Dataset, received {type(dataset).__name__}: "
                f"it is not built yet."
            )
        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) not in (2, 3):
            found.stop(
                f"Its elements are {spec}, but fit expects (inputs, labels) tuples: "
                f"map each element to a pair."
            )
        cardinality = int(dataset.cardinality())
        if cardinality == tf.data.INFINITE_CARDINALITY:
            found.add(
                "It repeats forever (.repeat()), so fit cannot tell where an epoch "
                "ends; drop .repeat() and let fit start a new pass each epoch."
            )
        elif cardinality == tf.data.UNKNOWN_CARDINALITY:
            found.add(
                "Its cardinality is unknown, so fit shows no progress bar and cannot "
                "plan steps; start from Dataset.range(n) (or from_tensor_slices of the ids "
                "or paths, never of the images), or declare it with "
                ".apply(tf.data.experimental.assert_cardinality(n))."
            )
        ops = _ops(dataset)
        if parallel and not any(
            op.startswith(("ParallelMap", "ParallelInterleave", "ParallelBatch")) for op in ops
        ):
            found.add(
                "Reads run one at a time: give the map (or interleave) that reads "
                "num_parallel_calls=tf.data.AUTOTUNE."
            )
        if prefetch and "PrefetchDataset" not in ops:
            found.add(
                "Nothing overlaps reading with training: end the pipeline with "
                ".prefetch(tf.data.AUTOTUNE)."
            )
        if ops & {"CacheDataset", "CacheDatasetV2"}:
            found.add(
                "The pipeline calls .cache(): without a file name it keeps every element "
                "in memory after the first epoch, which data bigger than memory cannot "
                "afford (and with one, it writes a second copy of the data to disk). "
                "Read from the file every epoch instead."
            )
        if cardinality == tf.data.INFINITE_CARDINALITY:
            raise Stop
        orders, batches = [], []
        for epoch in range(epochs):
            order, batches_of_epoch, epoch_bytes = found.call(
                f"Reading epoch {epoch} of the pipeline", _read_epoch, dataset, epoch, found
            )
            orders.append(order)
            batches.append(batches_of_epoch)
            if len(set(order)) != len(order) or len(order) != n_samples:
                found.stop(
                    f"Epoch {epoch} served {len(order)} samples ({len(set(order))} "
                    f"distinct) for {n_samples}: every sample exactly once per epoch "
                    f"(no .repeat() before .batch(), no drop_remainder)."
                )
        held = _constant_bytes(dataset)
        if held >= 0.5 * epoch_bytes:
            found.add(
                f"The pipeline holds {held / 2**20:,.1f} MiB of data in its own graph, as much "
                f"as an epoch's inputs ({epoch_bytes / 2**20:,.1f} MiB): from_tensor_slices of "
                f"the images (or a map over an array it captured) loads the split into memory. "
                f"Slice the ids or paths instead, and read each sample from the file in a map."
            )
        if epochs > 1 and orders[0] == orders[1]:
            found.add(
                "Epochs 0 and 1 came in the same order: shuffle the sample ids with "
                ".shuffle(n, reshuffle_each_iteration=True) before reading."
            )
        elif epochs > 1 and len(batches[0]) > 1 and set(batches[1]) == set(batches[0]):
            found.add(
                "Every batch of epoch 1 holds the same samples as a batch of epoch 0: "
                "the pipeline shuffles whole batches (.batch() before .shuffle()), so "
                "batch composition never changes, and on a file sorted by class each "
                "batch keeps a single class. Shuffle the sample ids, then batch."
            )
    return found.report(
        "(inputs, labels) batches, a known size, every sample once per epoch in a new "
        "order" + (", parallel reads" if parallel else "") + (", prefetch." if prefetch else "."),
        verbose,
    )


def check_shards(shard, n_samples, n_workers=2, epochs=2, verbose=True):
    """Checks a learner's split of each epoch between several workers.

    Calls `shard(epoch, worker, n_workers)` for every worker and epoch; each
    must return the sample positions that worker reads. Per epoch, the
    shards must be disjoint, cover all `n_samples`, and be balanced (sizes
    differ by at most one batch's worth: 1% of the samples, at least 1); the
    order must change between epochs, while every worker computes it alike.

    Returns:
        A `Report`.
    """
    found = Findings()
    with found:
        epochs_seen = []
        for epoch in range(epochs):
            shards = []
            for worker in range(n_workers):
                positions = found.call(
                    f"shard({epoch}, {worker}, {n_workers})", shard, epoch, worker, n_workers
                )
                shards.append(np.asarray(positions).ravel())
                again = np.asarray(shard(epoch, worker, n_workers)).ravel()
                if not np.array_equal(again, shards[-1]):
                    found.stop(
                        f"shard({epoch}, {worker}, {n_workers}) changed between two calls: "
                        f"derive the order from (seed, epoch) so every worker computes "
                        f"the same one."
                    )
            sizes = [len(part) for part in shards]
            taken = np.concatenate(shards)
            counts = (
                np.bincount(taken.astype(np.int64), minlength=n_samples)
                if len(taken) and taken.min() >= 0
                else None
            )
            if counts is None or len(counts) > n_samples:
                found.stop(f"Epoch {epoch}: positions must lie in [0, {n_samples}).")
            twice = np.flatnonzero(counts > 1)
            if len(twice):
                found.stop(
                    f"Epoch {epoch}: {len(twice)} samples go to more than one worker "
                    f"(e.g. sample {twice[0]}); the shards must be disjoint."
                )
            missing = np.flatnonzero(counts == 0)
            if len(missing):
                found.stop(
                    f"Epoch {epoch}: {len(missing)} samples go to no worker (e.g. sample "
                    f"{missing[0]}); together the shards must cover every sample."
                )
            if max(sizes) - min(sizes) > max(1, n_samples // 100):
                found.add(
                    f"Epoch {epoch}: shard sizes {sizes} are unbalanced; the slowest "
                    f"worker sets the pace, so give each about n / {n_workers}."
                )
            epochs_seen.append(shards[0])
        if epochs > 1 and np.array_equal(epochs_seen[0], epochs_seen[1]):
            found.add(
                "Worker 0 reads the same samples in the same order every epoch: shuffle "
                "the global order with a seed that includes the epoch, then split it."
            )
        elif epochs > 1 and set(epochs_seen[0].tolist()) == set(epochs_seen[1].tolist()):
            found.add(
                "Worker 0 reads the same samples every epoch, only reordered: the shards are "
                "cut before the shuffle, so each worker keeps one fixed part of the data for "
                "the whole run. Shuffle the whole epoch with (seed, epoch), then cut it "
                "(order[worker::workers])."
            )
    return found.report(
        f"{n_workers} disjoint, balanced shards covering all {n_samples} "
        f"samples, a new order each epoch.",
        verbose,
    )


def _cluster_problem(config, worker, ports):
    """What is wrong with one worker's parsed `TF_CONFIG`, or None."""
    addresses = [f"127.0.0.1:{port}" for port in ports]
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or cluster.get("worker") != addresses:
        return (
            f"worker {worker}'s TF_CONFIG has cluster {cluster}; every worker must list the "
            f"same addresses, in the same order: {{'worker': {addresses}}}."
        )
    task = config.get("task")
    if task != {"type": "worker", "index": worker}:
        return (
            f"worker {worker}'s TF_CONFIG has task {task}; it must say which of the cluster's "
            f"addresses is its own: {{'type': 'worker', 'index': {worker}}}."
        )
    return None


def check_worker_setup(worker_setup, ports, n_samples, epochs=2, verbose=True):
    """Checks `worker_setup(worker, ports) -> (TF_CONFIG JSON, loader)` for every worker.

    Each worker's `TF_CONFIG` must name the same cluster of `127.0.0.1:port`
    addresses and its own index, and be JSON (the environment holds text). The
    loaders' epochs (their `sampler.batches(epoch)`) must split every epoch between
    the workers as `check_shards` requires: disjoint, complete, balanced, new each
    epoch.

    Returns:
        A `Report`.
    """
    import json

    found, loaders = Findings(), []
    with found:
        for worker in range(len(ports)):
            setup = found.call(f"worker_setup({worker}, ports)", worker_setup, worker, ports)
            if not isinstance(setup, tuple) or len(setup) != 2:
                found.stop(
                    f"worker_setup returned {type(setup).__name__}; expected a tuple "
                    f"(TF_CONFIG as a JSON string, the worker's loader)."
                )
            text, loader = setup
            try:
                config = json.loads(text)
            except (TypeError, ValueError):
                found.stop(
                    f"worker {worker}'s TF_CONFIG is {type(text).__name__}, not JSON text: "
                    f"the environment holds strings, so json.dumps the dict."
                )
            problem = _cluster_problem(config, worker, ports)
            if problem:
                found.stop(problem)
            if not hasattr(getattr(loader, "sampler", None), "batches"):
                found.stop(
                    f"worker {worker}'s loader has no sampler.batches(epoch): build it "
                    f'with the lesson\'s loader("train", shard=(worker, n_workers)).'
                )
            loaders.append(loader)
        found.problems += check_shards(
            lambda epoch, worker, k: np.concatenate(loaders[worker].sampler.batches(epoch)),
            n_samples,
            len(ports),
            epochs,
            verbose=False,
        ).problems
    return found.report(
        f"{len(ports)} workers agree on the cluster, each knows its index, and "
        f"their loaders split every epoch of {n_samples:,} samples.",
        verbose,
    )
