"""Run All is safe for a learner: each learner notebook runs blank, top to bottom.

Every exercise left as its stub, the notebook must run without an error, and
every check cell must say "Not done yet" (so each checker can fail). The same
checkers must print "All checks passed" on the solution notebooks, which run
under nbval (see the repository's conftest.py).

Each notebook is one test, run in its own kernel after the course data it reads
has been built once. `make test` hands these tests to its two pytest-xdist
workers one at a time (the slowest first), and each worker has course data of
its own, so no two kernels ever share a data folder: lesson 09 evicts its files
from the page cache to read them cold, and another kernel reading the same files
would keep their pages in memory.
"""

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib.checks.report import DONE, NOT_DONE
from course_lib.course import course_data, exercises

SLOWEST = ("12_capstone.ipynb", "10_scale_out.ipynb", "01_in_memory_fit.ipynb")
"""Started first, so no long notebook runs alone at the end (ci profile: 125, 100 and 65 s;
the others 12-37 s)."""
NOTEBOOKS = sorted(
    exercises.NOTEBOOKS.glob("*.ipynb"),
    key=lambda p: (SLOWEST.index(p.name) if p.name in SLOWEST else len(SLOWEST), p.name),
)


@pytest.fixture(scope="session")
def course_files():
    """Every layout of the course data, built once per test process before a kernel reads it."""
    course_data.ensure_all(names=tuple(course_data.LAYOUTS), progress=False)


KERNEL_START_FAILED = "Kernel died before replying to kernel_info"
"""A kernel that dies while starting, before any cell runs (one CI run in five on a loaded
2-core machine): the notebook is run again once, since none of its code was involved."""


def run_blank(path, tries=2):
    """Executes one learner notebook; returns `(executed notebook, error or "")`."""
    notebook = nbformat.read(path, as_version=4)
    try:
        NotebookClient(
            notebook,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    except Exception as exc:  # noqa: BLE001 - reported by the test of this notebook
        if KERNEL_START_FAILED in str(exc) and tries > 1:
            return run_blank(path, tries - 1)
        return notebook, f"{type(exc).__name__}: {str(exc)[-3000:]}"
    return notebook, ""


def _text(cell):
    """Everything a cell printed or displayed, as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_blank_learner_notebook_runs_and_every_check_is_not_done(path, course_files):
    notebook, error = run_blank(path)
    assert not error, f"{path.name} failed when run blank: {error}"
    checks = [
        (number, cell)
        for number, cell in enumerate(notebook.cells)
        if exercises.CHECK_TAG in cell.metadata.get("tags", [])
    ]
    assert checks, f"{path.name} has no exercise checks"
    for number, cell in checks:
        said = _text(cell)
        assert NOT_DONE in said and DONE not in said, (
            f"{path.name} cell {number}: a blank exercise should be 'not done yet', got {said!r}"
        )
