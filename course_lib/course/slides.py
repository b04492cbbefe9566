"""Slides from the lessons themselves: RISE in JupyterLab, or reveal.js files.

Every cell of a solution notebook carries `metadata.slideshow.slide_type`,
the field both tools read: `"slide"` starts a slide, `"subslide"` a slide
below it, `"-"` keeps the cell on the current one, `"fragment"` reveals it
on the next key press, `"skip"` and `"notes"` leave it out. `make
exercises` first gives every cell without one a type from the lesson's
outline (`outline_type`), keeping the types an instructor chose, and the
learner copies inherit them.

- Live, in the kit's JupyterLab: open a lesson and press Alt+R (RISE, the
  `jupyterlab-rise` extension); cells run on the slides.
- As files: `make slides` writes `build/slides/NN_topic.slides.html` for
  every lesson with its solutions (reveal.js, loaded from its CDN when the
  file is opened; the outputs are the notebook's, so run it and save it first
  to show them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from course_lib.course.exercises import NOTEBOOKS, SOLUTIONS, text

SLIDE_TYPES = ("slide", "subslide", "-", "fragment", "skip", "notes")
"""The values of `metadata.slideshow.slide_type` that nbconvert and RISE know."""

SLIDES = NOTEBOOKS.parent / "build" / "slides"


def outline_type(cell: nbformat.NotebookNode, first: bool = False) -> str:
    """The slide type a cell gets from the lesson's outline.

    Used by the kit, not by a lesson.

    The title cell and each cell with a section heading (`#`, `##`) start a
    slide; any other text cell (a `###` heading, or the words after a
    result) starts a subslide below it; a code cell joins the text above it,
    so the slide shows the explanation, the code and its output together.

    Example:

    >>> outline_type(nbformat.v4.new_markdown_cell("## 2. Workers"))
    'slide'
    >>> outline_type(nbformat.v4.new_code_cell("print(1)"))
    '-'
    """
    if cell.cell_type != "markdown":
        return "slide" if first else "-"
    lines = cell.source.splitlines()
    if first or any(line.startswith(("# ", "## ")) for line in lines):
        return "slide"
    return "subslide"


def slide_types(notebook: nbformat.NotebookNode) -> list[str | None]:
    """Each cell's `slideshow.slide_type`, or `None` where it has none."""
    return [cell.metadata.get("slideshow", {}).get("slide_type") for cell in notebook.cells]


def mark_slides(notebook: nbformat.NotebookNode) -> bool:
    """Gives each cell without a slide type its `outline_type`; returns whether any changed.

    Used by the kit, not by a lesson.

    Raises:
        ValueError: for a slide type neither nbconvert nor RISE knows, naming
            the cell and the types that are.
    """
    changed = False
    for index, cell in enumerate(notebook.cells):
        chosen = cell.metadata.get("slideshow", {}).get("slide_type")
        if chosen is None:
            cell.metadata["slideshow"] = {"slide_type": outline_type(cell, first=index == 0)}
            changed = True
        elif chosen not in SLIDE_TYPES:
            raise ValueError(
                f"Cell {cell.get('id', index)} has slide_type {chosen!r}; use one of "
                f"{', '.join(map(repr, SLIDE_TYPES))} (JupyterLab's property inspector lists them)."
            )
    return changed


def mark_solutions(folder: Path = SOLUTIONS):
    """Runs `mark_slides` on every solution notebook; returns the names it rewrote."""
    rewritten = []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if mark_slides(notebook):
            path.write_text(text(notebook))
            rewritten.append(path.name)
    return rewritten


def to_slides(path: str | Path, folder: str | Path = SLIDES) -> Path:
    """Converts one notebook to a reveal.js file with nbconvert; returns its path.

    Used by the kit, not by a lesson.

    Example:

    ```python
    to_slides("notebooks/solutions/05_hdf5_reading.ipynb")
    # -> build/slides/05_hdf5_reading.slides.html
    ```
    """
    from nbconvert import SlidesExporter

    path, folder = Path(path), Path(folder)
    html, _ = SlidesExporter().from_filename(str(path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def main():
    """`make slides`: every lesson, with its solutions, as reveal.js slides."""
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        print(f"wrote {to_slides(path).relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
