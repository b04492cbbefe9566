"""The instructors' guide keeps up with the lessons: a section per lesson, its times as the
lesson states them, its checkers and cells real."""

import re

import nbformat
import pytest

from course_lib import checks
from course_lib.course import exercises

GUIDE = (exercises.NOTEBOOKS.parent / "INSTRUCTORS.md").read_text()
SOLUTIONS = sorted(exercises.SOLUTIONS.glob("*.ipynb"))
TIME = re.compile(
    r"(\d+-\d+) minutes: (\d+) reading .*?, (\d+-\d+) running .*?, (\d+) for (\d+) exercise"
)


def section(number):
    found = re.search(rf"^### {number} · .*?(?=^### |\Z)", GUIDE, re.M | re.S)
    assert found, f"INSTRUCTORS.md has no section '### {number} · ...'"
    return found.group(0)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_each_lesson_has_a_section_with_the_lessons_own_times(path):
    notebook = nbformat.read(path, as_version=4)
    total, reading, running, minutes, count = TIME.search(notebook.cells[0].source).groups()
    text = section(path.name[:2])
    stated = (
        f"**Time:** {total} min = {reading} reading + {running} running + {minutes} for "
        f"{count} exercise"
    )
    assert stated in text, f"{path.name}: the guide's time line should read {stated!r}"
    ids = {cell.id for cell in notebook.cells}
    for cell_id in re.findall(r"`([0-9a-f]{8})`", text):
        assert cell_id in ids, f"{path.name}: the guide names cell {cell_id}, which it has not"
    for checker in re.findall(r"`(check_\w+)`", text):
        assert hasattr(checks, checker), f"{path.name}: no checker {checker}"
        assert checker in "".join(cell.source for cell in notebook.cells), (path.name, checker)


def test_no_figure_is_left_to_fill():
    assert not re.search(r"\bFIG\d\d\b|LESSON_SECTIONS", GUIDE)
