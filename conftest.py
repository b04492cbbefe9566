"""Test-wide settings: doctest names, both sides of every exercise, clean Setup cells, workers.

Doctests of `course_lib` find numpy as `np`, as the docstrings assume.

The solution notebooks run under nbval, and each exercise is tried there as a learner meets it
and as it is solved. Before nbval runs a cell tagged `exercise`, the same kernel runs the
learner notebook's version of it (the stub nbgrader leaves) and then the check cell after it,
which must say "Not done yet" without an error, so every checker can fail and a blank exercise
never breaks Run All. Then nbval runs the solution and the check cell, which must print the
checker's success line, so a checker that rejects its own lesson's solution fails the tests.
Trying the blank exercise in the solution's kernel is Run All of the learner notebook because
no other cell reads what an exercise or a check cell defines, and the learner notebook is the
solution notebook with its solutions cleared; `tests/test_learner_notebooks.py` holds both.

A solution notebook's Setup cell (its first code cell) must write nothing to stderr: a learner's
first screen has no red box (`course.startup` keeps TensorFlow's start-up notes out).

`make test` runs the tests on two pytest-xdist workers: each test file, and each solution
notebook, whole on one of them, the slowest notebooks first (`pytest_collection_modifyitems`
and `pytest_xdist_make_scheduler` below). Each worker gets course data of its own, so no two
kernels build the same layout or evict each other's files from the page cache (lesson 09 reads
its files cold).
"""

import os

import nbformat
import numpy as np
import pytest

from course_lib import config as _config
from course_lib.checks.report import DONE, NOT_DONE
from course_lib.course import exercises
from course_lib.loading import processes

pytest_plugins = ["pytester"]  # tests/test_learner_notebooks.py runs this file on small lessons


def pytest_configure(config):
    processes.use_start_method()  # COURSE_START_METHOD, for the tests as for the lessons' kernels
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # a pytest-xdist worker: course data of its own, under the usual data folder
        os.environ[_config.DATA_DIR_ENV] = str(_config.data_root() / "xdist" / worker)


BACKEND_NOTEBOOKS = {
    "03_pydataset": "it shows when fit calls a PyDataset's epoch hooks, which the backend's "
    "trainer decides (a first epoch is read ahead to build the model on JAX)",
    "11_grain_and_jax": "it teaches JAX: Grain, the backends compared, worker start-up",
}
"""The solution notebooks the JAX suite runs again, and why. The others teach loaders and files
whose code is the same on every backend; the tests marked `backend` cover their Keras side."""

SLOWEST = ("12_capstone", "01_in_memory_fit", "11_grain_and_jax", "10_scale_out")
"""Solution notebooks started first, so that none runs alone at the end (ci profile, on 2
loaded cores: 360, 390, 320 and 210 s; the other notebooks 30-120 s)."""


def pytest_collection_modifyitems(config, items):
    """The slowest solution notebooks first, everything else in its usual order; the notebooks
    of `BACKEND_NOTEBOOKS` marked `backend`."""

    def rank(item):
        stem = item.path.stem
        return SLOWEST.index(stem) if stem in SLOWEST else len(SLOWEST)

    items.sort(key=rank)  # stable: the cells of a notebook stay in order
    for item in items:
        if item.path.suffix == ".ipynb" and item.path.stem in BACKEND_NOTEBOOKS:
            item.add_marker(pytest.mark.backend)


def pytest_xdist_make_scheduler(config, log):
    """Each test file or notebook whole on one xdist worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return nodeid.split("::", 1)[0]

    return ByFile(config, log)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np)


def _printed(outputs):
    """The text a cell printed or displayed."""
    return "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in outputs or []
    )


def _learner_cells(solution_path):
    """The code cells of the learner notebook made from a solution notebook (`solutions/X`: `X`)."""
    learner = nbformat.read(solution_path.parents[1] / solution_path.name, as_version=4)
    return [cell for cell in learner.cells if cell.cell_type == "code"]


def _run_blank_exercise(item):
    """Runs, in the notebook's kernel, the learner's stub of this exercise and its check."""
    cells = _learner_cells(item.path)
    stub, check = cells[item.cell_num], cells[item.cell_num + 1]
    assert exercises.CHECK_TAG in check.metadata.get("tags", []), (
        f"{item.path.name} cell {item.cell_num}: an exercise cell must be followed by its check"
    )
    for cell in (stub, check):
        outputs = []
        reply = item.parent.kernel.kc.execute_interactive(
            cell.source,
            allow_stdin=False,
            timeout=item.config.option.nbval_cell_timeout,
            output_hook=lambda msg: outputs.append(msg["content"]),
        )
        content = reply["content"]
        assert content["status"] == "ok", (
            f"the learner's blank exercise raised {content.get('ename')}: "
            f"{content.get('evalue')}\n{cell.source}"
        )
    said = _printed(outputs)
    assert NOT_DONE in said and DONE not in said, (
        f"the check of the blank exercise should say 'not done yet', got:\n{said}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    cell = getattr(item, "cell", None)  # an nbval notebook cell
    tags = cell.metadata.get("tags", []) if cell is not None else []
    if exercises.EXERCISE_TAG in tags:
        _run_blank_exercise(item)
    result = yield
    if cell is not None and item.cell_num == 0:  # the Setup cell: a first screen without red
        errors = [o.get("text", "") for o in item.test_outputs or [] if o.get("name") == "stderr"]
        assert not errors, f"{item.path.name}: its Setup cell wrote to stderr:\n{''.join(errors)}"
    if exercises.CHECK_TAG in tags:
        said = _printed(item.test_outputs)
        assert DONE in said and NOT_DONE not in said, (
            f"the exercise check did not pass on the solution:\n{said}"
        )
    return result
