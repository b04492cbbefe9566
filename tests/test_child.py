"""One way to run code in a fresh process: values, errors, timeouts, and memory that is the
child's own."""

import numpy as np
import psutil
import pytest

from course_lib.course import workloads
from course_lib.measure import memory_use
from course_lib.scale_out import child


@pytest.fixture(scope="module")
def ballast():
    """A parent holding 1.5 GiB, like a notebook kernel that has loaded data."""
    block = np.ones(1536 * 2**20, np.uint8)
    yield block
    del block


def test_the_peak_and_the_added_memory_are_the_childs_own(ballast):
    result = child.run(workloads.allocate, 100, imports=("numpy",))
    assert result.ok and result.value == 100
    assert result.peak_mib < 400  # not the parent's 1.5 GiB
    assert 90 < result.added_mib < 200
    assert 0 < result.baseline_mib < result.peak_mib


def test_the_streaming_benchmark_reports_the_childs_peak(ballast, tmp_path):
    result = memory_use.streaming_peak_memory(2048, image_size=16)
    assert result.ok and 0 < result.peak_mib < 1536
    assert result.added_mib < 100  # a few batches, not the file (24 MiB here) or the ballast


def test_values_keep_their_type_and_errors_are_reported():
    assert child.run(workloads.fail, "no data").error == "ValueError: no data"
    failed = child.run(workloads.fail, "bad row 3")
    assert not failed.ok and "Traceback" in failed.log and "bad row 3" in failed.log
    assert child.run(np.add, 2, 3).value == 5


def test_a_function_defined_here_travels_by_value():
    offset = 40  # a value it closes over travels with it

    def add_offset(x):
        return x + offset

    result = child.run(add_offset, 2)
    assert result.ok and result.value == 42
    assert child.run(lambda: np.arange(3).sum()).value == 3


def test_a_timeout_stops_the_child_and_leaves_no_process_behind():
    started = child.start(workloads.allocate, 1, hold_s=60)
    result = started.wait(timeout=5)
    assert result.stopped and not result.ok and result.seconds < 30
    assert (
        not psutil.pid_exists(started.pid)
        or psutil.Process(started.pid).status() == psutil.STATUS_ZOMBIE
    )


def test_a_watch_can_stop_the_child():
    seen = []

    def stop_once_seen(process):
        seen.append(process.pid)
        return len(seen) > 3

    result = child.start(workloads.allocate, 1, hold_s=60).wait(watch=stop_once_seen)
    assert result.stopped and len(seen) == 4
