"""Notebooks are committed clean, follow the lesson conventions, and carry exercises.

The solution notebooks (`notebooks/solutions/`) are the source; the learner
notebooks (`notebooks/`) are made from them by `make exercises`. Running the
solution notebooks is nbval's job (`pytest --nbval-lax`, configured in
pyproject.toml), with each exercise tried blank first (conftest.py, `test_learner_notebooks.py`).
"""

import json
import re

import nbformat
import pytest

from course_lib.course import exercises
from course_lib.measure import running_time

NOTEBOOKS = sorted(exercises.NOTEBOOKS.glob("*.ipynb"))
SOLUTIONS = sorted(exercises.SOLUTIONS.glob("*.ipynb"))
BOTH = NOTEBOOKS + SOLUTIONS
MIN_PER_LESSON, MIN_IN_ALL = 2, 20


def _tags(cell):
    return cell.metadata.get("tags", [])


def test_lessons_are_numbered_in_order():
    numbers = [int(re.match(r"(\d\d)_[a-z0-9_]+\.ipynb$", p.name).group(1)) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 2
    assert [p.name for p in SOLUTIONS] == [p.name for p in NOTEBOOKS]


def test_learner_notebooks_are_made_from_the_solutions():
    stale = exercises.stale_notebooks()
    assert not stale, f"{', '.join(stale)}: out of date; run `make exercises`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_learner_notebooks_hold_no_solution(path):
    for number, cell in enumerate(nbformat.read(path, as_version=4).cells):
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source, (
            f"{path.name} cell {number} holds a solution region"
        )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_lesson_has_exercises_with_checks(path):
    cells = nbformat.read(path, as_version=4).cells
    tasks = [i for i, cell in enumerate(cells) if exercises.EXERCISE_TAG in _tags(cell)]
    assert len(tasks) >= MIN_PER_LESSON, f"{path.name}: {len(tasks)} exercises"
    for i in tasks:
        cell, check = cells[i], cells[i + 1]
        assert cell.cell_type == "code" and exercises.BEGIN in cell.source, (
            f"{path.name} cell {i}: an exercise cell holds its answer in a solution region"
        )
        assert exercises.CHECK_TAG in _tags(check) and "checks.check_" in check.source, (
            f"{path.name} cell {i + 1}: an exercise is followed by its checker cell"
        )
        assert cells[i - 1].cell_type == "markdown" and "Exercise" in cells[i - 1].source, (
            f"{path.name} cell {i - 1}: an exercise starts with its task in words"
        )


def test_the_course_has_enough_exercises():
    count = sum(
        exercises.EXERCISE_TAG in _tags(cell)
        for path in SOLUTIONS
        for cell in nbformat.read(path, as_version=4).cells
    )
    assert count >= MIN_IN_ALL


def test_the_readme_counts_the_exercises_and_lessons():
    count = sum(
        exercises.EXERCISE_TAG in _tags(cell)
        for path in SOLUTIONS
        for cell in nbformat.read(path, as_version=4).cells
    )
    readme = (exercises.SOLUTIONS.parents[1] / "README.md").read_text()
    said = re.search(r"\((\d+) in all\)", readme)
    assert said and int(said.group(1)) == count, f"the README should say ({count} in all)"
    rows = re.findall(r"^\| (\d\d) \| `(\d\d_[a-z0-9_]+)` \|", readme, re.M)
    assert [name for _, name in rows] == [p.stem for p in SOLUTIONS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercises_are_numbered_in_order(path):
    text = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )
    numbers = re.findall(r"^### Exercise (\d+)\.(\d+)", text, re.M)
    lesson = int(path.name[:2])
    assert numbers == [(str(lesson), str(k)) for k in range(1, len(numbers) + 1)], numbers


MAX_CELL_LINES = 25
WORDS_PER_MINUTE, MINUTES_PER_EXERCISE = 150, 20
LESSON_MINUTES = (40, 60)
TIME = re.compile(
    r"\*\*Time:\*\* about (\d+)-(\d+) minutes: (\d+) reading \(at 150 words a minute\), "
    r"(\d+)-(\d+) running \(Run All, `lesson` profile, at (\d+) to 500 ms a training step; "
    r"the Setup cell says how long here\), (\d+) for (\d+) exercises?"
)
TIME_PARTS = "total most reading running running_most step_ms exercises count".split()


def lesson_time(path):
    """The times the lesson's first cell states, by name (`TIME_PARTS`)."""
    stated = TIME.search(nbformat.read(path, as_version=4).cells[0].source)
    assert stated, f"{path.name}: state the time as TIME says ('about T-U minutes: ...')"
    return dict(zip(TIME_PARTS, map(int, stated.groups())))


def measured_running(lesson):
    """Run All in minutes on the `lesson` profile: on the reference host, and estimated for a
    host where a training step takes 500 ms; the reference host's step in ms."""
    record = running_time.load_times()["profiles"]["lesson"][lesson]
    there = max(1, round(record["run_all_s"] / 60))
    slow = running_time.estimate(record, running_time.SLOW_STEP_SECONDS)
    return there, max(there, round(slow / 60)), round(record["step_s"] * 1e3)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_lesson_states_its_time_computed_one_way(path):
    cells = nbformat.read(path, as_version=4).cells
    words = sum(len(cell.source.split()) for cell in cells)
    count = sum(exercises.EXERCISE_TAG in _tags(cell) for cell in cells)
    time = lesson_time(path)
    assert time["reading"] == round(words / WORDS_PER_MINUTE), f"{path.name}: {words} words"
    assert time["count"] == count and time["exercises"] == MINUTES_PER_EXERCISE * count
    running = (time["running"], time["running_most"], time["step_ms"])
    assert running == measured_running(path.stem), (
        f"{path.name}: Run All as measured (course_lib/measure/lesson_times.json) is {running}"
    )
    fixed = time["reading"] + time["exercises"]
    assert (time["total"], time["most"]) == (fixed + running[0], fixed + running[1])
    assert LESSON_MINUTES[0] <= time["total"] <= LESSON_MINUTES[1], (
        f"{path.name}: {time['total']} minutes; a lesson with its exercises fits {LESSON_MINUTES}"
    )


def test_the_readme_gives_each_lessons_time():
    readme = (exercises.SOLUTIONS.parents[1] / "README.md").read_text()
    row = r"^\| \d\d \| `(\d\d_[a-z0-9_]+)` \|[^\n]*\| (\d+)-(\d+) min \|$"
    rows = re.findall(row, readme, re.M)
    assert {name: (int(low), int(high)) for name, low, high in rows} == {
        path.stem: (lesson_time(path)["total"], lesson_time(path)["most"]) for path in SOLUTIONS
    }


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cells_are_short(path):
    """Short build-run-show cells: at most 25 lines of code (blank lines not counted).

    An exercise cell is measured in the learner notebook, as the learner sees it; in the
    solution notebook it also holds the answer.
    """
    for number, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or (
            path in SOLUTIONS and exercises.EXERCISE_TAG in _tags(cell)
        ):
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= MAX_CELL_LINES, (
            f"{path.name} cell {number} ({cell.get('id')}) has {len(lines)} lines: split it"
        )


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name} cell {number}"
        assert cell.execution_count is None, (
            f"{where} has an execution count: run `make clean-notebooks`"
        )
        if "nbval-check-output" not in cell.metadata.get("tags", []):
            assert not cell.outputs, f"{where} has outputs: run `make clean-notebooks`"
    assert "widgets" not in notebook.metadata, f"{path.name} stores widget state"


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_cell_has_an_id(path):
    """nbformat 4.5 cells carry ids (nbformat.read adds missing ones silently)."""
    cells = json.loads(path.read_text())["cells"]
    assert all("id" in cell for cell in cells), f"{path.name}: a cell has no id"


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_follows_the_lesson_conventions(path):
    cells = nbformat.read(path, as_version=4).cells
    title = cells[0].source
    assert cells[0].cell_type == "markdown" and title.startswith(f"# {path.name[:2]} · ")
    for part in ("**You will learn", "**Time:**", "**Prerequisites:**"):
        assert part in title, f"{path.name}: the first cell needs {part}"
    setup = [
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.startswith("## Setup")
    ]
    assert len(setup) == 1 and cells[setup[0] + 1].cell_type == "code"
    code_before_setup = [c for c in cells[: setup[0]] if c.cell_type == "code"]
    assert not code_before_setup, f"{path.name}: the Setup cell comes first"
    assert "## Summary" in cells[-1].source, f"{path.name}: end with a summary"
    written = {  # modules the lesson writes itself (`%%writefile name.py`): imported after
        match for c in cells for match in re.findall(r"^%%writefile (\w+)\.py", c.source)
    }
    for number, cell in enumerate(cells):
        assert "pip install" not in cell.source, f"{path.name}: no pip install in lessons"
        if cell.source.startswith("%%writefile"):
            continue  # a file's text, not the notebook's code
        if cell.cell_type == "code" and number != setup[0] + 1:
            imports = re.findall(r"^(?:import (\S+)|from (\S+) import .+)$", cell.source, re.M)
            imports = [a or b for a, b in imports if (a or b) not in written]
            assert not imports, f"{path.name} cell {number}: imports belong in the Setup cell"
    errors = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    assert all(c.cell_type == "code" for c in errors)


