"""Benchmarks that print figures: `python -m course_lib.bench` (or `make bench`).

- `writer`: peak memory of the block-wise dataset writers at two sizes.
- `loaders`: samples/s of every way the lessons read batches, in one run on
  the same files, as ratios to the in-memory ceiling and to the naive recipe;
  and the peak memory of a streaming epoch at N and 8N samples.
- `mixing`: validation accuracy after training on a class-sorted file, with
  the default shuffle against a full shuffle, three seeds.
- `merged`: the merged image + feature loader against the naive bcolz row
  gather, and bcolz / blosc2 / zarr / memmap side by side.
- `augment`: the cost of augmentation in the loader and in the model.
- `panel`: what the live resource panel's Keras callback costs an epoch.
- `overlap`: epoch time of streaming fits against the in-memory fit.

Memory figures come from fresh child processes (`course_lib.child`): each
peak is the child's own (`VmHWM`, not `ru_maxrss`, which Linux carries over
from the parent), next to its RSS after imports.
"""

import argparse
import dataclasses
import os
import tempfile
import time

import h5py
import numpy as np

from course_lib import child, config, datasets, synthetic
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
    datasets.ensure_layout(layout, profile, progress=False)


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
        result = child.run(write_layout, layout, overrides, imports=("course_lib.datasets",),
                           env={config.DATA_DIR_ENV: folder})
    _value(result)
    data_bytes = profile.feature_bytes if layout == "bcolz" else profile.image_bytes
    return {"before_mib": result.baseline_mib, "peak_mib": result.peak_mib,
            "data_mib": data_bytes / 2**20}


def writer_benchmark(sizes=(4096, 32768), image_size=64):
    """Prints the writers' peak memory at two sizes, as a table."""
    print(f"Peak RSS of the block-wise writers ({image_size}x{image_size} images, "
          f"1024-float feature rows, blocks of 256 samples)")
    print(f"{'layout':7s} {'samples':>8s} {'data MiB':>9s} {'RSS before':>11s} "
          f"{'peak RSS':>9s} {'peak-before':>12s}")
    for layout in ("hdf5", "npy", "bcolz"):
        rows = [writer_peak_memory(layout, n, image_size) for n in sizes]
        for n, row in zip(sizes, rows):
            print(f"{layout:7s} {n:8d} {row['data_mib']:9.1f} {row['before_mib']:11.1f} "
                  f"{row['peak_mib']:9.1f} {row['peak_mib'] - row['before_mib']:12.1f}")
        data_ratio = rows[1]["data_mib"] / rows[0]["data_mib"]
        peak_ratio = rows[1]["peak_mib"] / rows[0]["peak_mib"]
        print(f"{'':7s} data x{data_ratio:.0f} -> peak RSS x{peak_ratio:.2f}")


