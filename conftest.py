"""Test-wide settings: doctest names, and the solution notebooks' exercise checks.

Doctests of `course_lib` find numpy as `np` and pickle, as the docstrings
assume. The solution notebooks run under nbval; a cell tagged
`exercise-check` there must print the checker's success line, so a checker
that rejects its own lesson's solution fails the tests (the learner side is
`tests/test_learner_notebooks.py`).
"""

import pickle

import numpy as np
import pytest

from course_lib.checks.report import DONE, NOT_DONE
from course_lib.exercises import CHECK_TAG


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, pickle=pickle)


def _printed(outputs):
    """The text a cell printed or displayed."""
    return "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                   for out in outputs or [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    cell = getattr(item, "cell", None)  # an nbval notebook cell
    if cell is not None and CHECK_TAG in cell.metadata.get("tags", []):
        said = _printed(item.test_outputs)
        assert DONE in said and NOT_DONE not in said, f"the exercise check did not pass on the solution:\n{said}"
    return result
