"""Process workers under every start method: what a worker must be able to import.

Linux starts worker processes with `fork` (Python 3.11-3.13), a copy of this
process with everything it defined. macOS and Windows use `spawn`, and Python
3.14 makes `forkserver` the Linux default: there a worker is a new interpreter
that unpickles the loader, so every class and function the loader holds must be
importable. One defined in a notebook cell is not (a notebook's `__main__` is
not a file a worker can import): the worker dies with `AttributeError: Can't
get attribute 'X' on <module '__main__'>`, and Keras's `fit`, which waits for
the batch with no timeout (`OrderedEnqueuer.get`), waits forever.

The kit's loaders check before any worker starts and name what to move.
"""

import io
import multiprocessing
import os
import pickle
import sys
import types

START_METHOD_ENV = "COURSE_START_METHOD"
"""Set to `spawn` or `forkserver` to run a lesson's worker processes as macOS and Windows
(`spawn`) or Python 3.14 on Linux (`forkserver`) start them; `make test` runs the lessons with
process workers under `spawn` this way."""


class _MainFinder(pickle.Pickler):
    """Pickles into nothing, noting each class and function of `__main__` it meets."""

    def __init__(self):
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.found = []

    def reducer_override(self, obj):
        named = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
        if getattr(named, "__module__", None) == "__main__":
            name = getattr(named, "__qualname__", repr(named))
            if name not in self.found:
                self.found.append(name)
        return NotImplemented


def defined_in_notebook(obj: object) -> list[str]:
    """The classes and functions of an interactive `__main__` that pickling `obj` needs.

    Used by the kit, not by a lesson. Empty when `__main__` is a script file (a
    spawned worker imports it) or when nothing comes from it.
    """
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and os.path.isfile(main_file):
        return []
    finder = _MainFinder()
    finder.dump(obj)
    return finder.found


def check_workers_can_load(dataset: object, start_method: str | None = None) -> None:
    """Raises a clear error if worker processes could not rebuild `dataset`.

    First used in lesson 03 (pydataset).

    Under `fork` every worker is a copy of this process, so anything goes.
    Under `spawn` and `forkserver` (the start method of `multiprocessing`, or
    `start_method`), a class or function defined in the notebook cannot be
    loaded by a worker, and `fit` would wait forever for its batches.

    Args:
        dataset: the `PyDataset` (or anything workers receive pickled).
        start_method: the method to check for; `None`: the one in use.

    Raises:
        RuntimeError: naming each notebook-defined class or function the
            dataset holds, the start method, and the fixes.

    Example:

    ```python
    check_workers_can_load(train, start_method="spawn")  # what a Mac or Windows would do
    ```
    """
    method = start_method or multiprocessing.get_start_method()
    if method == "fork":
        return
    state = (type(dataset), vars(dataset)) if hasattr(dataset, "__dict__") else dataset
    names = defined_in_notebook(state)  # its state: pickling the dataset itself would check again
    if names:
        listed = ", ".join(f"`{name}`" for name in names)
        raise RuntimeError(
            f"{_describe(dataset)} holds {listed}, defined in this notebook: worker processes "
            f"started with {method!r} (macOS, Windows, Linux from Python 3.14) cannot load it, "
            f"and fit would wait for their batches forever. Put it in a .py file beside the "
            f"notebook (%%writefile my_loader.py, then from my_loader import ...), or read with "
            f"threads (use_multiprocessing=False)."
        )


def _describe(dataset):
    describe = getattr(dataset, "describe", None)
    return describe() if callable(describe) else type(dataset).__name__


class CheckedForWorkers:
    """Mixin for the kit's `PyDataset`s: pickling for a worker checks it can load them.

    Used by the kit, not by a lesson. Keras pickles the dataset for its pool's
    processes in the main process; an error raised there reaches `fit` at once,
    where a worker's own failure would leave it waiting.
    """

    def __getstate__(self):
        if getattr(self, "use_multiprocessing", False):
            check_workers_can_load(self)
        return self.__dict__


def use_start_method() -> str:
    """Starts worker processes the way `COURSE_START_METHOD` says; returns the method in use.

    Used by the kit, not by a lesson. `startup.import_backend`, the kit's child processes
    and the tests call it.

    Raises:
        ValueError: if the variable names no start method this platform has.
    """
    wanted = os.environ.get(START_METHOD_ENV, "").strip()
    if wanted:
        methods = multiprocessing.get_all_start_methods()
        if wanted not in methods:
            raise ValueError(
                f"{START_METHOD_ENV}={wanted!r} is not a start method of this platform: use "
                f"one of {', '.join(methods)}, or unset it."
            )
        multiprocessing.set_start_method(wanted, force=True)
    return multiprocessing.get_start_method()
