"""Running code under a memory budget, in a child process, and saying what happened.

`run_function` and `run_script` start the work in a fresh child process and
watch its resident memory (RSS, its own worker processes included). The
moment it crosses the budget the child is stopped, and the result says
"exceeded the budget of X MiB at Y MiB" instead of a traceback; the caller,
a notebook for instance, keeps running.

Why a watchdog and not a hard OS limit: Linux ignores `RLIMIT_RSS`, and
`RLIMIT_AS` caps *virtual* memory, of which TensorFlow reserves gigabytes it
never touches. Measured here (TensorFlow 2.21): with `RLIMIT_AS` at 2 GiB,
training a small convnet aborts with a native crash while its RSS is under
800 MiB; it takes 4 GiB of address space to run at all. (cgroups limit RSS
properly, but need root or a systemd session.) The watchdog samples RSS every `interval` seconds, so a
child can overshoot by what it allocates in one interval; the reported
figure is the one it saw.
"""

import dataclasses
import multiprocessing
import subprocess
import sys
import time
import traceback

import psutil


@dataclasses.dataclass
class BudgetResult:
    """What happened to work run under a memory budget.

    Attributes:
        outcome: `"completed"`, `"exceeded"` (stopped at the budget) or
            `"failed"` (an error of its own).
        budget_mib: the budget.
        peak_mib: the highest RSS seen (for a completed function, the
            child's own measured peak).
        seconds: how long it ran.
        value: what the function returned, when it completed.
        error: the last line of its error, when it failed.
    """

    outcome: str
    budget_mib: float
    peak_mib: float
    seconds: float
    value: object = None
    error: str = None

    @property
    def ok(self):
        return self.outcome == "completed"

    def __str__(self):
        if self.outcome == "exceeded":
            return (f"exceeded the budget of {self.budget_mib:,.0f} MiB at "
                    f"{self.peak_mib:,.0f} MiB after {self.seconds:.1f} s; stopped.")
        if self.outcome == "failed":
            return (f"failed after {self.seconds:.1f} s (peak {self.peak_mib:,.0f} MiB, "
                    f"budget {self.budget_mib:,.0f} MiB): {self.error}")
        return (f"completed within the budget of {self.budget_mib:,.0f} MiB: peak "
                f"{self.peak_mib:,.0f} MiB, {self.seconds:.1f} s.")


def _tree_rss_mib(process):
    """RSS of a process and all its descendants, in MiB (0 once it is gone)."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _stop_tree(process):
    try:
        members = [*process.children(recursive=True), process]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass


def _watch(pid, is_running, budget_mib, interval, timeout):
    """Polls a child's memory until it ends or crosses the budget.

    Returns:
        `(exceeded, peak_mib, seconds)`.
    """
    process = psutil.Process(pid)
    started = time.perf_counter()
    peak = 0.0
    while is_running():
        peak = max(peak, _tree_rss_mib(process))
        if peak > budget_mib:
            _stop_tree(process)
            return True, peak, time.perf_counter() - started
        if timeout is not None and time.perf_counter() - started > timeout:
            _stop_tree(process)
            raise TimeoutError(f"The child process ran longer than {timeout} s and was stopped.")
        time.sleep(interval)
    return False, peak, time.perf_counter() - started


def _own_peak_mib():
    """Peak RSS of this process since its program started (Linux: VmHWM), or 0.

    Not `ru_maxrss`: Linux carries that across `exec`, so a child spawned
    from a big notebook kernel would report the kernel's memory.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _child(connection, fn, args, kwargs):
    try:
        value, error = fn(*args, **kwargs), None
    except BaseException as exc:  # report everything, even MemoryError
        value = None
        error = traceback.format_exception_only(type(exc), exc)[-1].strip()
    connection.send((value, error, _own_peak_mib()))
    connection.close()


def run_function(fn, *args, budget_mib, interval=0.02, timeout=None, **kwargs):
    """Runs `fn(*args, **kwargs)` in a child process under a memory budget.

    The child is started with `spawn` (a fresh interpreter, safe with
    TensorFlow), so `fn` must be importable: a function of a module, not one
    defined in a notebook cell. Its return value must be picklable.

    Args:
        fn: the function.
        *args: its arguments.
        budget_mib: the budget, in MiB of RSS (the child and its workers).
        interval: seconds between two memory samples.
        timeout: stop the child after this many seconds (`TimeoutError`).
        **kwargs: its keyword arguments.

    Returns:
        A `BudgetResult`; `str(result)` is one sentence.

    Example:

    >>> result = run_function(workloads.allocate, 500, budget_mib=300)
    >>> print(result)
    exceeded the budget of 300 MiB at 312 MiB after 0.4 s; stopped.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, fn, args, kwargs))
    child.start()
    sender.close()
    exceeded, peak, seconds = _watch(child.pid, child.is_alive, budget_mib, interval, timeout)
    child.join()
    if exceeded:
        return BudgetResult("exceeded", budget_mib, peak, seconds)
    try:
        value, error, child_peak = receiver.recv()
    except EOFError:  # died without reporting: killed by the OS, for instance
        return BudgetResult("failed", budget_mib, peak, seconds,
                            error=f"the child process ended with exit code {child.exitcode}")
    peak = max(peak, child_peak)
    if error is not None:
        return BudgetResult("failed", budget_mib, peak, seconds, error=error)
    if peak > budget_mib:  # a spike between two samples
        return BudgetResult("exceeded", budget_mib, peak, seconds)
    return BudgetResult("completed", budget_mib, peak, seconds, value=value)


def run_script(command, budget_mib, interval=0.02, timeout=None):
    """Runs a command (e.g. `["python", "train.py"]`) under a memory budget.

    Args:
        command: the command line, as a list; a single path to a `.py` file
            is run with this Python.
        budget_mib, interval, timeout: as in `run_function`.

    Returns:
        A `BudgetResult`; `value` holds the command's standard output.
    """
    if isinstance(command, (str, bytes)) or hasattr(command, "__fspath__"):
        command = [sys.executable, str(command)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exceeded, peak, seconds = _watch(child.pid, lambda: child.poll() is None, budget_mib,
                                     interval, timeout)
    stdout, stderr = child.communicate()
    if exceeded:
        return BudgetResult("exceeded", budget_mib, peak, seconds, value=stdout)
    if child.returncode != 0:
        last = (stderr.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
        return BudgetResult("failed", budget_mib, peak, seconds, value=stdout, error=last)
    return BudgetResult("completed", budget_mib, peak, seconds, value=stdout)
