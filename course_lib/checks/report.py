"""What every checker shares: the report, and calling a learner's code safely.

A checker never raises because of the learner's code: an exception, a stub
that returns `None`, or a wrong type becomes one sentence in the report. So
a notebook whose exercises are still blank runs from top to bottom, and each
check cell says "Not done yet". The tests
hold every checker to both sides: "Not done yet" on the blank learner
notebooks, "All checks passed" on the solution notebooks.
"""

import hashlib
import os

import numpy as np

NOT_DONE = "Not done yet"
DONE = "All checks passed"


class Report:
    """The outcome of a checker: `ok`, the `problems`, and one line to show.

    Args:
        problems: sentences, one per problem found (repeats are dropped).
        success: what was checked, said when there is no problem.

    Example:

    >>> Report([], "every sample once.")
    All checks passed: every sample once.
    >>> Report(["ds[3] is empty."], "every sample once.")
    Not done yet:
    - ds[3] is empty.
    """

    def __init__(self, problems, success):
        self.problems = list(dict.fromkeys(problems))
        self.success = success

    @property
    def ok(self):
        return not self.problems

    def __repr__(self):
        if self.ok:
            return f"{DONE}: {self.success}"
        return "\n".join([f"{NOT_DONE}:", *(f"- {problem}" for problem in self.problems)])


class Stop(Exception):
    """Raised inside a checker when going on would only repeat the problem."""


class Findings:
    """Collects a checker's problems; `call` runs learner code without raising.

    Used as a context manager, it ends the check quietly at a `stop`.

    Example:

    >>> found = Findings()
    >>> with found:
    ...     found.call("make_batches()", lambda: 1 / 0)
    ...     found.add("never reached")
    >>> found.problems
    ['make_batches() raised ZeroDivisionError: division by zero.']
    """

    def __init__(self):
        self.problems = []

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        return kind is not None and issubclass(kind, Stop)  # a stop ends the check, quietly

    def add(self, sentence):
        self.problems.append(sentence)

    def stop(self, sentence):
        """Adds a problem and ends the check."""
        self.add(sentence)
        raise Stop

    def require(self, value, what):
        """Stops when the learner's `value` is still `None` (a blank exercise)."""
        if value is None:
            self.stop(f"{what} is None: it is not built yet (fill in the exercise cell above).")
        return value

    def call(self, what, fn, *args, **kwargs):
        """Returns `fn(*args, **kwargs)`; on an exception, says so and stops.

        A `NotImplementedError` or a `None` result reads as "not written yet".
        """
        try:
            value = fn(*args, **kwargs)
        except NotImplementedError:
            self.stop(f"{what} is not written yet: fill in the exercise cell above.")
        except Stop:  # a problem `fn` found and reported itself
            raise
        except Exception as error:  # the learner's code: report it, do not raise
            self.stop(f"{what} raised {type(error).__name__}: {str(error)[:200]}.")
        if value is None:
            self.stop(f"{what} returned None: it is not written yet (or lacks a return).")
        return value

    def report(self, success, verbose=True):
        """The `Report`, printed when `verbose`."""
        report = Report(self.problems, success)
        if verbose:
            print(report)
        return report


_REFERENCES = {}


def reference_run(key, measure):
    """`measure()` the first time `key` is asked for in this process, its result after.

    The kit's reference solutions are measured beside the learner's to compare
    their memory; for the same inputs (`key` holds them, with a file's size and
    modification time) the figure does not change, so a second check of the
    same exercise does not pay for a second run.
    """
    if key not in _REFERENCES:
        _REFERENCES[key] = measure()
    return _REFERENCES[key]


def file_key(path):
    """`(path, size, mtime_ns)`: what identifies a file's contents in a `reference_run` key."""
    stat = os.stat(path)
    return str(path), stat.st_size, stat.st_mtime_ns


def fingerprints(rows):
    """One short hash per row of an array: tells samples apart by their bytes.

    Example:

    >>> a, b, c = fingerprints(np.array([[1, 2], [3, 4], [1, 2]]))
    >>> a == c, a == b
    (True, False)
    """
    rows = np.ascontiguousarray(rows)
    return [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in rows]


def first_array(inputs):
    """The array a batch's inputs start with: `x` itself, `x[0]` or `x`'s first value."""
    if isinstance(inputs, dict):
        inputs = next(iter(inputs.values()))
    elif isinstance(inputs, (tuple, list)):
        inputs = inputs[0]
    return np.asarray(inputs)


def runs(positions):
    """How many runs of consecutive values a set of positions makes.

    >>> runs([7, 3, 4, 5, 9, 8])
    2
    """
    ordered = np.sort(np.asarray(positions))
    return int(1 + np.count_nonzero(np.diff(ordered) != 1)) if len(ordered) else 0


class H5pyReads:
    """Records every `h5py.Dataset[...]` read made inside the `with` block.

    `reads` holds `(dataset name, index)` pairs, so a checker can tell a slice
    from a fancy index, or see that a file was never read at all.

    Example:

    ```python
    with H5pyReads() as seen:
        loader[0]
    seen.fancy("images")  # reads of /images with an array or list index
    ```
    """

    def __enter__(self):
        import h5py

        self.reads, self._original = [], h5py.Dataset.__getitem__
        original, reads = self._original, self.reads

        def recording(dataset, index, *args, **kwargs):
            reads.append((dataset.name, index))
            return original(dataset, index, *args, **kwargs)

        h5py.Dataset.__getitem__ = recording
        return self

    def __exit__(self, *exc):
        import h5py

        h5py.Dataset.__getitem__ = self._original

    def of(self, name):
        """The indices of the reads of datasets whose path ends with `name`."""
        return [index for dataset, index in self.reads if dataset.endswith(name)]

    def fancy(self, name):
        """How many reads of `name` used an array or list index (h5py's fancy indexing)."""
        parts = (
            part
            for index in self.of(name)
            for part in (index if isinstance(index, tuple) else (index,))
        )
        return sum(isinstance(part, (list, np.ndarray)) and np.ndim(part) > 0 for part in parts)
