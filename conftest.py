"""Test-wide settings: doctest names, the solution notebooks' exercise checks, workers.

Doctests of `course_lib` find numpy as `np`, as the docstrings assume. The solution notebooks run
under nbval; a cell tagged
`exercise-check` there must print the checker's success line, so a checker
that rejects its own lesson's solution fails the tests (the learner side is
`tests/test_learner_notebooks.py`).

`make test` runs the tests on two pytest-xdist workers: each test file, and
each solution notebook, whole on one of them; the learner notebooks one by one,
each a test of its own (`pytest_xdist_make_scheduler` below). Each worker gets
course data of its own, so no two kernels build the same layout or evict each
other's files from the page cache (lesson 09 reads its files cold).
"""

import os

import numpy as np
import pytest

from course_lib import config as _config
from course_lib.checks.report import DONE, NOT_DONE
from course_lib.course.exercises import CHECK_TAG


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # a pytest-xdist worker: course data of its own, under the usual data folder
        os.environ[_config.DATA_DIR_ENV] = str(_config.data_root() / "xdist" / worker)


def pytest_xdist_make_scheduler(config, log):
    """Each test file or notebook whole on one xdist worker; the learner notebooks one by one."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return nodeid if path.endswith("test_learner_notebooks.py") else path

    return ByFile(config, log)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np)


def _printed(outputs):
    """The text a cell printed or displayed."""
    return "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in outputs or []
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    cell = getattr(item, "cell", None)  # an nbval notebook cell
    if cell is not None and CHECK_TAG in cell.metadata.get("tags", []):
        said = _printed(item.test_outputs)
        assert DONE in said and NOT_DONE not in said, (
            f"the exercise check did not pass on the solution:\n{said}"
        )
    return result
