"""The input pipeline on other processes: a local tf.data service.

When decoding and augmentation cost more CPU than the training machine has,
the pipeline moves to other machines. TensorFlow's engine for that is the
tf.data service: one *dispatcher* that hands out work, N *workers* that run
the pipeline, and the trainer reading their batches with
`tf.data.experimental.service.distribute`. The service needs a pipeline
made only of graph ops (no `from_generator`, `py_function`,
`numpy_function`): the kit's TFRecord pipeline (`records`) is one.

`LocalService` starts a dispatcher and N workers as separate processes on
127.0.0.1, the way they run on separate machines, and stops them all on the
way out of a `with` block, after an error or a KeyboardInterrupt too. Each
child also dies with the process that started it (Linux `PR_SET_PDEATHSIG`),
so a killed notebook kernel leaves no orphans.

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

import argparse
import atexit
import ctypes
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from course_lib import config
from course_lib.scale_out import distributed

MODES = ("distributed_epoch", "parallel_epochs")
HEARTBEAT_MS = 500
"""How often workers tell the dispatcher they are alive."""
WORKER_TIMEOUT_MS = 3000
"""A worker silent this long is dropped by the dispatcher and its readers
move on (TensorFlow's default, 10 minutes, would stall training that long)."""
CHECK_INTERVAL_MS = 1000
"""How often the dispatcher looks for silent workers (and old jobs); the
default, 10 minutes, would notice a dead worker that late."""
_PR_SET_PDEATHSIG = 1


class ServiceUnreachable(ConnectionError):
    """No tf.data dispatcher answers at the given address.

    First used in lesson 10 (scale_out).
    """


class ServiceStartError(RuntimeError):
    """A dispatcher or worker process did not start; the message holds its log.

    Used by the kit, not by a lesson.
    """


def address_of(service):
    """`(host, port)` of a service given as `grpc://host:port` or `host:port`.

    Used by the kit, not by a lesson.

    Example:

    >>> address_of("grpc://127.0.0.1:5050")
    ('127.0.0.1', 5050)
    """
    host, _, port = str(service).split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"{service!r} is not a tf.data service address; "
            f"write it as grpc://host:port, e.g. grpc://127.0.0.1:5050."
        )
    return host, int(port)


def check_reachable(service, timeout=3.0):
    """Raises `ServiceUnreachable` unless something listens at `service`.

    Used by the kit, not by a lesson.

    TensorFlow itself retries an unreachable dispatcher for a long time
    while the first batch never comes; this check fails in `timeout` seconds.

    Args:
        service: `grpc://host:port` of the dispatcher.
        timeout: seconds to wait for the connection.

    Raises:
        ServiceUnreachable: the connection was refused or timed out.

    Example:

    ```python
    check_reachable("grpc://127.0.0.1:5050")
    ```
    """
    host, port = address_of(service)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise ServiceUnreachable(
            f"No tf.data dispatcher answers at {host}:{port} "
            f"({error.strerror or error}). Start one (`LocalService()` here, or "
            f"`tf.data.experimental.service.DispatchServer` on the data machine), "
            f"check the host and port, and that no firewall is in between."
        ) from None


