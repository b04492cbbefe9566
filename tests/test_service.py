"""The tf.data service helpers: local servers, both processing modes, faults."""

import ast
import collections
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import psutil
import pytest
import tensorflow as tf

from course_lib.course import course_data
from course_lib.formats import encoded, records
from course_lib.scale_out import distributed, servers, service

BATCH = 32


@pytest.fixture(scope="module")
def shards():
    return course_data.ensure_layout("records", "ci", progress=False) / "train"


@pytest.fixture(scope="module")
def local():
    with servers.LocalService(workers=2) as running:
        yield running


def ids_of(dataset):
    return np.concatenate([batch[-1].numpy() for batch in dataset])


def slow_range(n, batch=8):
    """A splittable pipeline slow enough to kill a worker in the middle."""

    def work(ids):
        m = tf.random.uniform((128, 128))
        for _ in range(30):
            m = tf.linalg.matmul(m, m) / 128.0
        return ids + tf.cast(tf.reduce_sum(m) * 0, tf.int64)

    return tf.data.Dataset.range(n).batch(batch).map(work)


def eventually(condition, timeout):
    """Whether `condition()` comes true within `timeout` seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def gone(pids, timeout=10):
    return eventually(
        lambda: (
            not any(
                psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
            )
        ),
        timeout,
    )


def restarted(local, since=0, timeout=30):
    """Whether the supervisor restarts a worker within `timeout` s (events from `since` on)."""
    return eventually(lambda: any("restarted" in event for event in local.events[since:]), timeout)


def test_address_of_rejects_a_bare_host():
    assert servers.address_of("grpc://127.0.0.1:5050") == ("127.0.0.1", 5050)
    with pytest.raises(ValueError, match="grpc://host:port"):
        servers.address_of("dispatcher.example")


def test_unreachable_dispatcher_fails_within_seconds():
    port = distributed.free_ports(1)[0]
    started = time.monotonic()
    with pytest.raises(servers.ServiceUnreachable, match=f"127.0.0.1:{port}.*LocalService"):
        service.service_dataset(
            tf.data.Dataset.range(4).batch(2),
            f"grpc://127.0.0.1:{port}",
            "distributed_epoch",
            samples=4,
            batch_size=2,
        )
    assert time.monotonic() - started < 10


def test_local_service_uses_only_public_tensorflow_api():
    """No private attribute of a TensorFlow object (`server._address`, `_num_workers()`)."""
    tree = ast.parse(inspect.getsource(service))
    private = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]
    assert not private, private


def test_servers_are_separate_processes_on_localhost(local):
    assert local.target.startswith("grpc://127.0.0.1:")
    assert len(local.alive()) == 3 and os.getpid() not in local.alive()
    assert local.serving_workers() == 2
    assert local.work_dir.parent.name == "service"


def test_an_interrupt_stops_every_server_and_removes_the_work_dir():
    with pytest.raises(KeyboardInterrupt):
        with servers.LocalService(workers=1) as running:
            pids, work_dir = running.alive(), running.work_dir
            raise KeyboardInterrupt
    assert len(pids) == 2 and gone(pids)
    assert not work_dir.exists()


def test_servers_die_with_a_killed_parent(tmp_path):
    script = (
        "from course_lib.scale_out import servers\n"
        "s = servers.LocalService(workers=1)\n"
        "print(*s.alive(), flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(psutil.pid_exists(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert gone(pids), "a server outlived the process that started it"


def test_a_server_that_cannot_start_shows_its_log(local):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(servers.ServiceStartError, match="worker-9 did not start.*log"):
            local._start_worker(9, port=busy.getsockname()[1])


def test_distributed_epoch_reads_each_sample_exactly_once(local, shards):
    pipeline, samples = service.record_pipeline(
        shards, BATCH, "distributed_epoch", seed=1, with_ids=True
    )
    dataset = service.service_dataset(
        lambda epoch: pipeline(epoch).map(lambda x, y, i: (x, i)),
        local.target,
        "distributed_epoch",
        samples,
        BATCH,
    )
    assert int(dataset.cardinality()) == -(-samples // BATCH)
    epochs = [ids_of(dataset) for _ in range(2)]
    for ids in epochs:
        assert sorted(ids) == list(range(samples))
    assert not np.array_equal(*epochs)
    sizes = [len(batch[1]) for batch in dataset]
    assert set(sizes[:-1]) == {BATCH} and sizes[-1] == samples - BATCH * (len(sizes) - 1)


def test_parallel_epochs_gives_each_worker_the_whole_dataset_in_its_own_order(local, shards):
    keras.utils.set_random_seed(0)  # would make every worker's order the same
    pipeline, samples = service.record_pipeline(shards, BATCH, "parallel_epochs", with_ids=True)
    ids = ids_of(
        pipeline(tf.constant(0, tf.int64)).apply(
            tf.data.experimental.service.distribute("parallel_epochs", local.target)
        )
    )
    assert collections.Counter(collections.Counter(ids.tolist()).values()) == {2: samples}
    batches = collections.Counter(tuple(ids[k : k + BATCH]) for k in range(0, len(ids), BATCH))
    assert max(batches.values()) == 1, "two workers produced the same batch"

    dataset = service.service_dataset(
        lambda epoch: pipeline(epoch).map(lambda x, y, i: (x, i)),
        local.target,
        "parallel_epochs",
        samples,
        BATCH,
    )
    epoch = ids_of(dataset)
    # An epoch is `samples` ids taken from the start of each worker's pass, as the workers
    # deliver them: at most once per worker. Usually both contribute, so some ids come twice
    # and others not at all, but a worker slow to start (2 shared cores) may supply them all.
    assert len(epoch) == samples and set(epoch.tolist()) <= set(range(samples))
    assert max(collections.Counter(epoch.tolist()).values()) <= 2


def ran_out_warnings(model, dataset):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    return [w for w in caught if "ran out of data" in str(w.message)]


@pytest.mark.parametrize("mode", service.MODES)
def test_fit_on_the_service_without_running_out_of_data(local, shards, mode):
    pipeline, samples = service.record_pipeline(shards, BATCH, mode, seed=0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    kit = service.service_dataset(pipeline, local.target, mode, samples, BATCH)
    assert ran_out_warnings(model, kit) == []
    raw = pipeline(tf.constant(0, tf.int64)).apply(
        tf.data.experimental.service.distribute(mode, local.target)
    )
    # The first epoch of a dataset of unknown length always runs out. A later epoch runs out
    # too unless it has one batch more than the first (distributed_epoch's count changes with
    # how the splits fell between workers), so only the first warning is certain.
    assert ran_out_warnings(model, raw.take(8) if mode == "parallel_epochs" else raw)


def test_a_killed_worker_in_distributed_epoch_loses_samples_and_the_kit_says_so(local):
    n = 2048
    before = len(local.events)
    dataset = service.service_dataset(
        slow_range(n).map(lambda ids: (ids, ids)), local.target, "distributed_epoch", n, BATCH
    )
    seen, message = [], ""
    try:
        for step, (_, ids) in enumerate(dataset):
            seen.append(ids.numpy())
            if step == 5:
                local.kill_worker(1)
    except tf.errors.InvalidArgumentError as error:
        message = error.message
    seen = np.concatenate(seen)
    assert len(set(seen.tolist())) == len(seen), "a sample arrived twice"
    if len(seen) < n:  # the usual case: the worker held some samples when it died
        delivered = int(re.search(rf"delivered (\d+) of {n} samples", message)[1])
        assert len(seen) <= delivered < n  # the batch that failed the check is not seen
        assert "at most once" in message
    else:
        assert message == ""
    # When the worker held nothing the epoch may end before its restart: wait for that.
    assert restarted(local, since=before)
    local.wait_for_workers(2)


def test_a_killed_worker_in_parallel_epochs_starts_over(local):
    n = 1024
    before = len(local.events)
    ids = []
    for step, batch in enumerate(
        slow_range(n).apply(
            tf.data.experimental.service.distribute("parallel_epochs", local.target)
        )
    ):
        ids.append(batch.numpy())
        if step == 5:
            local.kill_worker(0)
    counts = collections.Counter(np.concatenate(ids).tolist())
    assert set(counts) == set(range(n)), "a sample was lost"
    assert min(counts.values()) >= 1 and sum(counts.values()) > n
    assert restarted(local, since=before)


def users_shards(folder, labels):
    """Class-sorted shards as another tool writes them: no shards.json, 3 files."""
    folder.mkdir()
    jpeg = encoded.encode(np.full((8, 8, 3), 90, np.uint8))
    for part, ids in enumerate(np.array_split(np.arange(len(labels)), 3)):
        with tf.io.TFRecordWriter(str(folder / f"part-{part}.tfrecord")) as writer:
            for i in ids:
                writer.write(records.serialize(jpeg, labels[i], i))
    return folder


def test_users_class_sorted_shards_each_sample_once_per_epoch(local, tmp_path):
    labels = np.repeat([0, 1, 2], [40, 35, 25])  # class-sorted, 100 samples: a partial batch
    pipeline, samples = service.record_pipeline(
        users_shards(tmp_path / "users", labels),
        BATCH,
        "distributed_epoch",
        seed=3,
        image_shape=(8, 8, 3),
        n_classes=3,
        with_ids=True,
    )
    dataset = service.service_dataset(
        lambda epoch: pipeline(epoch).map(lambda x, y, i: (y, i)),
        local.target,
        "distributed_epoch",
        samples,
        BATCH,
    )
    assert samples == 100 and int(dataset.cardinality()) == 4
    epochs = []
    for _ in range(2):
        batches = [(y.numpy(), i.numpy()) for y, i in dataset]
        ids = np.concatenate([i for _, i in batches])
        assert sorted(ids) == list(range(100))
        assert np.array_equal(np.concatenate([y for y, _ in batches]), labels[ids])
        epochs.append(ids)
    assert not np.array_equal(*epochs)


def test_a_bad_label_in_a_users_shard_is_named_through_the_service(local, tmp_path):
    labels = np.repeat([0, 1, 2], [40, 35, 25])
    labels[77] = 5  # in part-2 (ids 67-99), its record 10
    pipeline, samples = service.record_pipeline(
        users_shards(tmp_path / "users", labels),
        BATCH,
        "distributed_epoch",
        image_shape=(8, 8, 3),
        n_classes=3,
    )
    dataset = service.service_dataset(pipeline, local.target, "distributed_epoch", samples, BATCH)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"part-2\.tfrecord.*record.*\b10\b"):
        for _ in dataset:
            pass


# --- exercise 10.1's checker: a parallel_epochs pipeline with an order of its own per worker ----


def own_order_pipeline(folder, batch_size):
    """The answer: the seed drawn when a worker runs the graph, from its clock."""
    from course_lib.formats import records

    clock = tf.data.Dataset.from_tensors(0).map(
        lambda _: tf.cast(tf.timestamp() * 1e6, tf.int64) % (2**31 - 1)
    )
    return clock.flat_map(
        lambda seed: records.record_dataset(
            folder, batch_size, seed=seed, with_ids=True, declare_length=False
        )
    )


def test_parallel_order_checker(local):
    from course_lib import checks
    from course_lib.formats import records

    assert checks.check_parallel_order(own_order_pipeline, verbose=False).ok  # its own service
    assert local.serving_workers() == 2
    seeded = checks.check_parallel_order(
        lambda folder, b: records.record_dataset(
            folder, b, seed=1, with_ids=True, declare_length=False
        ),
        service=local,
        verbose=False,
    )
    assert "arrived twice, the very same batch from both workers" in seeded.problems[0]
    eager = checks.check_parallel_order(
        lambda folder, b: own_order_pipeline(folder, b).map(
            lambda x, y, ids: (x, y, tf.py_function(lambda i: i, [ids], tf.int64))
        ),
        verbose=False,
    )
    assert "calls Python (tf.py_function or tf.numpy_function)" in eager.problems[0]
