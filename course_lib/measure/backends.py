"""Grain against the kit's other loaders, and the same fit on TensorFlow and on JAX.

| measurement        | what it returns                                                 |
|--------------------|-----------------------------------------------------------------|
| `grain_throughput` | samples/s of one HDF5 split through each loader, `x in memory`  |
| `worker_startup`   | seconds to the first batch with Grain threads or processes      |
| `backend_epochs`   | fit's first step and epoch time per backend, `x TensorFlow`     |
| `fork_warnings`    | what each backend warns when `fit` forks worker processes      |

`python -m course_lib.bench grain` prints them (inside `make bench` too).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from course_lib import config
from course_lib.course import course_data
from course_lib.formats import hdf5
from course_lib.loading.sampling import BatchSampler
from course_lib.measure.harness import batches_rate, rate, read_epoch, table, value_of

BACKENDS = ("tensorflow", "jax")


def _after_first(dataset, samples_after_first: int, repeat: int = 3):
    """Samples/s from the first batch to the end of `dataset` (its start-up left out),
    and the seconds to its first batch: best of `repeat`."""
    rates, starts = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        iterator = iter(dataset)
        next(iterator)
        first = time.perf_counter()
        for _ in iterator:
            pass
        rates.append(samples_after_first / (time.perf_counter() - first))
        starts.append(first - started)
    return max(rates), min(starts)


def grain_throughput(profile: str | config.Profile = "lesson", epochs: int = 2, repeat: int = 3):
    """Samples/s of the same HDF5 training split through each loader, in one run.

    First used in lesson 11 (grain_and_jax).

    Rows: gathering batches from the split in memory (the baseline); the kit's
    `HDF5Dataset` (a `PyDataset`, read in this process); Grain over the
    loader's batches (`grain_data.batch_dataset`) with no thread, 1 or 2
    threads, and 2 worker processes; Grain over single rows (`GrainRows`: Grain shuffles and
    batches); the kit's `tf.data` parallel reads. Grain rows run `epochs`
    epochs from one iterator and leave out the time to the first batch (the
    workers' start-up, in `worker_startup`), as `fit` pays it once per run.
    Each figure is the best of `repeat` runs.

    Returns:
        A DataFrame, one row per loader: `samples/s` and `x in memory`.
    """
    import grain
    import tensorflow as tf

    from course_lib.loading import grain_data, tfdata
    from course_lib.loading.loaders import HDF5Dataset

    p = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", p, progress=False)
    x_memory, y_memory = hdf5.load_split(path, "train")  # also warms the page cache
    n = len(x_memory)
    loader = HDF5Dataset(path, batch_size=p.batch_size, seed=0)
    after_first = epochs * n - len(loader.sampler.batches(0)[0])
    rates = {
        "in-memory gather (baseline)": batches_rate(
            lambda b: (x_memory[b], y_memory[b]),
            BatchSampler(n, p.batch_size, "full", seed=0).batches(0),
            repeat=repeat + 2,
        ),
        "kit HDF5Dataset (PyDataset), this process": rate(lambda: read_epoch(loader), n, repeat),
    }
    for name, options in (
        ("Grain over the kit's batches, no thread", {"threads": 0}),
        ("Grain over the kit's batches, 1 thread (default)", {"threads": 1}),
        ("Grain over the kit's batches, 2 threads", {"threads": 2}),
        ("Grain over the kit's batches, 2 processes", {"threads": 1, "processes": 2}),
    ):
        dataset = grain_data.batch_dataset(loader, epochs, **options)
        rates[name] = _after_first(dataset, after_first, repeat)[0]
    rows = grain_data.GrainRows(hdf5.HDF5Rows(path, "train/images"), y_memory, p.n_classes)
    per_row = (
        grain.MapDataset.source(rows)
        .shuffle(seed=0)
        .repeat(epochs)
        .batch(p.batch_size)
        .to_iter_dataset(grain.ReadOptions(num_threads=2))
    )
    rates["Grain over single rows (GrainRows), 2 threads"] = _after_first(
        per_row, epochs * n - p.batch_size, repeat
    )[0]
    pipeline = tfdata.parallel_reads(loader).prefetch(tf.data.AUTOTUNE)
    rates["kit tf.data parallel reads + prefetch"] = rate(lambda: [_ for _ in pipeline], n, repeat)
    return table(
        rates, "samples/s", "loader", {"x in memory": "in-memory gather (baseline)"}
    ).round(3)


def worker_startup(profile: str | config.Profile = "lesson", workers: tuple = (0, 1, 2)):
    """Seconds from `iter(dataset)` to the first batch, Grain threads or processes.

    First used in lesson 11 (grain_and_jax).

    Returns:
        A DataFrame, one row per setting: `first batch s`.
    """
    from course_lib.loading import grain_data
    from course_lib.loading.loaders import HDF5Dataset

    p = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", p, progress=False)
    loader = HDF5Dataset(path, batch_size=p.batch_size, seed=0)
    seconds = {}
    for count in workers:
        name = f"{count} worker processes" if count else "threads in this process"
        dataset = grain_data.batch_dataset(loader, 1, processes=count)
        seconds[name] = _after_first(dataset, 1, repeat=2)[1]
    return pd.DataFrame({"first batch s": seconds}).rename_axis("reader").round(3)


def fit_seconds(
    profile: str | config.Profile,
    data: str = "loader",
    samples: int | None = None,
    epochs: int = 3,
    jit_compile: bool | str = "auto",
    steps_per_execution: int = 1,
):
    """Trains the small convnet for `epochs` epochs on this process's backend.

    Used by the kit, not by a lesson. It runs in `backend_epochs`' children.

    Args:
        profile: the profile whose training split is read.
        data: `"loader"` (the kit's `HDF5Dataset`, one worker) or `"memory"`
            (the split as numpy arrays).
        samples: train on the first `samples` rows only (default: all).
        epochs: epochs to time; the first includes compiling.
        jit_compile, steps_per_execution: passed to `compile`.

    Returns:
        `{"backend", "first step s", "first epoch s", "epoch s"}`: the first
        training step (compiling), the first epoch, the median of the others.
    """
    import keras

    from course_lib import models
    from course_lib.loading.loaders import HDF5Dataset

    p = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", p, progress=False)
    models.set_seed(0)
    model = models.small_convnet(p.image_shape, p.n_classes)
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    rows = None if samples is None else np.arange(samples)
    if data == "memory":
        x, y = hdf5.load_split(path, "train", limit=samples)
        inputs = {"x": x, "y": y, "batch_size": p.batch_size}
    else:
        inputs = {"x": HDF5Dataset(path, batch_size=p.batch_size, seed=0, rows=rows)}
    marks = {}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks.setdefault("epochs", []).append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            marks.setdefault("first step", time.perf_counter())

        def on_train_end(self, logs=None):
            marks["epochs"].append(time.perf_counter())

    model.fit(**inputs, epochs=epochs, verbose=0, shuffle=False, callbacks=[Clock()])
    edges = marks["epochs"]
    durations = np.diff(edges)
    return {
        "backend": keras.backend.backend(),
        "first step s": marks["first step"] - edges[0],
        "first epoch s": float(durations[0]),
        "epoch s": float(np.median(durations[1:])),
    }


def fits_seconds(profile: str | config.Profile, runs: list[dict], **common):
    """`fit_seconds` for each of `runs` in turn, in this process: a list of their results.

    Used by the kit, not by a lesson. It runs in `backend_epochs`' children, one per backend.
    """
    return [fit_seconds(profile, **common, **options) for options in runs]


def backend_epochs(
    profile: str | config.Profile = "lesson",
    samples: int | None = None,
    settings: dict | None = None,
    epochs: int = 3,
    in_memory: bool = True,
):
    """The same fit on each backend, one fresh process per backend: compile and epoch times.

    First used in lesson 11 (grain_and_jax).

    Each row trains a new small convnet (`fit_seconds`); the rows of a backend
    run in turn in one child process started with `KERAS_BACKEND` set, so the
    two backends never share a process (and the imports are paid once per
    backend). The default rows: the kit's loader and the arrays in memory on
    each backend; TensorFlow compiled with XLA, the compiler JAX always uses
    (Keras's `jit_compile="auto"` leaves XLA off for TensorFlow on a machine
    with no GPU); and JAX with `steps_per_execution=8` and without XLA.

    Args:
        profile: the profile whose training split is read.
        samples: train on the first `samples` rows (default: all).
        settings: `{row name: (backend, fit_seconds keyword arguments)}`.
        epochs: epochs per fit; the first includes compiling, the others are timed.
        in_memory: with the default rows, also fit each backend on arrays in memory.

    Returns:
        A DataFrame, one row per setting: `first step s`, `first epoch s`,
        `epoch s` and `x TensorFlow` (epoch s against the TensorFlow row with
        the same data).
    """
    from course_lib.scale_out import child

    p = config.get_profile(profile)
    memory_rows = {
        "TensorFlow, arrays in memory": ("tensorflow", {"data": "memory"}),
        "JAX, arrays in memory": ("jax", {"data": "memory"}),
    }
    settings = settings or {
        "TensorFlow, kit loader": ("tensorflow", {"data": "loader"}),
        "JAX, kit loader": ("jax", {"data": "loader"}),
        **(memory_rows if in_memory else {}),
        "TensorFlow, kit loader, jit_compile=True (XLA)": (
            "tensorflow",
            {"data": "loader", "jit_compile": True},
        ),
        "JAX, kit loader, steps_per_execution=8": (
            "jax",
            {"data": "loader", "steps_per_execution": 8},
        ),
        "JAX, kit loader, jit_compile=False": ("jax", {"data": "loader", "jit_compile": False}),
    }
    rows = {}
    for backend in dict.fromkeys(backend for backend, _ in settings.values()):
        names = [name for name, (each, _) in settings.items() if each == backend]
        runs = [settings[name][1] for name in names]
        result = child.run(
            fits_seconds,
            p.name,
            runs,
            samples=samples,
            epochs=epochs,
            env={"KERAS_BACKEND": backend},
        )
        for name, options, value in zip(names, runs, value_of(result)):
            rows[name] = {**value, "data": options.get("data", "loader")}
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("fit")
    frame = frame.loc[list(settings)]
    baseline = {
        data: frame.loc[(frame.backend == "tensorflow") & (frame.data == data), "epoch s"]
        for data in frame.data.unique()
    }
    frame["x TensorFlow"] = [
        row["epoch s"] / baseline[row.data].iloc[0] if len(baseline[row.data]) else np.nan
        for _, row in frame.iterrows()
    ]
    return frame.drop(columns=["backend", "data"]).round(3)


def fork_warning(profile: str | config.Profile = "ci"):
    """The distinct warnings of one `fit` epoch with 2 process workers, on this backend.

    Used by the kit, not by a lesson. It runs in `fork_warnings`' children.
    """
    import warnings

    from course_lib import models
    from course_lib.loading.loaders import HDF5Dataset

    p = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", p, progress=False)
    loader = HDF5Dataset(path, batch_size=p.batch_size, seed=0, workers=2, use_multiprocessing=True)
    model = models.small_convnet(p.image_shape, p.n_classes)
    model.compile("adam", "sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(loader, epochs=1, verbose=0)
    return sorted({str(warning.message).split(". ")[0] for warning in caught})


def fork_warnings(profile: str | config.Profile = "ci"):
    """What `fit` with process workers warns on each backend, each in a fresh process.

    First used in lesson 11 (grain_and_jax).

    Returns:
        `{backend: [the first sentence of each distinct warning]}`.
    """
    from course_lib.scale_out import child

    name = config.get_profile(profile).name
    return {
        backend: value_of(child.run(fork_warning, name, env={"KERAS_BACKEND": backend}))
        for backend in BACKENDS
    }
