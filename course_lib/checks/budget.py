"""Checker for memory budgets: a function's own peak, measured in a child process."""

from course_lib import budget
from course_lib.checks.report import Findings


def check_memory_budget(fn, *args, budget_mib, least_share=0.0, baseline_mib=0.0, timeout=600,
                        verbose=True, **kwargs):
    """Runs `fn(*args, **kwargs)` in a fresh process under `budget_mib` and says how it went.

    The child is stopped as soon as it passes the budget. Its peak counts its
    worker processes too (shared pages once).

    Args:
        fn: the learner's function (a notebook function works).
        budget_mib: the memory limit, in MiB.
        least_share: when above 0, the run must also use at least this share
            of what the budget leaves above `baseline_mib` (an exercise that
            asks for the largest fit the budget allows).
        baseline_mib: what the process needs before any data: Python,
            TensorFlow and the model (a run on almost no data peaks there).

    Returns:
        A `Report`.
    """
    found = Findings()
    result = budget.run_function(fn, *args, budget_mib=budget_mib, timeout=timeout, **kwargs)
    if result.outcome == "exceeded":
        found.add(f"The run passed the budget: {result.peak_mib:.0f} MiB against "
                  f"{budget_mib:.0f} MiB, and was stopped. Hold less at a time.")
    elif result.outcome == "failed":
        found.add(f"The run failed in its own process: {result.error}")
    elif result.value is None:
        found.add("The function returned None: it is not written yet.")
    elif result.peak_mib - baseline_mib < least_share * (budget_mib - baseline_mib):
        used = (result.peak_mib - baseline_mib) / (budget_mib - baseline_mib)
        found.add(f"The run peaked at {result.peak_mib:.0f} MiB: it used {max(used, 0):.0%} of "
                  f"the {budget_mib - baseline_mib:.0f} MiB the budget leaves above "
                  f"{baseline_mib:.0f} MiB for Python, TensorFlow and the model. You can afford "
                  f"more samples: work n out from the memory one sample costs.")
    samples = result.value.get("samples") if isinstance(result.value, dict) else None
    return found.report(f"peak {result.peak_mib:.0f} MiB within the {budget_mib:.0f} MiB "
                        f"budget" + (f", {samples:,} samples." if samples else "."), verbose)
