"""Notebooks are committed clean and follow the lesson conventions.

Running them is nbval's job (`pytest --nbval-lax`, configured in pyproject.toml).
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_lessons_are_numbered_in_order():
    numbers = [int(re.match(r"(\d\d)_[a-z0-9_]+\.ipynb$", p.name).group(1)) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name} cell {number}"
        assert cell.execution_count is None, f"{where} has an execution count: run `make clean-notebooks`"
        if "nbval-check-output" not in cell.metadata.get("tags", []):
            assert not cell.outputs, f"{where} has outputs: run `make clean-notebooks`"
    assert "widgets" not in notebook.metadata, f"{path.name} stores widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_an_id(path):
    """nbformat 4.5 cells carry ids (nbformat.read adds missing ones silently)."""
    cells = json.loads(path.read_text())["cells"]
    assert all("id" in cell for cell in cells), f"{path.name}: a cell has no id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_lesson_conventions(path):
    cells = nbformat.read(path, as_version=4).cells
    title = cells[0].source
    assert cells[0].cell_type == "markdown" and title.startswith(f"# {path.name[:2]} · ")
    for part in ("**You will learn", "**Time:**", "**Prerequisites:**"):
        assert part in title, f"{path.name}: the first cell needs {part}"
    setup = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
             and c.source.startswith("## Setup")]
    assert len(setup) == 1 and cells[setup[0] + 1].cell_type == "code"
    code_before_setup = [c for c in cells[:setup[0]] if c.cell_type == "code"]
    assert not code_before_setup, f"{path.name}: the Setup cell comes first"
    assert "## Summary" in cells[-1].source, f"{path.name}: end with a summary"
    for number, cell in enumerate(cells):
        assert "pip install" not in cell.source, f"{path.name}: no pip install in lessons"
        if cell.cell_type == "code" and number != setup[0] + 1:
            imports = re.findall(r"^(?:import \S+|from \S+ import .+)$", cell.source, re.M)
            assert not imports, f"{path.name} cell {number}: imports belong in the Setup cell"
    errors = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    assert all(c.cell_type == "code" for c in errors)
