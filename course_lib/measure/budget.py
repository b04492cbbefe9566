"""Running code under a memory budget, in a child process, and saying what happened.

`run_function` and `run_script` start the work in a fresh child process and
watch its memory (its own worker processes included, pages they share
counted once: PSS where the system reports it, else RSS). The
moment it crosses the budget the child is stopped, and the result says
"exceeded the budget of X MiB at Y MiB" instead of a traceback; the caller,
a notebook for instance, keeps running.

Why a watchdog and not a hard OS limit: Linux ignores `RLIMIT_RSS`, and
`RLIMIT_AS` caps *virtual* memory, of which TensorFlow reserves gigabytes it
never touches. Measured here (TensorFlow 2.21): with `RLIMIT_AS` at 2 GiB,
training a small convnet aborts with a native crash while its RSS is under
800 MiB; it takes 4 GiB of address space to run at all. (cgroups limit RSS
properly, but need root or a systemd session.) The watchdog reads the
tree's RSS every `interval` seconds, and its PSS when RSS crosses the
budget, so a child can overshoot by what it allocates in one interval; the
reported figure is the one it saw.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from course_lib.scale_out import child
from course_lib.scale_out.child import tree_memory_mib


@dataclasses.dataclass
class BudgetResult:
    """What happened to work run under a memory budget.

    Used by the kit, not by a lesson.

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
            return (
                f"exceeded the budget of {self.budget_mib:,.0f} MiB at "
                f"{self.peak_mib:,.0f} MiB after {self.seconds:.1f} s; stopped."
            )
        if self.outcome == "failed":
            return (
                f"failed after {self.seconds:.1f} s (peak {self.peak_mib:,.0f} MiB, "
                f"budget {self.budget_mib:,.0f} MiB): {self.error}"
            )
        return (
            f"completed within the budget of {self.budget_mib:,.0f} MiB: peak "
            f"{self.peak_mib:,.0f} MiB, {self.seconds:.1f} s."
        )


def _watchdog(budget_mib, pss_every=0.5):
    """A `Child.wait` watch that stops the child once its process tree's
    memory (PSS where available) crosses the budget; `.peak` is the most it saw.

    Every sample reads RSS, which is cheap and never below PSS; PSS, which
    costs a walk of the child's page tables, is read when RSS crosses the
    budget and otherwise every `pss_every` seconds, for the peak. (Read at
    every sample, PSS took more CPU than the training it watched.)
    """

    def over_budget(process):
        now = time.monotonic()
        if tree_memory_mib(process, proportional=False) > budget_mib or now >= over_budget.due:
            over_budget.due = now + pss_every
            over_budget.peak = max(over_budget.peak, tree_memory_mib(process))
        return over_budget.peak > budget_mib

    over_budget.peak, over_budget.due = 0.0, 0.0
    return over_budget


def run_function(
    fn: Callable,
    *args,
    budget_mib: float,
    interval: float = 0.02,
    timeout: float | None = None,
    **kwargs,
):
    """Runs `fn(*args, **kwargs)` in a child process under a memory budget.

    First used in lesson 01 (in_memory_fit).

    The child is a fresh interpreter (`course_lib.scale_out.child`, safe with
    TensorFlow). `fn` may be a module's function or one defined in a notebook
    cell (it travels by value); its return value must be picklable.

    Args:
        fn: the function.
        *args: its arguments.
        budget_mib: the budget, in MiB (the child and its workers, shared
            pages counted once).
        interval: seconds between two memory samples.
        timeout: stop the child after this many seconds (`TimeoutError`).
        **kwargs: its keyword arguments.

    Returns:
        A `BudgetResult`; `str(result)` is one sentence.

    Raises:
        TimeoutError: when `timeout` passes first.

    Example:

    ```python
    result = run_function(workloads.allocate, 500, budget_mib=300)
    print(result)  # -> exceeded the budget of 300 MiB at 312 MiB after 0.4 s; stopped.
    ```
    """
    watch = _watchdog(budget_mib)
    result = child.start(fn, *args, **kwargs).wait(timeout, watch=watch, interval=interval)
    peak = max(watch.peak, result.peak_mib)
    if result.stopped and watch.peak <= budget_mib:
        raise TimeoutError(f"The child process ran longer than {timeout} s and was stopped.")
    if result.stopped or (result.ok and peak > budget_mib):  # or a spike between samples
        return BudgetResult("exceeded", budget_mib, peak, result.seconds)
    if not result.ok:
        return BudgetResult("failed", budget_mib, peak, result.seconds, error=result.error)
    return BudgetResult("completed", budget_mib, peak, result.seconds, value=result.value)


def run_script(
    command: Sequence[str] | str | Path,
    budget_mib: float,
    interval: float = 0.02,
    timeout: float | None = None,
):
    """Runs a command (e.g. `["python", "train.py"]`) under a memory budget.

    Used by the kit, not by a lesson.

    Args:
        command: the command line, as a list; a single path to a `.py` file
            is run with this Python.
        budget_mib, interval, timeout: as in `run_function`.

    Returns:
        A `BudgetResult`; `value` holds the command's standard output.
    """
    if isinstance(command, (str, bytes)) or hasattr(command, "__fspath__"):
        command = [sys.executable, str(command)]
    watch = _watchdog(budget_mib)
    # Output goes to files, not pipes: a command that prints a lot never blocks.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        popen = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        stopped, seconds = child.supervise(popen, watch, timeout, interval)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if stopped and watch.peak <= budget_mib:
        raise TimeoutError(f"The command ran longer than {timeout} s and was stopped.")
    if stopped:
        return BudgetResult("exceeded", budget_mib, watch.peak, seconds, value=stdout)
    if popen.returncode != 0:
        last = (stderr.strip().splitlines() or [f"exit code {popen.returncode}"])[-1]
        return BudgetResult("failed", budget_mib, watch.peak, seconds, value=stdout, error=last)
    return BudgetResult("completed", budget_mib, watch.peak, seconds, value=stdout)
