"""Run All is safe for a learner: each learner notebook runs blank, top to bottom.

Every exercise left as its stub, the notebook must run without an error, and
every check cell must say "Not done yet" (so each checker can fail). The same
checkers must print "All checks passed" on the solution notebooks, which run
under nbval (see the repository's conftest.py).
"""

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib import exercises
from course_lib.checks.report import DONE, NOT_DONE

NOTEBOOKS = sorted(exercises.NOTEBOOKS.glob("*.ipynb"))


def _text(cell):
    """Everything a cell printed or displayed, as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_blank_learner_notebook_runs_and_every_check_is_not_done(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = [(number, cell) for number, cell in enumerate(notebook.cells)
              if exercises.CHECK_TAG in cell.metadata.get("tags", [])]
    assert checks, f"{path.name} has no exercise checks"
    for number, cell in checks:
        said = _text(cell)
        assert NOT_DONE in said and DONE not in said, \
            f"{path.name} cell {number}: a blank exercise should be 'not done yet', got {said!r}"
