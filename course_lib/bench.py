"""Benchmarks that print figures: `python -m course_lib.bench` (or `make bench`).

- `writer`: peak memory of the block-wise dataset writers at two sizes.
- `loaders`: samples/s of every way the lessons read batches, in one run on
  the same files, as ratios to the in-memory ceiling and to the naive recipe;
  and the peak memory of a streaming epoch at N and 8N samples.
- `mixing`: validation accuracy after training on class-sorted files (a
  user's PyTables file, chunks of 64 rows and of 1 row, and the course
  images), each order over 8 seeds, next to each order's read speed.
- `merged`: the merged image + feature loader against the naive bcolz row
  gather, and bcolz / blosc2 / zarr / memmap side by side.
- `augment`: the cost of augmentation in the loader and in the model.
- `panel`: what the live resource panel's Keras callback costs an epoch.
- `cold`: every format (raw HDF5, JPEG bytes, TFRecord, files) read cold and
  warm against the disk's sequential bandwidth, their sizes on disk, and
  decoding against the training step (`course_lib.cold`).
- `overlap`: epoch time of streaming fits against the in-memory fit.

Measurements and presentation are apart: each measurement returns a pandas
DataFrame (one row per thing measured, ratio columns against a baseline row
measured in the same run); `render` turns any of them into the text `make
bench` prints, and the lessons display the same DataFrames. Memory figures
come from fresh child processes (`course_lib.child`): each peak is the
child's own (`VmHWM`, not `ru_maxrss`, which Linux carries over from the
parent), next to its RSS after imports.
"""

import argparse
import dataclasses
import functools
import os
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from course_lib import child, config, course_data, layouts, synthetic
from course_lib.sampling import BatchSampler

def in_fresh_process(name, *args):
    """Runs `bench.<name>(*args)` in a new Python process and returns its result.

    Lessons call the benchmarks this way, so a notebook's earlier cells (its
    memory, its allocator's state, its threads) do not change the figures:
    they match `make bench`.

    Raises:
        RuntimeError: when the benchmark fails in the child, with its error.

    Example:

    ```python
    rates = in_fresh_process("loader_throughput", "lesson")
    ```
    """
    return _value(child.run(globals()[name], *args))


def _value(result):
    """The value of a `ChildResult`, or a `RuntimeError` with the child's error and log."""
    if not result.ok:
        raise RuntimeError(f"The benchmark's child process failed: {result.error}\n"
                           f"{result.log[-2000:]}")
    return result.value


def write_layout(layout, overrides):
    """Builds one layout of a profile changed by `overrides` (run in a child)."""
    profile = dataclasses.replace(config.get_profile("ci"), **overrides)
    course_data.ensure_layout(layout, profile, progress=False)


def writer_peak_memory(layout, n_samples, image_size=64, block_size=256):
    """Writes a dataset of `n_samples` in a child process; returns its memory.

    Feature rows (the bcolz layout) are 1024 float32 values.

    Args:
        layout: `"hdf5"`, `"npy"` or `"bcolz"`.
        n_samples: total samples (split 80/10/10).
        image_size: image side in pixels.
        block_size: samples per written block.

    Returns:
        A dict with `before_mib` (RSS after imports, before writing),
        `peak_mib` (peak RSS of the child) and `data_mib` (size of the data).
    """
    n_valid = n_test = n_samples // 10
    overrides = {"name": "bench", "n_train": n_samples - n_valid - n_test,
                 "n_valid": n_valid, "n_test": n_test, "image_size": image_size,
                 "block_size": block_size, "n_features": 1024}
    profile = dataclasses.replace(config.get_profile("ci"), **overrides)
    with tempfile.TemporaryDirectory() as folder:
        result = child.run(write_layout, layout, overrides, imports=("course_lib.course_data",),
                           env={config.DATA_DIR_ENV: folder})
    _value(result)
    data_bytes = profile.feature_bytes if layout == "bcolz" else profile.image_bytes
    return {"before_mib": result.baseline_mib, "peak_mib": result.peak_mib,
            "data_mib": data_bytes / 2**20}