def _die_with_parent():
    """In the child, before exec: get SIGKILL when the parent dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class LocalService:
    """A tf.data service on this machine: one dispatcher and `workers` workers.

    First used in lesson 10 (scale_out).

    Each server is its own Python process, started with
    `python -m course_lib.scale_out.service`, listening on a free port of 127.0.0.1
    and logging to a work directory under the data folder. Use it as a
    context manager: every process is stopped on the way out, whatever the
    reason, and the work directory removed.

    Args:
        workers: number of worker processes to start.
        work_dir: folder for the servers' logs and state; default: a new
            folder under `<data>/<profile>/service/`.
        start_timeout: seconds to wait for each server to come up.

    Raises:
        ServiceStartError: a server did not start; its log is in the message.

    Example:

    ```python
    with LocalService(workers=2) as service:
        train = service_dataset(pipeline, service.target, "distributed_epoch",
                                samples=4096, batch_size=64)
        model.fit(train, epochs=3)
    ```
    """

    def __init__(self, workers=2, work_dir=None, restart=True, start_timeout=60):
        self.start_timeout = start_timeout
        self.restart = restart
        self.events = []
        self._stopping = threading.Event()
        self._own_dir = work_dir is None
        if work_dir is None:
            parent = config.data_dir() / "service"
            parent.mkdir(exist_ok=True)
            work_dir = tempfile.mkdtemp(prefix="run-", dir=parent)
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.dispatcher = None
        self.workers = []
        self.port = None
        atexit.register(self.stop)
        try:
            self.dispatcher = self._start("dispatcher")
            self.port = self._wait_for_port(self.dispatcher, "dispatcher")
            for _ in range(workers):
                self.add_worker()
            self.wait_for_workers(workers)
        except BaseException:
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    @property
    def target(self):
        """The address readers use: `grpc://127.0.0.1:<port>`."""
        return f"grpc://127.0.0.1:{self.port}"

    def _start(self, role, *args, name=None):
        name = name or role
        (self.work_dir / f"{name}.port").unlink(missing_ok=True)
        log = open(self.work_dir / f"{name}.log", "wb")
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "course_lib.scale_out.service",
                    role,
                    "--work-dir",
                    str(self.work_dir),
                    "--name",
                    name,
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                cwd=Path(__file__).resolve().parents[2],
            )
        finally:
            log.close()
        process.name = name
        return process

    def log_tail(self, name, lines=15):
        """The last `lines` lines a server wrote (`"dispatcher"`, `"worker-0"`...)."""
        try:
            text = (self.work_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_port(self, process, name):
        port_file = self.work_dir / f"{name}.port"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if port_file.is_file() and port_file.read_text().strip():
                return int(port_file.read_text())
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise ServiceStartError(
            f"The tf.data {name} did not start (exit code {process.poll()}); the end "
            f"of its log {self.work_dir / (name + '.log')}:\n{self.log_tail(name)}"
        )

    def _start_worker(self, index, port=0):
        process = self._start(
            "worker",
            "--dispatcher",
            f"127.0.0.1:{self.port}",
            "--port",
            str(port),
            name=f"worker-{index}",
        )
        process.port = self._wait_for_port(process, process.name)
        return process

    def add_worker(self):
        """Starts one more worker; returns its index in `workers`."""
        self.workers.append(self._start_worker(len(self.workers)))
        return len(self.workers) - 1

    def _supervise(self):
        """Restarts a worker that died, on its own port, as a cluster manager
        would: TensorFlow's readers keep calling a lost worker's address, and
        the epoch cannot end until something answers there again."""
        while not self._stopping.wait(0.2):
            for index, process in enumerate(self.workers):
                if process.poll() is None or self._stopping.is_set():
                    continue
                self.events.append(
                    f"worker-{index} (port {process.port}) stopped "
                    f"with exit code {process.returncode}"
                )
                if not self.restart:
                    continue
                try:
                    self.workers[index] = self._start_worker(index, process.port)
                    self.events.append(f"worker-{index} restarted on port {process.port}")
                except ServiceStartError as error:
                    self.events.append(f"worker-{index} could not restart: {error}")
                    self.restart = False

    def serving_workers(self):
        """How many worker processes are running and registered with the dispatcher.

        A worker joins `workers` only once it has written its port, which it
        does once its `WorkerServer` is built, and TensorFlow builds it only
        after the dispatcher has answered its first heartbeat: a running
        worker of the list is a registered one.
        """
        return sum(process.poll() is None for process in self.workers)

    def wait_for_workers(self, count, timeout=None):
        """Waits until exactly `count` workers are serving (`serving_workers`).

        Raises:
            TimeoutError: it did not within `timeout` seconds (default:
                `start_timeout`).
        """
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while self.serving_workers() != count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.serving_workers()} workers are serving, not {count}; "
                    f"see the logs in {self.work_dir}."
                )
            time.sleep(0.05)

    def kill_worker(self, index):
        """Kills worker `index` at once (SIGKILL), as a crashed machine would.

        With `restart=True` a new worker comes up on the same port a few
        seconds later; see `events`.
        """
        self.workers[index].kill()

    def alive(self):
        """The pids of the server processes still running."""
        return [
            process.pid
            for process in [self.dispatcher, *self.workers]
            if process is not None and process.poll() is None
        ]

    def stop(self, timeout=10):
        """Stops every server process and removes the work directory it made."""
        self._stopping.set()
        processes = [p for p in [*self.workers, self.dispatcher] if p is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        atexit.unregister(self.stop)
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


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
        assertion = tf.debugging.Assert(
            tf.equal(size, expected),
            [
                "The tf.data service at",
                service,
                "delivered",
                arrived + size,
                "of",
                samples,
                "samples this epoch: a worker stopped while it held some of "
                "them, and distributed_epoch reads each sample at most once. Restart "
                "training from the last checkpoint.",
            ],
            summarize=1,
        )
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


def service_dataset(pipeline, service, mode, samples, batch_size, job_name=None, check_timeout=3.0):
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

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}.")
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


def record_pipeline(path, batch_size, mode, seed=0, augment=None, **options):
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

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}.")
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


def _serve(role, work_dir, name, dispatcher, port):
    """Runs one server in this process until it is killed (the CLI below).

    Only public TensorFlow API: the dispatcher's port is the end of its
    `target`; a worker is given its port (a free one when `port` is 0), and
    its constructor returns once the dispatcher has registered it.
    """
    import tensorflow as tf

    service = tf.data.experimental.service
    work_dir = Path(work_dir)
    if role == "dispatcher":
        server = service.DispatchServer(
            service.DispatcherConfig(
                port=0,
                work_dir=str(work_dir / "state"),
                worker_timeout_ms=WORKER_TIMEOUT_MS,
                job_gc_check_interval_ms=CHECK_INTERVAL_MS,
            )
        )
        port = int(server.target.rpartition(":")[2])
    else:
        port = port or distributed.free_ports(1)[0]
        server = service.WorkerServer(
            service.WorkerConfig(
                dispatcher_address=dispatcher,
                worker_address="127.0.0.1:%port%",
                port=port,
                heartbeat_interval_ms=HEARTBEAT_MS,
            )
        )
    (work_dir / f"{name}.port.partial").write_text(str(port))
    os.replace(work_dir / f"{name}.port.partial", work_dir / f"{name}.port")
    while server:  # it serves on its own threads; SIGTERM ends this wait (see `main`)
        signal.pause()


def main(argv=None):
    parser = argparse.ArgumentParser(description="One tf.data service server (for LocalService).")
    parser.add_argument("role", choices=("dispatcher", "worker"))
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--dispatcher", help="host:port of the dispatcher (workers)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _serve(args.role, args.work_dir, args.name, args.dispatcher, args.port)


if __name__ == "__main__":
    main()