def test_every_claim_cites_a_cell_of_its_lesson():
    r"""`tests/test_claims.py` cites `NN \`cell id\``: that cell must be in lesson NN."""
    claims = (exercises.SOLUTIONS.parents[1] / "tests" / "test_claims.py").read_text()
    cited = re.findall(r"\b(\d\d) `([0-9a-f]{8})`", claims)
    ids = {
        path.name[:2]: {cell.id for cell in nbformat.read(path, as_version=4).cells}
        for path in SOLUTIONS
    }
    missing = [f"{lesson} `{cell}`" for lesson, cell in cited if cell not in ids.get(lesson, ())]
    assert len(cited) >= 40 and not missing, f"cited cells not in their lesson: {missing}"


PROSE_FIGURE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:ms|MiB|GiB|MB/s|GB/s|%|x\b|times|samples/s|s\b)"
)
REVIEWED_FIGURES = {
    ("00", "35117f7f"): "chance with three classes: arithmetic",
    ("00", "c827f010"): "a bound on the panel's cost that make bench part panel measures",
    ("01", "a8ba02b7"): "asserted by bf59edbb (per-sample cost of each way, in whole multiples)",
    ("01", "6070fe18"): "the summary of a8ba02b7's asserted figures",
    ("02", "edbf2099"): "chance with three classes: arithmetic",
    ("05", "d1b3e825"): "'1 among 0s', a one-hot row: not a measurement",
    ("06", "61f92079"): "the augmentation's parameters, constants of the cell",
    ("07", "b6832db3"): "the large profile's size, computed from config.PROFILES",
    ("07", "9a124f40"): "the features-only ceiling: arithmetic on the data's design",
    ("08", "35937caa"): "a range from three named runs, beside the table printed here",
    ("09", "0027991c"): "a GPU's speed-up over this CPU, a range from public benchmarks",
    ("09", "db670a24"): "records.ShardWriter's default shard size, a constant",
    ("09", "7a5f9117"): "ranges from named runs, beside the table printed here",
    ("10", "9665284c"): "ci accuracy ranges over 8 and 10 named runs",
    ("10", "6748b6bd"): "a cited paper's figures (Audibert et al., 2023)",
    ("11", "aacee699"): "chance with three classes: arithmetic",
    ("12", "d998aad7"): "the large profile's size and the budget rule: arithmetic",
}
"""Each prose cell after a code cell that states a figure with a unit, with why the figure is
not one the cell above prints unasserted. A new one fails the test until it is asserted by the
cell that prints it, removed in favour of the printed figure, or reviewed here."""


def test_prose_after_a_cell_states_no_unreviewed_figure():
    found = {}
    for path in SOLUTIONS:
        cells = nbformat.read(path, as_version=4).cells
        for before, cell in zip(cells, cells[1:]):
            prose = cell.source.split("\n## ")[0]  # up to the next section
            if before.cell_type == "code" and cell.cell_type == "markdown":
                if PROSE_FIGURE.search(prose):
                    found[path.name[:2], cell.id] = PROSE_FIGURE.findall(prose)
    unreviewed = {key: figures for key, figures in found.items() if key not in REVIEWED_FIGURES}
    assert not unreviewed, (
        "prose states figures next to a cell that may print them: assert them in that cell, "
        f"refer to the printed figure instead, or review them in REVIEWED_FIGURES: {unreviewed}"
    )
    assert set(REVIEWED_FIGURES) <= set(found), set(REVIEWED_FIGURES) - set(found)
