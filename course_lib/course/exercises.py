"""The learner notebooks, made from the solution notebooks by nbgrader.

The lessons are written once, with their solutions, in
`notebooks/solutions/NN_topic.ipynb`. In an exercise cell (tagged
`exercise`) the answer sits between `### BEGIN SOLUTION` and
`### END SOLUTION`; the cell after it (tagged `exercise-check`) runs a
checker from `course_lib.checks`. nbgrader's `ClearSolutions` preprocessor
replaces each solution region with a stub that runs (`pass`), so a learner
notebook with blank exercises still runs from top to bottom and each check
says "Not done yet". Outputs are cleared too.

Cell metadata, slide types included (`slides`), carries over as it is.
Regenerate the learner notebooks after editing a solution notebook:

    make exercises        # or: python -m course_lib.course.exercises
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor
from nbgrader.preprocessors import ClearSolutions
from traitlets.config import Config

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
EXERCISE_TAG = "exercise"
CHECK_TAG = "exercise-check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\npass"


def learner_version(solution: str | Path | nbformat.NotebookNode):
    """Returns the learner notebook made from a solution notebook (a path or node).

    Used by the kit, not by a lesson.

    Raises:
        RuntimeError: from nbgrader, for a solution region without its end.
    """
    notebook = (
        solution
        if isinstance(solution, nbformat.NotebookNode)
        else nbformat.read(solution, as_version=4)
    )
    config = Config()
    config.ClearSolutions.code_stub = {"python": STUB}
    config.ClearSolutions.enforce_metadata = False  # plain cells, no nbgrader grading metadata
    notebook, _ = ClearSolutions(config=config).preprocess(notebook, {})
    notebook, _ = ClearOutputPreprocessor().preprocess(notebook, {})
    return notebook


def text(notebook: nbformat.NotebookNode):
    """A notebook as the kit writes it: nbformat's JSON with one trailing newline.

    Used by the kit, not by a lesson.
    """
    return nbformat.writes(notebook).rstrip("\n") + "\n"


def stale_notebooks():
    """Names of the learner notebooks that differ from their solution notebook's version.

    Used by the kit, not by a lesson.
    """
    return [
        path.name
        for path in sorted(SOLUTIONS.glob("*.ipynb"))
        if not (NOTEBOOKS / path.name).is_file()
        or (NOTEBOOKS / path.name).read_text() != text(learner_version(path))
    ]


def main():
    """Gives new cells of the solution notebooks a slide type (`slides.mark_solutions`),
    then writes `notebooks/NN_topic.ipynb` for every one; prints what changed."""
    from course_lib.course import slides

    for name in slides.mark_solutions():
        print(f"gave slide types to notebooks/solutions/{name}")
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        target = NOTEBOOKS / path.name
        new = text(learner_version(path))
        if not target.is_file() or target.read_text() != new:
            target.write_text(new)
            print(f"wrote {target.relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
