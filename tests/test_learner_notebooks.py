"""Run All is safe for a learner: each learner notebook runs blank, top to bottom.

Every exercise left as its stub, the notebook must run without an error, and
every check cell must say "Not done yet" (so each checker can fail). The same
checkers must print "All checks passed" on the solution notebooks, which run
under nbval (see the repository's conftest.py).

The notebooks run two at a time, the slowest first, each in its own kernel, after the
course data they read has been built once (so no two kernels build the same layout); the
ones in `ALONE` run last, one at a time.
"""

import concurrent.futures
import multiprocessing

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib import course_data, exercises
from course_lib.checks.report import DONE, NOT_DONE

NOTEBOOKS = sorted(exercises.NOTEBOOKS.glob("*.ipynb"))
AT_ONCE = 2
SLOWEST = ("11_capstone.ipynb", "10_scale_out.ipynb", "01_in_memory_fit.ipynb")
"""Started first, so no long notebook runs alone at the end (ci profile: 125, 100 and 65 s;
the others 12-37 s)."""
ALONE = ("09_files_and_records.ipynb",)
"""Run after the others, with nothing beside them: lesson 09 evicts the shared course files
from the page cache to read them cold, and refuses a cold figure when another kernel reading
the same files keeps their pages in memory (it did once in CI)."""


def run_blank(path):
    """Executes one learner notebook; returns `(executed notebook JSON, error or "")`."""
    notebook = nbformat.read(path, as_version=4)
    error = ""
    try:
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as exc:  # noqa: BLE001 - reported by the test of this notebook
        error = f"{type(exc).__name__}: {str(exc)[-3000:]}"
    return nbformat.writes(notebook), error


@pytest.fixture(scope="module")
def executed():
    """`{notebook name: (executed notebook, error)}` for every learner notebook."""
    course_data.ensure_all(names=tuple(course_data.LAYOUTS), progress=False)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with concurrent.futures.ProcessPoolExecutor(AT_ONCE, mp_context=context) as pool:
        order = sorted((p for p in NOTEBOOKS if p.name not in ALONE),
                       key=lambda p: SLOWEST.index(p.name) if p.name in SLOWEST
                       else len(SLOWEST))
        results = dict(zip((p.name for p in order), pool.map(run_blank, order)))
    results.update({p.name: run_blank(p) for p in NOTEBOOKS if p.name in ALONE})
    return {name: (nbformat.reads(text, as_version=4), error)
            for name, (text, error) in results.items()}


def _text(cell):
    """Everything a cell printed or displayed, as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_blank_learner_notebook_runs_and_every_check_is_not_done(path, executed):
    notebook, error = executed[path.name]
    assert not error, f"{path.name} failed when run blank: {error}"
    checks = [(number, cell) for number, cell in enumerate(notebook.cells)
              if exercises.CHECK_TAG in cell.metadata.get("tags", [])]
    assert checks, f"{path.name} has no exercise checks"
    for number, cell in checks:
        said = _text(cell)
        assert NOT_DONE in said and DONE not in said, \
            f"{path.name} cell {number}: a blank exercise should be 'not done yet', got {said!r}"
