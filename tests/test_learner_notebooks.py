"""Run All is safe for a learner, and every checker can fail: both sides of each exercise.

The repository's conftest.py tries each exercise twice in the kernel where nbval runs its
solution notebook: first the learner notebook's stub and the check after it, which must say
"Not done yet" without an error, then the solution and the check, which must say "All checks
passed". That equals running the learner notebook blank, top to bottom, as long as no other
cell reads a name an exercise or a check cell defines (what every lesson promises: "later
cells never use your answer"). The first test holds the lessons to that; the others run the
conftest on small notebooks to show that it fails each way it should.
"""

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from course_lib.checks.report import DONE, NOT_DONE
from course_lib.course import exercises

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted(exercises.SOLUTIONS.glob("*.ipynb"))


def _python(source):
    """A cell's source as Python, IPython's `%magic` and `!shell` lines left out."""
    lines = source.splitlines()
    return ast.parse("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))


def _defined(tree):
    """Names a cell binds at its top level: assignments, imports, functions and classes."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        for part in ast.walk(node):
            if isinstance(part, ast.Name) and isinstance(part.ctx, ast.Store):
                names.add(part.id)
            elif isinstance(part, ast.alias):
                names.add((part.asname or part.name).split(".")[0])
    return names


def _read(tree):
    """Every name a cell reads, in function bodies too."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_no_other_cell_reads_what_an_exercise_or_its_check_defines(path):
    owned = {}  # name -> the exercise or check cell that defines it
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    for number, cell in enumerate(code):
        tree = _python(cell.source)
        tags = cell.metadata.get("tags", [])
        if exercises.EXERCISE_TAG in tags or exercises.CHECK_TAG in tags:
            owned.update(dict.fromkeys(_defined(tree), number))
            continue
        used = sorted(_read(tree) & set(owned))
        assert not used, (
            f"{path.name} code cell {number} reads {used}, defined by exercise or check cell "
            f"{[owned[n] for n in used]}: with the exercise blank it would differ or fail"
        )


def _notebook(*cells):
    """A notebook of code cells given as (source, tags)."""
    notebook = nbformat.v4.new_notebook()
    for source, tags in cells:
        notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    return notebook


SOLVED = f"def answer():\n    {exercises.BEGIN}\n    return 42\n    {exercises.END}\n"
CHECK = (
    f"print({DONE!r} if answer() == 42 else {NOT_DONE!r})",
    [exercises.CHECK_TAG],
)


def _run_lesson(pytester, *cells):
    """Runs the conftest on one small lesson (solution and learner notebook); returns the run."""
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    solution = _notebook(*cells)
    (pytester.path / "solutions").mkdir()
    nbformat.write(solution, pytester.path / "solutions" / "00_lesson.ipynb")
    learner = exercises.text(exercises.learner_version(solution))
    (pytester.path / "00_lesson.ipynb").write_text(learner)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
        "--nbval-cell-timeout=60", "solutions/00_lesson.ipynb",
    )  # fmt: skip


def test_an_exercise_whose_check_passes_both_sides_passes(pytester):
    result = _run_lesson(pytester, ("x = 1", []), (SOLVED, [exercises.EXERCISE_TAG]), CHECK)
    result.assert_outcomes(passed=3)


def test_a_checker_that_passes_the_blank_exercise_fails(pytester):
    lenient = (f"print({DONE!r})", [exercises.CHECK_TAG])
    result = _run_lesson(pytester, (SOLVED, [exercises.EXERCISE_TAG]), lenient)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the check of the blank exercise should say 'not done yet'*"])


def test_a_check_that_raises_on_the_blank_exercise_fails(pytester):
    strict = (f"assert answer() == 42\nprint({DONE!r})", [exercises.CHECK_TAG])
    result = _run_lesson(pytester, (SOLVED, [exercises.EXERCISE_TAG]), strict)
    result.assert_outcomes(failed=2)  # the exercise cell, and its check with the stub left
    result.stdout.fnmatch_lines(["*the learner's blank exercise raised AssertionError*"])


def test_a_checker_that_rejects_the_solution_fails(pytester):
    wrong = f"def answer():\n    {exercises.BEGIN}\n    return 41\n    {exercises.END}\n"
    result = _run_lesson(pytester, (wrong, [exercises.EXERCISE_TAG]), CHECK)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the exercise check did not pass on the solution*"])
