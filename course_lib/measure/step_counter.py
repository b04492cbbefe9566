"""Counts the batches Keras trains, evaluates and predicts in a process, for lesson timings.

Used by the kit, not by a lesson. `running_time.measure_lessons` starts every
kernel and child process of a lesson with `install` run first (through a
`sitecustomize` module on `PYTHONPATH`), so the count covers the fits of child
processes too. Each process appends one line to `$COURSE_STEP_LOG` when it ends:
`pid train test predict` (other lines, such as `running_time`'s `step s`, are
skipped by `read_log`). Batches that pass through `fit`, `evaluate` and
`predict` are counted (their `CallbackList`), and so are `train_on_batch`,
`test_on_batch` and `predict_on_batch`; a custom loop of TensorFlow or JAX
steps is not.
"""

import atexit
import importlib.abc
import importlib.util
import os
import sys

STEP_LOG_ENV = "COURSE_STEP_LOG"
KINDS = ("train", "test", "predict")
_PATCHES = {
    "keras.src.callbacks.callback_list": [
        ("CallbackList", f"on_{kind}_batch_end", kind) for kind in KINDS
    ],
    "keras.src.models.model": [("Model", f"{kind}_on_batch", kind) for kind in KINDS],
}
"""Where Keras's batches pass: `fit`, `evaluate` and `predict` end each batch in their
`CallbackList`; a hand-written loop calls `Model.train_on_batch` (and its two siblings)."""


class _CountingFinder(importlib.abc.MetaPathFinder):
    """Loads Keras's modules of `_PATCHES` as usual, then counts calls to their methods."""

    def __init__(self, counts):
        self.counts = counts
        self.pending = set(_PATCHES)

    def find_spec(self, name, path, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            if self.pending:
                sys.meta_path.insert(0, self)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            for cls, method, kind in _PATCHES[name]:
                _count_calls(getattr(module, cls), method, self.counts, kind)

        spec.loader.exec_module = exec_module
        return spec


def _count_calls(cls, method, counts, kind):
    original = getattr(cls, method)

    def counted(self, *args, **kwargs):
        counts[kind] += 1
        return original(self, *args, **kwargs)

    setattr(cls, method, counted)


def install():
    """Counts this process's batches if `$COURSE_STEP_LOG` is set; call before Keras loads.

    Used by the kit, not by a lesson.
    """
    log = os.environ.get(STEP_LOG_ENV)
    if not log or "keras" in sys.modules:
        return
    counts = dict.fromkeys(KINDS, 0)
    sys.meta_path.insert(0, _CountingFinder(counts))

    @atexit.register
    def write():
        if any(counts.values()):
            with open(log, "a") as file:
                file.write(f"{os.getpid()} " + " ".join(str(counts[k]) for k in KINDS) + "\n")


def read_log(path: str | os.PathLike) -> dict:
    """The batches of every process in the log at `path`, summed: `{"train": n, ...}`.

    Used by the kit, not by a lesson.
    """
    totals = dict.fromkeys(KINDS, 0)
    if os.path.exists(path):
        for line in open(path).read().splitlines():
            if not line.split()[0].isdigit():  # another kind of line (`step 0.04`)
                continue
            for kind, value in zip(KINDS, line.split()[1:]):
                totals[kind] += int(value)
    return totals