def _rate(read_batch, batches, repeat=3):
    """Samples/s of calling `read_batch` on each batch of positions, best of `repeat`."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for positions in batches:
            read_batch(positions)
        best = min(best, time.perf_counter() - started)
    return sum(len(b) for b in batches) / best


def _read_batches(ds, count=None):
    """A `_rate` reader: reads batches `0..count-1` of `ds` (all by default),
    dropping each at once, as the in-memory ceiling does."""
    def read(_):
        for index in range(len(ds) if count is None else count):
            ds[index]
    return read


def loader_throughput(profile="lesson", naive_batches=20):
    """Measures samples/s of each way to read training batches, in one run.

    Args:
        profile: the profile whose HDF5 file and npy folder are read.
        naive_batches: how many batches to time for the (very slow) naive recipe.

    Returns:
        `{name: samples per second}`.
    """
    import tensorflow as tf

    from course_lib import tfdata
    from course_lib.loaders import HDF5Dataset, NpyDirectoryDataset

    profile = config.get_profile(profile)
    paths = datasets.ensure_all(profile, layouts=("hdf5", "npy"), progress=False)
    batch = profile.batch_size
    x_memory, _ = datasets.load_split(paths["hdf5"], "train")  # also warms the page cache
    partition, labels = datasets.read_partition(paths["npy"])
    for name in partition["train"]:
        (paths["npy"] / f"{name}.npy").read_bytes()
    n = len(x_memory)
    full = BatchSampler(n, batch, "full", seed=0).batches(0)

    def hdf5(strategy, direct_reads=True, **options):
        return HDF5Dataset(paths["hdf5"], batch_size=batch, shuffle=strategy, seed=0,
                           direct_reads=direct_reads, **options)

    rates = {"in-memory numpy (ceiling)": _rate(lambda b: x_memory[b], full)}
    for strategy in ("block", "full"):
        rates[f"HDF5 loader, {strategy}"] = _rate(_read_batches(hdf5(strategy)), [np.arange(n)])
        rates[f"HDF5 loader, {strategy}, h5py reads"] = _rate(
            _read_batches(hdf5(strategy, direct_reads=False)), [np.arange(n)])
    rates["HDF5 loader, block of half a batch"] = _rate(
        _read_batches(hdf5("block", block_size=batch // 2)), [np.arange(n)])
    with h5py.File(paths["hdf5"], "r") as file:
        images = file["train/images"]
        rates["naive: h5py fancy index per batch"] = _rate(
            lambda b: images[b], full[:naive_batches])
    npy = NpyDirectoryDataset(paths["npy"], partition["train"], labels, batch_size=batch, seed=0)
    rates["npy loader, full"] = _rate(_read_batches(npy), [np.arange(n)])
    files = [paths["npy"] / f"{name}.npy" for name in partition["train"]]
    rates["plain np.load loop"] = _rate(
        lambda b: np.stack([np.load(files[i]) for i in b]), npy.sampler.batches(0))
    pipeline = tfdata.from_generator(hdf5("block")).prefetch(tf.data.AUTOTUNE)

    def read_pipeline(_):
        for _ in pipeline:
            pass

    rates["tf.data from_generator (block reads)"] = _rate(read_pipeline, [np.arange(n)])
    return rates


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
        with datasets.HDF5Writer(path, (image_size, image_size, 3), config.CLASS_NAMES) as writer:
            for start in range(0, n_samples, 1024):
                stop = min(start + 1024, n_samples)
                writer.append("train", np.zeros((stop - start, image_size, image_size, 3),
                                                np.uint8) + np.uint8(start % 251),
                              np.zeros(stop - start), np.arange(start, stop))
        result = child.run(stream_epoch, path, imports=("course_lib.loaders",))
        _value(result)
        return result


def loader_benchmark(profile="lesson"):
    """Prints the loader throughput table and the streaming memory figures."""
    profile = config.get_profile(profile)
    rates = loader_throughput(profile)
    ceiling = rates["in-memory numpy (ceiling)"]
    naive = rates["naive: h5py fancy index per batch"]
    print(f"Loader throughput, profile {profile.name!r}: {profile.n_train} training "
          f"samples of {profile.image_size}x{profile.image_size}x3, batch "
          f"{profile.batch_size}, one process, page cache warm, best of 3")
    print(f"{'reader':40s} {'samples/s':>11s} {'x ceiling':>10s} {'x naive':>9s}")
    for name, rate in rates.items():
        print(f"{name:40s} {rate:11,.0f} {rate / ceiling:10.3f} {rate / naive:9.1f}")
    print(f"npy loader / plain np.load loop: "
          f"{rates['npy loader, full'] / rates['plain np.load loop']:.2f}")
    small, large = 4096, 8 * 4096
    runs = [streaming_peak_memory(n) for n in (small, large)]
    print("Memory of a child process streaming one epoch (64x64, batch 64, default block), "
          "its own VmHWM; 'added' is above its RSS after importing the loaders:")
    for n, run in zip((small, large), runs):
        print(f"  {n:6d} samples ({n * 64 * 64 * 3 / 2**20:5.0f} MiB of images): peak "
              f"{run.peak_mib:5.0f} MiB, after imports {run.baseline_mib:5.0f} MiB, added "
              f"{run.added_mib:5.1f} MiB")
    print(f"  data x8 -> added memory {runs[1].added_mib - runs[0].added_mib:+.1f} MiB")


def _merged_loader(profile, split="train", **options):
    """A `MergedDataset` over a profile's HDF5 images and bcolz features."""
    from course_lib.merged import HDF5Images, MergedDataset

    paths = datasets.ensure_all(profile, layouts=("hdf5", "bcolz"), progress=False)
    index = datasets.read_index(profile)
    part = index[index.split == split]
    options = {"batch_size": profile.batch_size, "seed": 0, **options}
    return MergedDataset(HDF5Images(paths["hdf5"], f"{split}/images", f"{split}/ids"),
                         paths["bcolz"] / datasets.FEATURE_MATRIX_NAME, part.id, part.label,
                         n_rows=len(index), **options)


