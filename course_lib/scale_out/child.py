"""Running a function in a fresh Python process: the kit's one way to do it.

Benchmarks, memory budgets and local training workers all need work done in
a process of its own, so that a notebook's memory, threads and imports do
not change what is measured. `start(fn, ...)` runs `fn(*args, **kwargs)` in
a new interpreter (`python -m course_lib.scale_out.child`), and `.wait()` returns a
`ChildResult`: the value (any picklable object), the error line if it
failed, everything it printed, and its memory.

Memory figures are the child's own. Its peak is `VmHWM` from
`/proc/self/status`, never `ru_maxrss`, which Linux carries across `exec`:
a child started from a 1.5 GiB notebook kernel would report 1.5 GiB. Its
baseline is its RSS after the modules in `imports` are loaded, so
`added_mib` shows what the work itself added.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import cloudpickle
import psutil


@dataclasses.dataclass
class ChildResult:
    """What a function run in a child process returned, printed and used.

    Used by the kit, not by a lesson.

    Attributes:
        value: what the function returned (`None` if it failed or was stopped).
        error: the last line of its exception, or why it ended without a result.
        log: everything it printed (stdout and stderr).
        returncode: the process's exit code (negative: killed by a signal).
        seconds: wall-clock seconds the function ran.
        baseline_mib: its RSS after the imports, before the function ran.
        peak_mib: its own peak RSS (`VmHWM`), 0 when it did not report.
        stopped: `True` when the parent stopped it (a watch or a timeout).
    """

    value: object = None
    error: str = None
    log: str = ""
    returncode: int = None
    seconds: float = 0.0
    baseline_mib: float = 0.0
    peak_mib: float = 0.0
    stopped: bool = False

    @property
    def ok(self):
        return self.error is None and not self.stopped

    @property
    def added_mib(self):
        """Peak memory above the baseline: what the function added."""
        return self.peak_mib - self.baseline_mib


def own_memory_mib(field: str = "VmHWM"):
    """A memory figure of this process from `/proc/self/status`, in MiB (0 elsewhere).

    Used by the kit, not by a lesson.

    Args:
        field: `"VmHWM"` (peak RSS since the program started) or `"VmRSS"` (now).

    Example:

    >>> own_memory_mib("VmRSS") > 0
    True
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_memory_mib(process: psutil.Process, proportional: bool = True):
    """Memory of a process and its descendants, in MiB (0 once gone).

    Used by the kit, not by a lesson.

    Sums PSS (proportional set size) where the system reports it: a page
    that forked workers share counts once in all, instead of once per
    worker as RSS does. Falls back to RSS elsewhere. PSS costs the kernel a
    walk of the page tables (about 30 ms for a process that has imported
    TensorFlow, measured here); `proportional=False` sums RSS, which is read
    in microseconds and never below PSS.
    """
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in members:
        try:
            total += _member_bytes(member, proportional)
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _member_bytes(member: psutil.Process, proportional: bool):
    """One process's PSS if asked for and reported, else its RSS."""
    if proportional:
        try:
            return member.memory_full_info().pss
        except (AttributeError, psutil.AccessDenied):
            pass
    return member.memory_info().rss


def stop_tree(process: psutil.Process):
    """Kills a process and all its descendants.

    Used by the kit, not by a lesson.
    """
    try:
        members = [*process.children(recursive=True), process]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass


def supervise(
    popen: subprocess.Popen,
    watch: Callable[[psutil.Process], bool] | None = None,
    timeout: float | None = None,
    interval: float = 0.02,
):
    """Waits for a started process, stopping its whole tree if it must stop.

    Used by the kit, not by a lesson.

    Args:
        popen: a `subprocess.Popen`.
        watch: optional `watch(process) -> bool`, called every `interval`
            seconds with the process's `psutil.Process`; `True` stops it.
        timeout: stop it after this many seconds.
        interval: seconds between two looks.

    Returns:
        `(stopped, seconds)`: whether it was stopped, and how long it ran.
    """
    started, stopped = time.perf_counter(), False
    process = psutil.Process(popen.pid)
    while popen.poll() is None and not stopped:
        stopped = (watch is not None and bool(watch(process))) or (
            timeout is not None and time.perf_counter() - started > timeout
        )
        if stopped:
            stop_tree(process)
        else:
            time.sleep(interval)
    popen.wait()
    return stopped, time.perf_counter() - started


