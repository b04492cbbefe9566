"""Public names declared apart from the files that define them.

Each subpackage (`formats`, `loading`, `scale_out`, `measure`, `course`)
lists the names it exports, module by module, and hands the table to
`lazy_exports`. `from course_lib.loading import HDF5Dataset` then imports
`course_lib.loading.loaders` on first use only, so importing a subpackage
stays cheap (no TensorFlow until a name needs it), and a module can move
within its subpackage without changing what lessons import.
"""

import importlib
from collections.abc import Callable


def lazy_exports(package: str, table: dict[str, list[str]]) -> tuple[list[str], Callable, Callable]:
    """`(__all__, __getattr__, __dir__)` for a package exporting `table`'s names.

    Args:
        package: the package's `__name__`.
        table: `{module: [names it exports]}`; the modules are exported too.

    Raises:
        ValueError: if two modules export the same name.

    Example:

    ```python
    __all__, __getattr__, __dir__ = lazy_exports(__name__, {"loaders": ["HDF5Dataset"]})
    ```
    """
    home = {}
    for module, names in table.items():
        for name in names:
            if name in home:
                raise ValueError(
                    f"{package}: {name!r} is exported by both {home[name]} and {module}."
                )
            home[name] = module
    exported = sorted(home) + sorted(table)

    def __getattr__(name):
        if name in table:
            return importlib.import_module(f"{package}.{name}")
        if name in home:
            return getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return exported

    return exported, __getattr__, __dir__