def merged_throughput(profile="lesson", naive_batches=20):
    """Rows/s of the merged loader against the naive `carray[batch_ids]` recipe.

    Returns:
        `{name: rows per second}`, plus `"mixing"`: `{strategy: distance}`,
        the mixing distance of the loader's block order on class-sorted
        labels, next to no shuffle and a full shuffle
        (see `sampling.mixing_distance`).
    """
    from course_lib.sampling import mixing_distance

    profile = config.get_profile(profile)
    loader = _merged_loader(profile, shuffle="block")
    store = loader.features.store
    full = BatchSampler(len(loader.ids), profile.batch_size, "full", seed=0).batches(0)

    rates = {
        "merged loader, block (images + features)": _rate(_read_batches(loader), [loader.ids]),
        "merged loader, full (images + features)": _rate(
            _read_batches(_merged_loader(profile, shuffle="full")), [loader.ids]),
        "naive: carray[shuffled batch ids]": _rate(
            lambda b: store.array[loader.ids[b]], full[:naive_batches]),
    }
    sorted_labels = np.sort(loader.labels)
    rates["mixing"] = {
        strategy: mixing_distance(sorted_labels, sampler.batches(0)) for strategy, sampler in (
            ("none", BatchSampler(len(loader.ids), profile.batch_size, "none")),
            ("block", loader.sampler), ("full", BatchSampler(
                len(loader.ids), profile.batch_size, "full", seed=0)))}
    return rates


