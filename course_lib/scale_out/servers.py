"""The tf.data service's servers as local processes: the supervisor and its command line.

`LocalService` starts a dispatcher and N workers as separate processes on
127.0.0.1, the way they run on separate machines, and stops them all on the
way out of a `with` block, after an error or a KeyboardInterrupt too. Each
child also dies with the process that started it (Linux `PR_SET_PDEATHSIG`),
so a killed notebook kernel leaves no orphans. Each server is this module
run as a script (`python -m course_lib.scale_out.servers dispatcher|worker`).
The trainer's side, the datasets `fit` reads from them, is `service`.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from course_lib import config
from course_lib.scale_out import distributed

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


def address_of(service: str | LocalService):
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


def check_reachable(service: str | LocalService, timeout: float | None = 3.0):
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

    def __init__(
        self,
        workers: int = 2,
        work_dir: str | Path | None = None,
        restart: bool = True,
        start_timeout: float = 60,
    ):
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
                    "course_lib.scale_out.servers",
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

    def log_tail(self, name: str, lines: int = 15):
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

    def wait_for_workers(self, count: int, timeout: float | None = None):
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

    def kill_worker(self, index: int):
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

    def stop(self, timeout: float = 10):
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
