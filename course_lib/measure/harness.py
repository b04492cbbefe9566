"""The harness every benchmark uses: fresh child processes, rates, CPU time, tables.

Measurements and presentation are apart: each measurement returns a pandas
DataFrame (one row per thing measured, ratio columns against a baseline row
measured in the same run, `table`); `render` turns any of them into the text
`make bench` prints, and the lessons display the same DataFrames.
`in_fresh_process` runs a measurement in a new Python process, so a
notebook's earlier cells do not change its figures.
"""

from __future__ import annotations

import os
import time
import typing
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from course_lib.scale_out import child

if typing.TYPE_CHECKING:
    import keras

    from course_lib.scale_out.child import ChildResult


def in_fresh_process(measurement: Callable, *args, **kwargs):
    """Runs `measurement(*args, **kwargs)` in a new Python process and returns its result.

    First used in lesson 05 (hdf5_reading).

    Lessons call the benchmarks this way, so a notebook's earlier cells (its
    memory, its allocator's state, its threads) do not change the figures:
    they match `make bench`.

    Raises:
        RuntimeError: when the benchmark fails in the child, with its error.

    Example:

    ```python
    rates = in_fresh_process(throughput.loader_throughput, "lesson")
    ```
    """
    return value_of(child.run(measurement, *args, **kwargs))


def value_of(result: ChildResult):
    """The value of a `ChildResult`, or a `RuntimeError` with the child's error and log.

    Used by the kit, not by a lesson.
    """
    if not result.ok:
        raise RuntimeError(
            f"The benchmark's child process failed: {result.error}\n{result.log[-2000:]}"
        )
    return result.value


def rate(run: Callable[[], object], samples: float, repeat: int = 3):
    """Samples per second of `run()`, which handles `samples` samples: best of `repeat`.

    First used in lesson 08 (tf_data).

    Example:

    >>> rate(lambda: sum(range(10_000)), samples=10_000) > 0
    True
    """
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return samples / best


def batches_rate(
    read: Callable[[np.ndarray], object], batches: Sequence[np.ndarray], repeat: int = 3
):
    """Samples per second of calling `read(positions)` on each batch: best of `repeat`.

    Used by the kit, not by a lesson.
    """

    def run():
        for positions in batches:
            read(positions)

    return rate(run, sum(len(b) for b in batches), repeat)


def read_epoch(ds: keras.utils.PyDataset, count: int | None = None):
    """Reads batches `0..count-1` of a loader (all by default), dropping each at
    once, as the in-memory ceiling does.

    First used in lesson 09 (files_and_records).
    """
    for index in range(len(ds) if count is None else count):
        ds[index]


def table(values: dict[str, float], column: str, index: int, ratios: dict[str, str] | None = None):
    """One measurement as a DataFrame: a figure per row, and ratio columns.

    Used by the kit, not by a lesson.

    Args:
        values: `{row name: figure}`, in the order to show.
        column: the figures' column, e.g. `"samples/s"`.
        index: the name of the rows, e.g. `"reader"`.
        ratios: `{column: baseline row}`: each figure divided by the
            baseline's, e.g. `{"x ceiling": "in-memory numpy (ceiling)"}`.

    Example:

    >>> frame = table({"fast": 300.0, "slow": 100.0}, "samples/s", "reader",
    ...               {"x slow": "slow"})
    >>> frame["x slow"].to_dict()
    {'fast': 3.0, 'slow': 1.0}
    """
    frame = pd.DataFrame({column: pd.Series(values, dtype=float)})
    frame.index.name = index
    for name, baseline in (ratios or {}).items():
        frame[name] = frame[column] / values[baseline]
    return frame


def render(frame: pd.DataFrame, title: str):
    """A benchmark's DataFrame as the text `make bench` prints: its title, then
    the rows, each column shown to the precision its largest value needs.

    Used by the kit, not by a lesson.
    """

    def column_format(values):
        top = np.nanmax(np.abs(values)) if len(values) else 0
        pattern = "{:,.0f}" if top >= 1000 else "{:.1f}" if top >= 10 else "{:.3f}"
        return pattern.format

    formats = {
        column: column_format(frame[column].to_numpy(float))
        for column in frame.columns
        if pd.api.types.is_float_dtype(frame[column])
    }
    return f"{title}\n{frame.to_string(formatters=formats, na_rep='-')}\n"


def own_cpu_seconds():
    """CPU seconds this process, all its threads, has used so far.

    Used by the kit, not by a lesson.
    """
    times = os.times()
    return times.user + times.system


def cpu_seconds_of(pids: Iterable[int]):
    """CPU seconds the processes `pids` have used so far (those still running).

    Used by the kit, not by a lesson.
    """
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total