def feature_store_comparison(profile="lesson", naive_batches=20):
    """Writes the profile's features in every format and reads them back.

    Returns:
        A list of dicts: `format`, `MiB on disk`, `random rows/s` (the
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
                "MiB on disk": datasets.disk_usage(path)[0] / 2**20,
                "random rows/s": _rate(store.gather, full[:naive_batches]),
                "chunk-aware rows/s": _rate(ChunkReader(store).read, block),
            })
    return rows


def merged_benchmark(profile="lesson"):
    """Prints the merged-loader figures and the feature store comparison."""
    profile = config.get_profile(profile)
    rates = merged_throughput(profile)
    mixing = rates.pop("mixing")
    naive = rates["naive: carray[shuffled batch ids]"]
    print(f"Merged loader, profile {profile.name!r}: {profile.n_train} training samples, "
          f"{profile.n_features} float32 features each in bcolz, batch {profile.batch_size}")
    print(f"{'reader':44s} {'rows/s':>10s} {'x naive':>8s}")
    for name, rate in rates.items():
        print(f"{name:44s} {rate:10,.0f} {rate / naive:8.1f}")
    print("mixing distance on class-sorted labels (0 = every batch has the overall class "
          "mix): " + ", ".join(f"{name} {value:.3f}" for name, value in mixing.items()))
    print(f"\nFeature stores, {profile.n_samples} x {profile.n_features} float32 "
          f"({profile.n_samples * profile.n_features * 4 / 2**20:.1f} MiB raw)")
    print(f"{'format':8s} {'MiB on disk':>12s} {'random rows/s':>14s} {'chunk-aware rows/s':>19s}")
    for row in feature_store_comparison(profile):
        print(f"{row['format']:8s} {row['MiB on disk']:12.1f} {row['random rows/s']:14,.0f} "
              f"{row['chunk-aware rows/s']:19,.0f}")


def augmentation_cost(profile="lesson", batches=20):
    """Samples/s of a batch pipeline with and without augmentation, and where it runs.

    Returns:
        `{name: samples per second}`: reading HDF5 batches plain, with the
        numpy transforms, with Keras layers as transforms (in the loader),
        and one training step of the small convnet without and with the same
        Keras layers inside the model.
    """
    import keras

    from course_lib import augment, models
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = datasets.ensure_layout("hdf5", profile, progress=False)
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
    rates = {name: _rate(_read_batches(ds, batches), [range(batches * profile.batch_size)])
             for name, ds in loaders.items()}
    x, y = plain[0]
    for name, extra in (("training step, no augmentation", []),
                        ("training step, Keras layers in the model", keras_layers)):
        model = models.small_convnet(profile.image_shape, profile.n_classes)
        if extra:
            model = keras.Sequential([keras.Input(profile.image_shape), *extra, model])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)  # build and trace once
        rates[name] = _rate(lambda _, m=model: [m.train_on_batch(x, y) for _ in range(batches)],
                            [range(batches * profile.batch_size)])
    return rates


def augmentation_benchmark(profile="lesson"):
    """Prints `augmentation_cost` as a table."""
    profile = config.get_profile(profile)
    rates = augmentation_cost(profile)
    base = rates["loader, no augmentation"]
    print(f"Augmentation cost, profile {profile.name!r}, batch {profile.batch_size}, one process")
    print(f"{'pipeline':42s} {'samples/s':>10s} {'x plain loader':>15s}")
    for name, rate in rates.items():
        print(f"{name:42s} {rate:10,.0f} {rate / base:15.3f}")


def panel_overhead(profile="ci", epochs=7, min_interval=0.5):
    """What the resource panel's Keras callback costs a training epoch.

    Trains the small convnet on the profile's training split, alternating
    epochs with and without the callback, and also times the callback's own
    hooks.

    Returns:
        A dict: `epoch_s` and `epoch_with_panel_s` (medians),
        `callback_s_per_epoch` (time inside the callback per epoch), and
        `overhead` (`callback_s_per_epoch / epoch_s`).
    """
    import keras

    from course_lib import models, monitor

    profile = config.get_profile(profile)
    x, y = datasets.load_split(datasets.ensure_layout("hdf5", profile, progress=False), "train")
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
    return {"epoch_s": epoch_s, "epoch_with_panel_s": float(np.median(with_panel)),
            "callback_s_per_epoch": per_epoch, "overhead": per_epoch / epoch_s,
            "panel_updates": panel.updates}


def panel_benchmark(profile="ci"):
    """Prints `panel_overhead`."""
    figures = panel_overhead(profile)
    print(f"Resource panel callback, profile {profile!r}, refresh at most every 0.5 s: "
          f"epoch {figures['epoch_s']:.2f} s without, {figures['epoch_with_panel_s']:.2f} s "
          f"with (medians); {1000 * figures['callback_s_per_epoch']:.1f} ms per epoch inside "
          f"the callback = {100 * figures['overhead']:.2f}% of an epoch")


def training_overlap(profile="lesson", epochs=2):
    """Epoch time of streaming fits divided by the epoch time of the in-memory fit.

    Trains the small convnet on the same training split with each pipeline:
    numpy arrays in memory (the baseline), `HDF5Dataset` with one worker,
    with two thread workers and with two worker processes, and `tf.data`
    from a generator and with parallel reads, both with prefetch. Each gets
    one warm-up epoch, then the median of `epochs` timed epochs.

    Returns:
        `{pipeline: (epoch seconds, ratio to in memory)}`.
    """
    import keras

    from course_lib import models, tfdata
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = datasets.ensure_layout("hdf5", profile, progress=False)
    x, y = datasets.load_split(path, "train")

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
    base = seconds["in memory (numpy arrays)"]
    return {name: (value, value / base) for name, value in seconds.items()}


def class_sorted_accuracy(profile="lesson", epochs=3, seeds=(0, 1, 2)):
    """Validation accuracy of the small convnet trained on a class-sorted file.

    The profile's training split is rewritten sorted by class (as a file
    built by appending one class after another is), then trained for
    `epochs` with each shuffle strategy and seed, and evaluated on the
    validation split. The file is loaded into memory to sort it, so use the
    `ci` or `lesson` profile.

    Returns:
        `{strategy: [accuracy per seed]}` for `"full"`, the default
        (`"block"`) and `"block, half a batch"` (blocks of half a batch).
    """
    import keras

    from course_lib import models
    from course_lib.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = datasets.ensure_layout("hdf5", profile, progress=False)
    x, y = datasets.load_split(path, "train")
    order = np.argsort(y, kind="stable")
    x_valid, y_valid = datasets.load_split(path, "valid")
    strategies = {"full": {"shuffle": "full"}, "block (default)": {"shuffle": "block"},
                  "block, half a batch": {"shuffle": "block",
                                          "block_size": profile.batch_size // 2}}
    accuracies = {name: [] for name in strategies}
    with tempfile.TemporaryDirectory() as folder:
        sorted_path = os.path.join(folder, "class_sorted.h5")
        with h5py.File(sorted_path, "w") as file:
            file.create_dataset("images", data=x[order], chunks=(profile.chunk_rows, *x.shape[1:]))
            file["labels"] = y[order]
        del x
        for name, options in strategies.items():
            for seed in seeds:
                keras.utils.set_random_seed(seed)
                train = HDF5Dataset(sorted_path, "images", "labels",
                                    batch_size=profile.batch_size, seed=seed, **options)
                model = models.small_convnet(profile.image_shape, profile.n_classes)
                model.fit(train, epochs=epochs, shuffle=False, verbose=0)
                accuracies[name].append(float(model.evaluate(x_valid, y_valid, verbose=0)[1]))
    return accuracies


def mixing_benchmark(profile="lesson"):
    """Prints `class_sorted_accuracy` as a table, with each strategy's gap to `full`."""
    profile = config.get_profile(profile)
    accuracies = class_sorted_accuracy(profile)
    best = float(np.mean(accuracies["full"]))
    print(f"Class-sorted training file, profile {profile.name!r}: validation accuracy "
          f"after 3 epochs, 3 seeds")
    print(f"{'shuffle':22s} {'seed 0':>7s} {'seed 1':>7s} {'seed 2':>7s} {'mean':>7s} "
          f"{'vs full':>8s}")
    for name, values in accuracies.items():
        mean = float(np.mean(values))
        print(f"{name:22s} " + " ".join(f"{v:7.3f}" for v in values)
              + f" {mean:7.3f} {100 * (mean - best):+7.1f}pt")