def writer_memory(sizes=(4096, 32768), image_size=64):
    """Memory of the block-wise writers at two sizes, each in a child process.

    Returns:
        A DataFrame, one row per layout and size: `data MiB`, `after imports
        MiB`, `peak MiB` (the child's own) and `added MiB`, the last of which
        stays flat when memory does not grow with the data.
    """
    rows = []
    for layout in ("hdf5", "npy", "bcolz", "images", "hdf5_jpeg", "records"):
        for n in sizes:
            figures = writer_peak_memory(layout, n, image_size)
            rows.append({"layout": layout, "samples": n, "data MiB": figures["data_mib"],
                         "after imports MiB": figures["before_mib"],
                         "peak MiB": figures["peak_mib"],
                         "added MiB": figures["peak_mib"] - figures["before_mib"]})
    return pd.DataFrame(rows).set_index(["layout", "samples"])


def rate(run, samples, repeat=3):
    """Samples per second of `run()`, which handles `samples` samples: best of `repeat`.

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


def batches_rate(read, batches, repeat=3):
    """Samples per second of calling `read(positions)` on each batch: best of `repeat`."""
    def run():
        for positions in batches:
            read(positions)

    return rate(run, sum(len(b) for b in batches), repeat)


def read_epoch(ds, count=None):
    """Reads batches `0..count-1` of a loader (all by default), dropping each at
    once, as the in-memory ceiling does."""
    for index in range(len(ds) if count is None else count):
        ds[index]


def table(values, column, index, ratios=None):
    """One measurement as a DataFrame: a figure per row, and ratio columns.

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


def render(frame, title):
    """A benchmark's DataFrame as the text `make bench` prints: its title, then
    the rows, each column shown to the precision its largest value needs."""

    def column_format(values):
        top = np.nanmax(np.abs(values)) if len(values) else 0
        pattern = "{:,.0f}" if top >= 1000 else "{:.1f}" if top >= 10 else "{:.3f}"
        return pattern.format

    formats = {column: column_format(frame[column].to_numpy(float))
               for column in frame.columns if pd.api.types.is_float_dtype(frame[column])}
    return f"{title}\n{frame.to_string(formatters=formats, na_rep='-')}\n"


