"""Budgets: exceeded, within, failing, for functions and scripts; the caller goes on."""

import sys

from course_lib.course import workloads
from course_lib.measure import budget


def test_a_function_that_exceeds_the_budget_is_stopped_with_a_clear_message():
    result = budget.run_function(workloads.allocate, 600, hold_s=20, budget_mib=300)
    assert result.outcome == "exceeded" and not result.ok
    assert result.peak_mib > 300
    assert str(result).startswith("exceeded the budget of 300 MiB at ")
    assert result.seconds < 20  # stopped, not waited for (it would hold its memory 20 s)


def test_a_function_within_the_budget_completes_with_its_value_and_peak():
    result = budget.run_function(workloads.allocate, 100, budget_mib=800)
    assert result.ok and result.value == 100
    assert 100 < result.peak_mib < 800
    assert str(result).startswith("completed within the budget of 800 MiB: peak ")


def test_an_error_of_its_own_is_reported_not_raised():
    result = budget.run_function(workloads.fail, "bad input file", budget_mib=800)
    assert result.outcome == "failed"
    assert result.error == "ValueError: bad input file" and "bad input file" in str(result)


def test_scripts_under_a_budget(tmp_path):
    greedy = tmp_path / "greedy.py"
    greedy.write_text(
        "import numpy as np, time\nx = np.ones(700 * 2**20, np.uint8)\ntime.sleep(20)\n"
    )
    polite = tmp_path / "polite.py"
    polite.write_text("print('done')\n")
    exceeded = budget.run_script(greedy, budget_mib=300)
    assert exceeded.outcome == "exceeded" and exceeded.seconds < 20  # stopped, not waited for
    completed = budget.run_script([sys.executable, str(polite)], budget_mib=300)
    assert completed.ok and completed.value.strip() == "done"
    failed = budget.run_script(
        [sys.executable, "-c", "raise SystemExit('no data')"], budget_mib=300
    )
    assert failed.outcome == "failed" and failed.error == "no data"


def test_the_peak_is_the_childs_own_not_its_parents():
    import numpy as np

    ballast = np.ones(800 * 2**20, np.uint8)  # a big parent, like a notebook kernel
    result = budget.run_function(workloads.allocate, 50, budget_mib=700)
    assert result.ok and result.peak_mib < 400
    del ballast


def _hold_in_forked_workers(mib, workers, hold_s):
    import multiprocessing
    import time

    import numpy as np

    shared = np.ones(mib * 2**20, np.uint8)
    forked = [
        multiprocessing.get_context("fork").Process(target=time.sleep, args=(hold_s,))
        for _ in range(workers)
    ]
    for process in forked:
        process.start()
    for process in forked:
        process.join()
    return int(shared.sum() // 2**20)


def test_pages_forked_workers_share_count_once_against_the_budget():
    # RSS counts the 200 MiB in each of the four processes (over 800 MiB);
    # PSS, which the watchdog reads once RSS crosses the budget, counts it once.
    result = budget.run_function(_hold_in_forked_workers, 200, 3, 3, budget_mib=500)
    assert result.ok, result
    assert result.value == 200 and 200 < result.peak_mib < 500