def overlap_benchmark(profile="lesson"):
    """Prints `training_overlap` as a table."""
    profile = config.get_profile(profile)
    print(f"Training overlap, profile {profile.name!r}: epoch time of the small convnet, "
          f"median of 2 epochs after a warm-up")
    print(f"{'pipeline':36s} {'epoch s':>8s} {'x in memory':>12s}")
    for name, (seconds, ratio) in training_overlap(profile).items():
        print(f"{name:36s} {seconds:8.2f} {ratio:12.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", nargs="?", default="all",
                        choices=("writer", "loaders", "mixing", "merged", "augment", "panel",
                                 "overlap", "all"))
    parser.add_argument("--profile", default="lesson", choices=sorted(config.PROFILES),
                        help="profile for the loader benchmark (default: lesson)")
    args = parser.parse_args(argv)
    if args.benchmark in ("writer", "all"):
        writer_benchmark()
    if args.benchmark in ("loaders", "all"):
        loader_benchmark(args.profile)
    if args.benchmark in ("mixing", "all"):
        mixing_benchmark(args.profile)
    if args.benchmark in ("merged", "all"):
        merged_benchmark(args.profile)
    if args.benchmark in ("augment", "all"):
        augmentation_benchmark(args.profile)
    if args.benchmark in ("panel", "all"):
        panel_benchmark("ci")  # the reference: the ci model
    if args.benchmark in ("overlap", "all"):
        overlap_benchmark(args.profile)


if __name__ == "__main__":
    main()
