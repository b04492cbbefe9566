"""The package's house: folders along the route of a batch, imports that only go back
along it, and public names that lessons and the README import from a folder, not a file."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

import course_lib

PACKAGE = Path(course_lib.__file__).parent
ROOT = PACKAGE.parent
FOLDERS = ("formats", "loading", "scale_out", "measure", "course")
LEVEL = {
    "config": 0,
    "errors": 0,
    "exports": 0,
    "formats": 1,
    "loading": 2,
    "models": 2,
    "scale_out": 3,
    "course": 4,
    "measure": 5,
    "checks": 6,
    "bench": 6,
}
"""How far along the route each folder (or top-level module) is: a module may import
only from its own level or below."""


def _part(module):
    """`formats` for `course_lib.formats.records`, `config` for `course_lib.config`."""
    return module.split(".")[1]


def _imports(path):
    """The course_lib modules a file imports, at any depth (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("course_lib")
        ):
            if node.module == "course_lib":
                found += [f"course_lib.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("course_lib.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_back_along_the_route(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for module in _imports(path):
        assert LEVEL[_part(module)] <= LEVEL[own], (
            f"{path.relative_to(ROOT)} imports {module}, further along the route"
        )


def test_every_module_lives_in_a_folder_or_is_one_of_the_few_beside_them():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert top == ["bench", "config", "errors", "exports", "models"]
    for folder in FOLDERS:
        assert (PACKAGE / folder / "__init__.py").exists()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_exported_name_is_defined_where_the_table_says(folder):
    package = importlib.import_module(f"course_lib.{folder}")
    modules = {p.stem for p in (PACKAGE / folder).glob("*.py")} - {"__init__"}
    for name in package.__all__:
        assert getattr(package, name) is not None
    assert modules <= set(package.__all__), "every module of the folder is exported"


def _notebook_code():
    for path in sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    readme = (ROOT / "README.md").read_text()
    yield "README.md", "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))


IMPORT = re.compile(r"^from (course_lib[\w.]*) import (\([^)]*\)|[^\n]*)", re.M)


@pytest.mark.parametrize(
    "name, code",
    list(_notebook_code()),
    ids=lambda v: v if isinstance(v, str) and "." in v and "\n" not in v else "",
)
def test_lessons_and_readme_import_exported_names_from_folders(name, code):
    for module, names in IMPORT.findall(code):
        assert module == "course_lib" or _part(module) in (*FOLDERS, "checks", "models", "config")
        assert module.count(".") <= 1, f"{name} imports from a file, {module}: use its folder"
        package = importlib.import_module(module)
        folder = Path(package.__file__).parent
        if Path(package.__file__).name == "__init__.py":
            exported = set(getattr(package, "__all__", ())) | {p.stem for p in folder.glob("*.py")}
            exported |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
        else:
            exported = {n for n in dir(package) if not n.startswith("_")}
        for imported in re.split(r"[\s,()]+", names):
            if imported:
                assert imported in exported, f"{name}: {module} does not export {imported}"


@pytest.mark.parametrize(
    "name, code",
    list(_notebook_code()),
    ids=lambda v: v if isinstance(v, str) and "." in v and "\n" not in v else "",
)
def test_lessons_use_only_public_names_of_the_modules_they_import(name, code):
    modules = {}
    for module, names in IMPORT.findall(code):
        for imported in re.split(r"[\s,()]+", names):
            candidate = f"{module}.{imported}"
            if imported and (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists():
                modules[imported] = candidate
    for alias, module in modules.items():
        loaded = importlib.import_module(module)
        for attribute in set(re.findall(rf"(?<![\w.]){alias}\.(\w+)", code)):
            assert not attribute.startswith("_"), f"{name} uses {alias}.{attribute}, a private name"
            assert hasattr(loaded, attribute), (
                f"{name} uses {alias}.{attribute}, which is not there"
            )


def _lesson_texts():
    texts = {}
    for path in sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        texts[path.stem] = "\n".join("".join(c["source"]) for c in cells)
    return texts


def _public_definitions():
    """`(where, object)` of every exported class and function, and those of the
    modules beside the folders."""
    import inspect

    for folder in FOLDERS:
        package = importlib.import_module(f"course_lib.{folder}")
        for name in package.__all__:
            value = getattr(package, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                yield f"{folder}.{name}", value
    for module in ("config", "errors", "models"):
        loaded = importlib.import_module(f"course_lib.{module}")
        for name, value in vars(loaded).items():
            if (inspect.isclass(value) or inspect.isfunction(value)) and not name.startswith("_"):
                if value.__module__ == loaded.__name__:
                    yield f"{module}.{name}", value


LESSON = re.compile(r"First used in lesson (\d\d) \((\w+)\)\.|Used by the kit, not by a lesson\.")


def _first_lesson(value, texts):
    """The first lesson whose code or text names `value` as code: `module.name` (or
    `folder.name`), `` `name` ``, or an import of it."""
    name, module = value.__name__, value.__module__.rsplit(".", 1)[-1]
    folder = value.__module__.split(".")[1]
    uses = [
        rf"(?<![\w.])(?:{module}|{folder})\.{name}\b",
        rf"`(?:[\w.]*\.)?{name}(?:\(|`)",
        rf"from course_lib[\w.]* import (?:\([^)]*\b{name}\b[^)]*\)|[^\n(]*\b{name}\b)",
    ]
    for lesson, text in texts.items():
        if any(re.search(use, text, re.M) for use in uses):
            return lesson
    return None


def test_every_public_name_says_which_lesson_first_uses_it():
    """As d2l does: each class or function names the first lesson that uses it, and is right."""
    texts = _lesson_texts()
    for where, value in _public_definitions():
        said = LESSON.search(value.__doc__ or "")
        assert said, f"{where}'s docstring does not say which lesson first uses it"
        stated = f"{said.group(1)}_{said.group(2)}" if said.group(1) else None
        assert stated == _first_lesson(value, texts), f"{where}: says {stated}"


def _signatures(folder):
    """`(name, function)` of every exported function, and of the public methods (and
    `__init__`, `__call__`) of every exported class, written in the kit."""
    import inspect

    package = importlib.import_module(f"course_lib.{folder}")
    names = getattr(package, "__all__", None) or [
        n
        for n, v in vars(package).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == package.__name__
    ]
    for name in names:
        value = getattr(package, name)
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value):
            for attribute, function in vars(value).items():
                public = not attribute.startswith("_") or attribute in ("__init__", "__call__")
                if inspect.isfunction(function) and public:
                    if "course_lib" in (inspect.getsourcefile(function) or ""):
                        yield f"{name}.{attribute}", function


@pytest.mark.parametrize("folder", [*FOLDERS, "config", "errors", "exports", "models"])
def test_public_signatures_have_type_hints(folder):
    """Every parameter of the public functions and methods of each folder (and of the
    modules beside them) says its type."""
    import inspect

    for name, function in _signatures(folder):
        parameters = inspect.signature(function).parameters.values()
        bare = [
            p.name
            for p in parameters
            if p.annotation is inspect.Parameter.empty
            and p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        assert not bare, f"{folder}.{name}: no type hint on {bare}"