def loader_throughput(profile="lesson", naive_batches=20):
    """Measures samples/s of each way to read training batches, in one run.

    Args:
        profile: the profile whose HDF5 file and npy folder are read.
        naive_batches: how many batches to time for the (very slow) naive recipe.

    Returns:
        A DataFrame, one row per reader: `samples/s`, `x ceiling` (against
        gathering from an array in memory) and `x naive` (against h5py fancy
        indexing per batch).
    """
    import tensorflow as tf

    from course_lib import tfdata
    from course_lib.loaders import HDF5Dataset, NpyDirectoryDataset

    profile = config.get_profile(profile)
    paths = course_data.ensure_all(profile, names=("hdf5", "npy"), progress=False)
    batch = profile.batch_size
    x_memory, _ = layouts.load_split(paths["hdf5"], "train")  # also warms the page cache
    partition, labels = layouts.read_partition(paths["npy"])
    for name in partition["train"]:
        (paths["npy"] / f"{name}.npy").read_bytes()
    n = len(x_memory)
    full = BatchSampler(n, batch, "full", seed=0).batches(0)

    def hdf5(strategy, direct_reads=True, **options):
        return HDF5Dataset(paths["hdf5"], batch_size=batch, shuffle=strategy, seed=0,
                           direct_reads=direct_reads, **options)

    def epoch_rate(ds):
        return rate(lambda: read_epoch(ds), n, repeat=7)

    rates = {"in-memory numpy (ceiling)": batches_rate(lambda b: x_memory[b], full, repeat=7)}
    for strategy, name in (("stratified", "stratified (default)"), ("block", "block"),
                           ("full", "full")):
        rates[f"HDF5 loader, {name}"] = epoch_rate(hdf5(strategy))
        rates[f"HDF5 loader, {name}, h5py reads"] = epoch_rate(
            hdf5(strategy, direct_reads=False))
    rates["HDF5 loader, block of half a batch"] = epoch_rate(
        hdf5("block", block_size=batch // 2))
    with h5py.File(paths["hdf5"], "r") as file:
        images = file["train/images"]
        rates["naive: h5py fancy index per batch"] = batches_rate(
            lambda b: images[b], full[:naive_batches])
    npy = NpyDirectoryDataset(paths["npy"], partition["train"], labels, batch_size=batch, seed=0)
    rates["npy loader, full"] = epoch_rate(npy)
    files = [paths["npy"] / f"{name}.npy" for name in partition["train"]]
    rates["plain np.load loop"] = batches_rate(
        lambda b: np.stack([np.load(files[i]) for i in b]), npy.sampler.batches(0))
    pipeline = tfdata.from_generator(hdf5("block")).prefetch(tf.data.AUTOTUNE)
    rates["tf.data from_generator (block reads)"] = rate(lambda: [_ for _ in pipeline], n)
    return table(rates, "samples/s", "reader",
                 {"x ceiling": "in-memory numpy (ceiling)",
                  "x naive": "naive: h5py fancy index per batch"})


def stream_epoch(path):
    """Reads one epoch of `HDF5Dataset(path)`, dropping each batch (run in a child)."""
    from course_lib.loaders import HDF5Dataset

    ds = HDF5Dataset(path, batch_size=64, seed=0)
    for index in range(len(ds)):
        ds[index]


def streaming_peak_memory(n_samples, image_size=64):
    """Memory of a child process streaming one epoch of `n_samples`.

    Returns:
        The child's `ChildResult`: its own peak (`peak_mib`, VmHWM), its RSS
        after importing the loaders (`baseline_mib`), and what streaming
        added (`added_mib`).
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "stream.h5")
        with layouts.HDF5Writer(path, (image_size, image_size, 3), config.CLASS_NAMES) as writer:
            for start in range(0, n_samples, 1024):
                stop = min(start + 1024, n_samples)
                writer.append("train", np.zeros((stop - start, image_size, image_size, 3),
                                                np.uint8) + np.uint8(start % 251),
                              np.zeros(stop - start), np.arange(start, stop))
        result = child.run(stream_epoch, path, imports=("course_lib.loaders",))
        _value(result)
        return result


def streaming_memory(sizes=(4096, 8 * 4096)):
    """Memory of a child process streaming one epoch of 64x64 images, at each size.

    Returns:
        A DataFrame, one row per size: `images MiB`, the child's own `peak
        MiB`, its `after imports MiB` and what streaming `added MiB`.
    """
    rows = []
    for n in sizes:
        run = streaming_peak_memory(n)
        rows.append({"samples": n, "images MiB": n * 64 * 64 * 3 / 2**20,
                     "peak MiB": run.peak_mib, "after imports MiB": run.baseline_mib,
                     "added MiB": run.added_mib})
    return pd.DataFrame(rows).set_index("samples")


def _course_merged(profile, split="train", **options):
    """`merged.split_loader` over a profile's course images and bcolz features."""
    from course_lib.merged import split_loader

    paths = course_data.ensure_all(profile, names=("hdf5", "bcolz"), progress=False)
    return split_loader(paths["hdf5"], paths["bcolz"] / course_data.FEATURE_MATRIX_NAME,
                        course_data.read_index(profile), split,
                        **{"batch_size": profile.batch_size, "seed": 0, **options})


def merged_throughput(profile="lesson", naive_batches=20):
    """Rows/s of the merged loader against the naive `carray[batch_ids]` recipe.

    Returns:
        A DataFrame, one row per reader: `rows/s` and `x naive`.
    """
    profile = config.get_profile(profile)
    loader = _course_merged(profile, shuffle="block")
    store = loader.features.store
    full = BatchSampler(len(loader.ids), profile.batch_size, "full", seed=0).batches(0)
    n = len(loader.ids)
    rates = {
        "merged loader, block (images + features)": rate(lambda: read_epoch(loader), n),
        "merged loader, full (images + features)": rate(
            lambda: read_epoch(_course_merged(profile, shuffle="full")), n),
        "naive: carray[shuffled batch ids]": batches_rate(
            lambda b: store.array[loader.ids[b]], full[:naive_batches]),
    }
    return table(rates, "rows/s", "reader", {"x naive": "naive: carray[shuffled batch ids]"})


def merged_mixing(profile="lesson"):
    """How well the merged loader's block order mixes class-sorted labels.

    Returns:
        A DataFrame: the `mixing distance` (see `sampling.mixing_distance`:
        0 when every batch has the overall class mix) of no shuffle, the
        loader's block order, its default stratified order (the same chunks
        and blocks, dealt by class) and a full shuffle, on the training
        labels sorted.
    """
    from course_lib.sampling import mixing_distance

    profile = config.get_profile(profile)
    loader = _course_merged(profile, shuffle="block")
    n, sorted_labels = len(loader.ids), np.sort(loader.labels)
    stratified = BatchSampler(n, profile.batch_size, "stratified", seed=0,
                              block_size=loader.sampler.block_size,
                              chunk_rows=loader.sampler.chunk_rows, labels=sorted_labels)
    samplers = {"none": BatchSampler(n, profile.batch_size, "none"), "block": loader.sampler,
                "stratified (default)": stratified,
                "full": BatchSampler(n, profile.batch_size, "full", seed=0)}
    return table({name: mixing_distance(sorted_labels, sampler.batches(0))
                  for name, sampler in samplers.items()}, "mixing distance", "shuffle")


def feature_store_comparison(profile="lesson", naive_batches=20):
    """Writes the profile's features in every format and reads them back.

    Returns:
        A DataFrame, one row per format: `MiB on disk`, `random rows/s` (the
        format's own fancy indexing on random sorted batches) and
        `chunk-aware rows/s` (`ChunkReader` over block-ordered batches).
    """
    from course_lib.features import FORMATS, SUFFIXES, ChunkReader, FeatureStore, write_features

    profile = config.get_profile(profile)
    n, width = profile.n_samples, profile.n_features
    suffixes = {kind: suffix for suffix, kind in SUFFIXES.items()}
    full = BatchSampler(n, profile.batch_size, "full", seed=0).batches(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in FORMATS:
            blocks = ((s, synthetic.features(s, min(s + 4096, n), width, config.SEED))
                      for s in range(0, n, 4096))
            path = write_features(os.path.join(folder, "features" + suffixes[kind]),
                                  blocks, n, width)
            store = FeatureStore(path)
            block = BatchSampler(n, profile.batch_size, "block", seed=0,
                                 chunk_rows=store.chunk_rows).batches(0)
            rows.append({
                "format": kind,
                "MiB on disk": course_data.disk_usage(path)[0] / 2**20,
                "random rows/s": batches_rate(store.gather, full[:naive_batches]),
                "chunk-aware rows/s": batches_rate(ChunkReader(store).read, block),
            })
    return pd.DataFrame(rows).set_index("format")


def augmentation_cost(profile="lesson", batches=20):
    """Samples/s of a batch pipeline with and without augmentation, and where it runs.

    Returns:
        A DataFrame, `samples/s` and `x plain loader` for: reading HDF5
        batches plain, with the numpy transforms, with Keras layers as
        transforms (in the loader), and one training step of the small
        convnet without and with the same Keras layers inside the model.
    """
    import keras

    from course_lib import augment, models
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", profile, progress=False)
    plain = HDF5Dataset(path, batch_size=profile.batch_size, seed=0)
    numpy_transform = augment.Compose([augment.RandomFlip(), augment.RandomRotation(10),
                                       augment.RandomZoom(0.1), augment.RandomBrightness(0.1)])
    keras_layers = [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(10 / 360),
                    keras.layers.RandomZoom(0.1), keras.layers.RandomBrightness(0.1)]
    keras_transform = augment.Compose([augment.KerasLayer(layer) for layer in keras_layers])
    loaders = {
        "loader, no augmentation": plain,
        "loader + numpy transforms": augment.AugmentedDataset(plain, numpy_transform),
        "loader + Keras layers as transforms": augment.AugmentedDataset(plain, keras_transform),
    }
    samples = batches * profile.batch_size
    rates = {name: rate(lambda ds=ds: read_epoch(ds, batches), samples)
             for name, ds in loaders.items()}
    x, y = plain[0]
    for name, extra in (("training step, no augmentation", []),
                        ("training step, Keras layers in the model", keras_layers)):
        model = models.small_convnet(profile.image_shape, profile.n_classes)
        if extra:
            model = keras.Sequential([keras.Input(profile.image_shape), *extra, model])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)  # build and trace once
        rates[name] = rate(lambda m=model: [m.train_on_batch(x, y) for _ in range(batches)],
                           samples)
    return table(rates, "samples/s", "pipeline", {"x plain loader": "loader, no augmentation"})


def panel_overhead(profile="ci", epochs=7, min_interval=0.5):
    """What the resource panel's Keras callback costs a training epoch.

    Trains the small convnet on the profile's training split, alternating
    epochs with and without the callback, and also times the callback's own
    hooks.

    Returns:
        A one-row DataFrame: `epoch s` and `epoch with panel s` (medians),
        `ms in the callback per epoch`, its `share of an epoch` and the
        panel's `updates`.
    """
    from course_lib import models, monitor

    profile = config.get_profile(profile)
    x, y = layouts.load_split(course_data.ensure_layout("hdf5", profile, progress=False), "train")
    model = models.small_convnet(profile.image_shape, profile.n_classes)
    model.fit(x, y, batch_size=profile.batch_size, epochs=1, verbose=0)  # trace once
    panel = monitor.ResourcePanel()
    callback = panel.callback(min_interval)
    inside = [0.0]

    def timed(hook):
        def run(*args, **kwargs):
            started = time.perf_counter()
            hook(*args, **kwargs)
            inside[0] += time.perf_counter() - started
        return run

    for name in ("on_train_batch_end", "on_epoch_end", "on_train_end"):
        setattr(callback, name, timed(getattr(callback, name)))
    plain, with_panel = [], []
    for _ in range(epochs):
        for times, callbacks in ((plain, []), (with_panel, [callback])):
            started = time.perf_counter()
            model.fit(x, y, batch_size=profile.batch_size, epochs=1, verbose=0,
                      callbacks=callbacks)
            times.append(time.perf_counter() - started)
    epoch_s = float(np.median(plain))
    per_epoch = inside[0] / epochs
    return pd.DataFrame([{"epoch s": epoch_s, "epoch with panel s": float(np.median(with_panel)),
                          "ms in the callback per epoch": 1000 * per_epoch,
                          "share of an epoch": per_epoch / epoch_s,
                          "updates": float(panel.updates)}],
                        index=pd.Index([f"refresh at most every {min_interval} s"],
                                       name="panel callback"))


def training_overlap(profile="lesson", epochs=2):
    """Epoch time of streaming fits divided by the epoch time of the in-memory fit.

    Trains the small convnet on the same training split with each pipeline:
    numpy arrays in memory (the baseline), `HDF5Dataset` with one worker,
    with two thread workers and with two worker processes, and `tf.data`
    from a generator and with parallel reads, both with prefetch. Each gets
    one warm-up epoch, then the median of `epochs` timed epochs.

    Returns:
        A DataFrame, one row per pipeline: `epoch s` and `x in memory`.
    """
    import keras

    from course_lib import models, tfdata
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", profile, progress=False)
    x, y = layouts.load_split(path, "train")

    def loader(**workers):
        return HDF5Dataset(path, batch_size=profile.batch_size, seed=0, **workers)

    def epoch_seconds(data, **fit_options):
        keras.utils.set_random_seed(0)
        model = models.small_convnet(profile.image_shape, profile.n_classes)
        times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.started)

        fit_options["callbacks"] = [Timer(), *fit_options.get("callbacks", [])]
        model.fit(data, epochs=epochs + 1, verbose=0, **fit_options)
        return float(np.median(times[1:]))

    tf_loader, generator_loader = loader(), loader()
    pipelines = {
        "in memory (numpy arrays)": (x, {"y": y, "batch_size": profile.batch_size}),
        "HDF5Dataset, 1 worker": (loader(), {"shuffle": False}),
        "HDF5Dataset, 2 threads": (loader(workers=2), {"shuffle": False}),
        "HDF5Dataset, 2 processes": (loader(workers=2, use_multiprocessing=True),
                                     {"shuffle": False}),
        "tf.data from_generator + prefetch": (
            tfdata.from_generator(generator_loader).prefetch(4),
            {"shuffle": False, "callbacks": [tfdata.AdvanceEpoch(generator_loader)]}),
        "tf.data parallel reads + prefetch": (
            tfdata.parallel_reads(tf_loader).prefetch(4),
            {"shuffle": False, "callbacks": [tfdata.AdvanceEpoch(tf_loader)]}),
    }
    seconds = {name: epoch_seconds(data, **options) for name, (data, options) in pipelines.items()}
    return table(seconds, "epoch s", "pipeline", {"x in memory": "in memory (numpy arrays)"})


MIXING_ORDERS = {"full": "full", "stratified (default)": "stratified", "block": "block"}
"""The orders `class_sorted_accuracy` trains with: row name -> `shuffle=`."""


def _held_out_seventh(n_samples):
    """The rows the mixing measurements hold out for validation: a random seventh."""
    return np.random.default_rng(config.SEED).random(n_samples) < 1 / 7


def _validation_accuracy(train, image_shape, n_classes, x_valid, y_valid, seed, epochs):
    """Trains a fresh small convnet on `train` with `seed`; its accuracy on the validation rows."""
    import keras

    from course_lib import models

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    model = models.small_convnet(image_shape, n_classes)
    model.fit(train, epochs=epochs, shuffle=False, verbose=0)
    return float(model.evaluate(x_valid, y_valid, verbose=0)[1])


def class_sorted_files(folder, profile, n_samples=3000):
    """The class-sorted training files `class_sorted_accuracy` trains on.

    Two kinds, built here: a user's file (`user_files.drawings`, the kit's
    generator never involved), as PyTables EArrays appended class by class
    with one-hot labels, once in chunks of 64 rows and once in chunks of 1
    row; and the first `n_samples` of the course file's training split,
    sorted by class the same way. Each holds out a random seventh, in
    memory, for validation.

    Returns:
        `{name: (path, x_valid, y_valid)}`.
    """
    from course_lib import user_files

    n_samples = min(n_samples, profile.n_train)
    course = course_data.ensure_layout("hdf5", profile, progress=False)
    with h5py.File(course, "r") as file:
        course_images = file["train/images"][:n_samples], file["train/labels"][:n_samples]
    drawn = user_files.drawings(n_samples, profile.image_size, seed=config.SEED)
    kinds = {"drawings, chunks of 64 rows": (drawn, 3, 64),
             "drawings, chunks of 1 row": (drawn, 3, 1),
             "course images, chunks of 64 rows": (course_images, profile.n_classes, 64)}
    held_out = _held_out_seventh(n_samples)
    files = {}
    for name, ((x, y), n_classes, chunk_rows) in kinds.items():
        path = os.path.join(folder, f"class_sorted_{len(files)}.h5")
        user_files.write_class_sorted(path, x[~held_out], y[~held_out], n_classes,
                                      chunk_rows=chunk_rows)
        files[name] = (path, x[held_out], y[held_out])
    return files


def class_sorted_accuracy(profile="lesson", epochs=3, seeds=tuple(range(1, 9)),
                          n_samples=3000):
    """Validation accuracy of the small convnet trained on class-sorted files.

    Trains on each of `class_sorted_files` with each order of
    `MIXING_ORDERS` and seed (`HDF5Dataset(path, "images", "labels",
    batch_size=64, seed=seed)`, `fit(epochs=epochs, shuffle=False)`). Before
    any training, reads one epoch of each order warm (best of 5), so accuracy
    and read speed sit side by side.

    Returns:
        A DataFrame indexed by `(file, order)`: `mean`, `min` and `max`
        accuracy over the seeds, `vs full` (points against `full`'s mean on
        the same file), `samples/s` of reading an epoch, and `x in memory`
        (against gathering the same file's rows from an array in memory).
    """
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = class_sorted_files(folder, profile, n_samples)

        def loader(path, shuffle, seed):
            return HDF5Dataset(path, "images", "labels", batch_size=profile.batch_size,
                               shuffle=shuffle, seed=seed)

        for name, (path, _, _) in files.items():  # read speeds first, before any training
            with h5py.File(path, "r") as file:
                x_train = file["images"][:]
            gather = batches_rate(lambda b: x_train[b], BatchSampler(
                len(x_train), profile.batch_size, "full", seed=0).batches(0), repeat=5)
            for order, shuffle in MIXING_ORDERS.items():
                reads = loader(path, shuffle, 0)
                speed = rate(lambda: read_epoch(reads), len(x_train), repeat=5)
                rows.append({"file": name, "order": order, "samples/s": speed,
                             "x in memory": speed / gather})
        for row in rows:
            path, x_valid, y_valid = files[row["file"]]
            accuracies = []
            for seed in seeds:
                train = loader(path, MIXING_ORDERS[row["order"]], seed)
                accuracies.append(_validation_accuracy(train, profile.image_shape, train.n_classes,
                                                       x_valid, y_valid, seed, epochs))
            row.update({"mean": np.mean(accuracies), "min": min(accuracies),
                        "max": max(accuracies)})
    frame = pd.DataFrame(rows).set_index(["file", "order"])[
        ["mean", "min", "max", "samples/s", "x in memory"]]
    full = frame.xs("full", level="order")["mean"]
    frame.insert(3, "vs full", 100 * (frame["mean"] - full.reindex(
        frame.index.get_level_values("file")).to_numpy()))
    return frame


def mixing_causes(profile="lesson", epochs=3, seeds=tuple(range(1, 9)), n_samples=3000):
    """Training on orders built to tell apart why `block` trails `full` on a sorted file.

    The drawings of `class_sorted_files` (class-sorted, a random seventh held
    out), in memory, served batch by batch in five orders:

    - `full` and `block`, as the loaders serve them;
    - `full's samples, block's class mix`: each batch takes as many samples of
      each class as `block`'s batch in the same place, drawn at random from
      the whole class: `block`'s class mix, none of its contiguity;
    - `block, boundaries moved every epoch`: `block`'s batches shifted by a
      random offset each epoch, so rows do not travel in the same blocks;
    - `stratified`: the same blocks as `block`, dealt by class.

    Returns:
        A DataFrame, one row per order: `mean`, `min`, `max` accuracy over
        the seeds and `vs full` (points).
    """
    import keras

    from course_lib import user_files

    profile = config.get_profile(profile)
    x, y = user_files.drawings(n_samples, profile.image_size, seed=config.SEED)
    held_out = _held_out_seventh(n_samples)
    order = np.argsort(y[~held_out], kind="stable")
    x_train, y_train = x[~held_out][order], y[~held_out][order]

    class Served(keras.utils.PyDataset):
        def __init__(self, batches_of):
            super().__init__()
            self.batches_of, self.epoch = batches_of, 0

        def __len__(self):
            return len(self.batches_of(self.epoch))

        def __getitem__(self, index):
            rows = self.batches_of(self.epoch)[index]
            return x_train[rows], y_train[rows]

        def on_epoch_end(self):
            self.epoch += 1

    accuracies = {}
    for seed in seeds:
        for name, batches_of in _cause_orders(y_train, profile.batch_size, seed).items():
            accuracies.setdefault(name, []).append(_validation_accuracy(
                Served(batches_of), profile.image_shape, len(user_files.DRAWING_CLASSES),
                x[held_out], y[held_out], seed, epochs))
    frame = pd.DataFrame({"mean": {k: np.mean(v) for k, v in accuracies.items()},
                          "min": {k: min(v) for k, v in accuracies.items()},
                          "max": {k: max(v) for k, v in accuracies.items()}})
    frame.index.name = "order"
    frame["vs full"] = 100 * (frame["mean"] - frame.loc["full", "mean"])
    return frame


def _cause_orders(labels, batch_size, seed):
    """`{name: batches_of(epoch)}`: the orders of `mixing_causes` (cached per epoch)."""
    n = len(labels)
    full, block, stratified = (BatchSampler(n, batch_size, strategy, seed=seed, labels=labels)
                               for strategy in ("full", "block", "stratified"))

    @functools.cache
    def block_mix(epoch):
        rng = np.random.default_rng([seed, epoch, 1])
        pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)}
        return [np.sort([pools[c].pop() for c in labels[b]]) for b in block.batches(epoch)]

    @functools.cache
    def moved(epoch):
        offset = np.random.default_rng([seed, epoch, 2]).integers(block.block_size)
        return [np.sort((b + offset) % n) for b in block.batches(epoch)]

    return {"full": full.batches, "block": block.batches,
            "full's samples, block's class mix": block_mix,
            "block, boundaries moved every epoch": moved, "stratified": stratified.batches}


def _parts(profile):
    """`make bench`'s parts: `{part: [(title, measurement), ...]}`, run when called."""
    p = config.get_profile(profile)
    images = f"{p.n_train} training samples of {p.image_size}x{p.image_size}x3, batch {p.batch_size}"
    return {
        "writer": [("Memory of the block-wise writers (64x64 images, 1024-float feature rows, "
                    "blocks of 256), each in a child process", writer_memory)],
        "loaders": [
            (f"Loader throughput, profile {p.name!r}: {images}, one process, page cache warm, "
             f"best of 7", lambda: loader_throughput(p)),
            ("Memory of a child process streaming one epoch (64x64, batch 64, default block): "
             "its own VmHWM, and what streaming added to its RSS after imports",
             streaming_memory)],
        "mixing": [(f"Class-sorted training files (3,000 samples, a random seventh held out), "
                    f"profile {p.name!r}: validation accuracy after 3 epochs over seeds 1-8 (vs "
                    f"full: points), next to each order's warm read speed",
                    lambda: class_sorted_accuracy(p)),
                   (f"Why block trails full: the drawings (chunks of 64 rows) in memory, in "
                    f"orders that separate the causes, profile {p.name!r}, 3 epochs, seeds 1-8",
                    lambda: mixing_causes(p))],
        "merged": [
            (f"Merged loader, profile {p.name!r}: {p.n_train} training samples, "
             f"{p.n_features} float32 features each in bcolz, batch {p.batch_size}",
             lambda: merged_throughput(p)),
            ("Mixing distance of its order on class-sorted labels (0 = every batch has the "
             "overall class mix)", lambda: merged_mixing(p)),
            (f"Feature stores, {p.n_samples} x {p.n_features} float32 "
             f"({p.feature_bytes / 2**20:.1f} MiB raw)", lambda: feature_store_comparison(p))],
        "augment": [(f"Augmentation cost, profile {p.name!r}, batch {p.batch_size}, one process",
                     lambda: augmentation_cost(p))],
        "panel": [("Resource panel callback, profile 'ci' (the reference: the ci model)",
                   lambda: panel_overhead("ci"))],
        "cold": [
            (f"Disk sizes of the same images, profile {p.name!r}", lambda: _cold().disk_sizes(p)),
            (f"JPEG size and decode cost per image (quality 90, PIL) against the small "
             f"convnet's training step, profile {p.name!r}", lambda: _cold().decode_costs(p)),
            (f"Reading one training epoch ({p.n_train} samples, batch {p.batch_size}) cold "
             f"(files evicted first, checked) and warm, 3 times each; x disk: median of "
             f"each cold epoch against a sequential read just before it; {os.cpu_count()} cores",
             lambda: _cold().format_reads(p))],
        "service": [("Decode (299x299 photo JPEGs) + flip/shift, one epoch in-process and on "
                     "a local tf.data service (distributed_epoch), this machine's "
                     f"{os.cpu_count()} cores shared by all", service_throughput)],
        "overlap": [(f"Training overlap, profile {p.name!r}: epoch time of the small convnet, "
                     f"median of 2 epochs after a warm-up", lambda: training_overlap(p))],
    }


def own_cpu_seconds():
    """CPU seconds this process, all its threads, has used so far."""
    times = os.times()
    return times.user + times.system


def _cpu_seconds(pids):
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def service_throughput(megabytes=96, batch_size=32, workers=(1, 2)):
    """One epoch of decode + augmentation in-process and on a local tf.data service.

    The records are 299x299 photo crops (`cold.photo_records`), so decoding
    costs about what it does on food-101; each batch is also flipped and
    shifted (`tfdata.flip_and_shift`). Each row is the second of two epochs
    (the first warms up the workers); the page cache is warm.

    Returns:
        A DataFrame: samples/s, the ratio to in-process, and the CPU cores
        used by the trainer process and by the service's processes.
    """
    from course_lib import records, service, tfdata

    folder = Path(tempfile.mkdtemp(dir=config.data_dir(), prefix="bench-service-"))
    try:
        path, samples = _cold().photo_records(folder / "records", megabytes=megabytes)

        def epoch(dataset, pids=()):
            for _ in dataset:  # warm-up
                pass
            cpu, others, started = own_cpu_seconds(), _cpu_seconds(pids), time.perf_counter()
            for _ in dataset:
                pass
            wall = time.perf_counter() - started
            return {"samples/s": samples / wall,
                    "trainer CPU (cores)": (own_cpu_seconds() - cpu) / wall,
                    "service CPU (cores)": (_cpu_seconds(pids) - others) / wall}

        rows = {"in-process tf.data": epoch(records.record_dataset(
            path, batch_size, seed=0, augment=tfdata.flip_and_shift))}
        for count in workers:
            with service.LocalService(workers=count) as running:
                pipeline, _ = service.record_pipeline(path, batch_size, "distributed_epoch",
                                                      augment=tfdata.flip_and_shift)
                rows[f"service, {count} worker{'s' * (count > 1)}"] = epoch(
                    service.service_dataset(pipeline, running.target, "distributed_epoch",
                                            samples, batch_size), running.alive())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.insert(1, "x in-process", frame["samples/s"] / frame["samples/s"].iloc[0])
    return frame.round(2)


def _cold():
    from course_lib import cold  # it builds on this module

    return cold


def main(argv=None):
    parts = list(_parts("ci"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", nargs="?", default="all", choices=(*parts, "all"))
    parser.add_argument("--profile", default="lesson", choices=sorted(config.PROFILES),
                        help="profile of the data the benchmarks read (default: lesson)")
    args = parser.parse_args(argv)
    for part, measurements in _parts(args.profile).items():
        if args.benchmark in (part, "all"):
            for title, measure in measurements:
                print(render(measure(), title), flush=True)


if __name__ == "__main__":
    main()