class Child:
    """A function running in a child process; `wait()` for its `ChildResult`.

    Used by the kit, not by a lesson.

    Use `start` to make one.
    """

    def __init__(
        self,
        fn: Callable,
        args: tuple,
        kwargs: dict,
        imports: Sequence[str] = (),
        env: dict | None = None,
    ):
        module, name = fn.__module__, fn.__qualname__
        if module == "__main__":  # `python -m package.module`: import it by its real name
            spec = getattr(sys.modules["__main__"], "__spec__", None)
            module = spec.name if spec is not None else module
        if module == "__main__" or "<" in name:  # a notebook's function travels by value
            target = cloudpickle.dumps(fn)
        else:  # an importable one is imported by name, after `imports`
            target = (module, name)
        self._folder = tempfile.TemporaryDirectory(prefix="course-child-")
        self._task = Path(self._folder.name) / "task.pickle"
        self._result = Path(self._folder.name) / "result.pickle"
        self._log = Path(self._folder.name) / "log.txt"
        self._task.write_bytes(cloudpickle.dumps((target, args, kwargs, tuple(imports))))
        with open(self._log, "w") as log:  # a file, not a pipe: a chatty child never blocks
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "course_lib.scale_out.child",
                    str(self._task),
                    str(self._result),
                ],
                env={
                    **os.environ,
                    "TF_CPP_MIN_LOG_LEVEL": "2",
                    "PYTHONPATH": _parent_path(),
                    **(env or {}),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.process.pid

    def wait(
        self,
        timeout: float | None = None,
        watch: Callable[[psutil.Process], bool] | None = None,
        interval: float = 0.02,
    ):
        """Waits for the child; returns its `ChildResult`.

        Args:
            timeout: stop the child after this many seconds (`stopped=True`).
            watch: optional `watch(process) -> bool`, called every `interval`
                seconds with the child's `psutil.Process`; returning `True`
                stops the child (a memory budget, say).
            interval: seconds between two calls of `watch`.
        """
        stopped, seconds = supervise(self.process, watch, timeout, interval)
        log = self._log.read_text(errors="replace")
        result = ChildResult(
            log=log, returncode=self.process.returncode, stopped=stopped, seconds=seconds
        )
        if self._result.is_file() and not stopped:
            for key, value in pickle.loads(self._result.read_bytes()).items():
                setattr(result, key, value)
        elif not stopped:
            last = (log.strip().splitlines() or [""])[-1]
            result.error = (
                f"the child process ended with exit code "
                f"{self.process.returncode} without a result: {last[:200]}"
            )
        self._folder.cleanup()
        return result


def _parent_path():
    """This process's module path, so the child imports what the parent can."""
    return os.pathsep.join(entry for entry in sys.path if entry)


def start(fn: Callable, *args, imports: Sequence[str] = (), env: dict | None = None, **kwargs):
    """Starts `fn(*args, **kwargs)` in a fresh Python process.

    Used by the kit, not by a lesson.

    Args:
        fn: the function. A module-level function of an importable module
            is imported by name in the child; one defined in a notebook cell
            or inside a function travels by value (`cloudpickle`), with the
            values it uses.
        *args, **kwargs: its arguments (picklable).
        imports: modules to import before the baseline memory is taken
            (e.g. `("keras",)`), so `added_mib` leaves them out.
        env: extra environment variables for the child.

    Returns:
        A `Child`; call `.wait()` for its `ChildResult`.

    Example:

    ```python
    result = start(workloads.allocate, 100).wait()
    result.ok, round(result.added_mib, -1)  # -> (True, 100.0)
    ```
    """
    return Child(fn, args, kwargs, imports, env)


def run(
    fn: Callable,
    *args,
    imports: Sequence[str] = (),
    env: dict | None = None,
    timeout: float | None = None,
    **kwargs,
):
    """`start(...)` then `wait(timeout)`: the `ChildResult` of `fn(*args, **kwargs)`.

    First used in lesson 08 (tf_data).
    """
    return start(fn, *args, imports=imports, env=env, **kwargs).wait(timeout=timeout)


def _main(task_path, result_path):
    """The child's side: import, measure the baseline, run, report."""
    from course_lib.loading import processes

    processes.use_start_method()  # as in the parent: spawn, say, to stand for a Mac
    target, args, kwargs, imports = pickle.loads(Path(task_path).read_bytes())
    for extra in imports:
        importlib.import_module(extra)
    if isinstance(target, bytes):
        fn = pickle.loads(target)
    else:
        fn = importlib.import_module(target[0])
        for part in target[1].split("."):
            fn = getattr(fn, part)
    report = {"baseline_mib": own_memory_mib("VmRSS")}
    started = time.perf_counter()
    try:
        report["value"] = fn(*args, **kwargs)
    except BaseException as exc:  # report everything, even MemoryError
        traceback.print_exc()
        report["error"] = traceback.format_exception_only(type(exc), exc)[-1].strip()
    report.update(seconds=time.perf_counter() - started, peak_mib=own_memory_mib("VmHWM"))
    Path(result_path).write_bytes(pickle.dumps(report))


if __name__ == "__main__":
    _main(*sys.argv[1:3])
