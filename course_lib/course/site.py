"""The course as a website: every lesson run once and rendered by MkDocs.

`make site` (or `python -m course_lib.course.site`) stages the pages in
`build/site-src/`: the README as the home page, each lesson with its
solutions (run once, top to bottom, by mkdocs-jupyter in the profile that
`COURSE_PROFILE` names, `lesson` by default) and each lesson as learners get
it (exercises blank, not run). It writes the MkDocs configuration next to
them and builds static HTML in `build/site/`, with a table of contents, a
search box and a link to the next lesson at the foot of each page. Open
`build/site/index.html` in a browser; no server is needed. A cell that fails
stops the build with its code and error (nbclient's), except cells tagged
`raises-exception`, the lessons' deliberate errors.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml

from course_lib.course.exercises import NOTEBOOKS, SOLUTIONS

BUILD = NOTEBOOKS.parent / "build"
SOURCES = "site-src"
SOLVED, BLANK = "solutions", "lessons"


def lesson_title(path: Path) -> str:
    """A lesson's title: its first heading without the `#`.

    Used by the kit, not by a lesson.
    """
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.lstrip("# ").replace("`", "")


def lessons(numbers: list[str] | None = None) -> list[Path]:
    """The solution notebooks whose numbers are in `numbers` (all when `None`).

    Raises:
        ValueError: for a number no lesson has, with the numbers there are.
    """
    every = sorted(SOLUTIONS.glob("*.ipynb"))
    if numbers is None:
        return every
    known = {path.name[:2]: path for path in every}
    unknown = [number for number in numbers if number not in known]
    if unknown:
        raise ValueError(
            f"No lesson numbered {', '.join(unknown)}; the lessons are {', '.join(known)}."
        )
    return [known[number] for number in sorted(numbers)]


def site_config(paths: list[Path], sources: Path, site: Path) -> dict:
    """The MkDocs configuration: the home page, then the lessons with their
    solutions (run), then the lessons as learners get them (not run).

    Used by the kit, not by a lesson.
    """

    def section(folder):
        return [{lesson_title(path): f"{folder}/{path.name}"} for path in paths]

    return {
        "site_name": "Out-of-core Keras: training on data that does not fit in memory",
        "docs_dir": str(sources),
        "site_dir": str(site),
        "use_directory_urls": False,  # pages open from disk, without a server
        "theme": {
            "name": "material",
            "font": False,  # no web fonts: nothing is fetched to show a page
            "features": ["navigation.footer", "navigation.sections", "navigation.top"],
        },
        "markdown_extensions": ["tables", "fenced_code"],
        "nav": [
            {"Home": "index.md"},
            {"Lessons, with solutions": section(SOLVED)},
            {"Lessons as learners get them": section(BLANK)},
        ],
        "plugins": [
            "search",
            {
                "mkdocs-jupyter": {
                    "execute": True,
                    "execute_ignore": [f"{BLANK}/*.ipynb"],
                    "allow_errors": False,
                    "include_source": True,
                    "cache": False,
                    "kernel_name": "python3",
                }
            },
        ],
    }


def build_site(numbers: list[str] | None = None, folder: str | Path = BUILD) -> Path:
    """Stages the pages, writes the configuration and builds the site; returns its folder.

    Used by the kit, not by a lesson. `make site` calls it.

    Args:
        numbers: the lessons to include, as two-digit numbers (all when `None`).
        folder: where `site-src/`, `mkdocs.yml` and `site/` go.

    Raises:
        ValueError: for an unknown lesson number.
        RuntimeError: when MkDocs fails (a lesson cell that raised, say).

    Example:

    ```python
    build_site(["05", "06"])  # -> build/site, with build/site/index.html
    ```
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    paths, folder = lessons(numbers), Path(folder)
    sources, site = folder / SOURCES, folder / "site"
    shutil.rmtree(sources, ignore_errors=True)
    (sources / SOLVED).mkdir(parents=True)
    (sources / BLANK).mkdir()
    shutil.copy(NOTEBOOKS.parent / "README.md", sources / "index.md")
    for path in paths:
        shutil.copy(path, sources / SOLVED / path.name)
        shutil.copy(NOTEBOOKS / path.name, sources / BLANK / path.name)
    config_path = folder / "mkdocs.yml"
    config_path.write_text(yaml.safe_dump(site_config(paths, sources, site), sort_keys=False))
    try:
        build(load_config(str(config_path)))
    except Exception as error:  # MkDocs' own, or a lesson cell's
        raise RuntimeError(f"The site did not build ({config_path}): {error}") from error
    return site


def main(argv=None):
    """`python -m course_lib.course.site [--lessons 05 06] [--folder build]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="*", help="two-digit lesson numbers (default: all)")
    parser.add_argument("--folder", default=str(BUILD), help="where the site goes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    site = build_site(args.lessons, args.folder)
    size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    print(
        f"built {site / 'index.html'} in {time.perf_counter() - started:.0f} s "
        f"({size / 2**20:.1f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
