"""Slides from the lessons: every cell has a slide type, the learner copies keep them through
`make exercises`, and every lesson converts to reveal.js."""

import nbformat
import pytest

from course_lib.course import exercises, slides

SOLUTIONS = sorted(exercises.SOLUTIONS.glob("*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_cell_has_a_slide_type_and_each_section_starts_a_slide(path):
    notebook = read(path)
    types = slides.slide_types(notebook)
    assert None not in types, f"{path.name}: run `make exercises` to give new cells a slide type"
    assert set(types) <= set(slides.SLIDE_TYPES) and types[0] == "slide"
    for cell, kind in zip(notebook.cells, types):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            assert kind == "slide", f"{path.name} cell {cell.id}: a section starts a slide"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_learner_copies_keep_the_slide_types(path):
    learner = read(exercises.NOTEBOOKS / path.name)
    assert slides.slide_types(learner) == slides.slide_types(read(path))
    regenerated = exercises.learner_version(path)
    assert slides.slide_types(regenerated) == slides.slide_types(read(path))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_lesson_converts_to_reveal_slides(path, tmp_path):
    html = slides.to_slides(path, tmp_path).read_text()
    types = slides.slide_types(read(path))
    # A slide is a <section> around its own and its subslides' <section>s.
    assert html.count("<section") == 2 * types.count("slide") + types.count("subslide")
    assert "Reveal.initialize" in html and f"{path.name[:2]} · " in html  # the title


def test_marking_fills_only_missing_types_and_keeps_an_instructors_choice():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 99 · A lesson"),
            nbformat.v4.new_markdown_cell("## 1. A section"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell("What `x` is."),
            nbformat.v4.new_code_cell("x", metadata={"slideshow": {"slide_type": "fragment"}}),
        ]
    )
    assert slides.mark_slides(notebook)
    assert slides.slide_types(notebook) == ["slide", "slide", "-", "subslide", "fragment"]
    assert not slides.mark_slides(notebook)  # nothing left to fill


def test_an_unknown_slide_type_is_named_with_its_cell():
    cell = nbformat.v4.new_code_cell("x", metadata={"slideshow": {"slide_type": "Slide"}})
    cell.id = "abc123"
    with pytest.raises(ValueError, match="abc123.*'Slide'.*'subslide'"):
        slides.mark_slides(nbformat.v4.new_notebook(cells=[cell]))
