"""How fast batches arrive: the loaders, the merged loader, the feature stores,
augmentation, the resource panel, training overlap and the tf.data service
(`make bench` parts `loaders`, `merged`, `augment`, `panel`, `overlap`, `service`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from course_lib import config
from course_lib.course import course_data, synthetic
from course_lib.formats import hdf5, npy
from course_lib.loading.sampling import BatchSampler
from course_lib.measure import cold
from course_lib.measure.harness import (
    batches_rate,
    cpu_seconds_of,
    own_cpu_seconds,
    rate,
    read_epoch,
    table,
)


def loader_throughput(profile: str | config.Profile = "lesson", naive_batches: int = 20):
    """Measures samples/s of each way to read training batches, in one run.

    First used in lesson 05 (hdf5_reading).

    Args:
        profile: the profile whose HDF5 file and npy folder are read.
        naive_batches: how many batches to time for the (very slow) naive recipe.

    Returns:
        A DataFrame, one row per reader: `samples/s`, `x ceiling` (against
        gathering from an array in memory) and `x naive` (against h5py fancy
        indexing per batch).
    """
    import tensorflow as tf

    from course_lib.loading import tfdata
    from course_lib.loading.loaders import HDF5Dataset, NpyDirectoryDataset

    profile = config.get_profile(profile)
    paths = course_data.ensure_all(profile, names=("hdf5", "npy"), progress=False)
    batch = profile.batch_size
    x_memory, _ = hdf5.load_split(paths["hdf5"], "train")  # also warms the page cache
    partition, labels = npy.read_partition(paths["npy"])
    for name in partition["train"]:
        (paths["npy"] / f"{name}.npy").read_bytes()
    n = len(x_memory)
    full = BatchSampler(n, batch, "full", seed=0).batches(0)

    def hdf5_loader(strategy, direct_reads=True, **options):
        return HDF5Dataset(
            paths["hdf5"],
            batch_size=batch,
            shuffle=strategy,
            seed=0,
            direct_reads=direct_reads,
            **options,
        )

    def epoch_rate(ds):
        return rate(lambda: read_epoch(ds), n, repeat=7)

    rates = {"in-memory numpy (ceiling)": batches_rate(lambda b: x_memory[b], full, repeat=7)}
    for strategy, name in (
        ("stratified", "stratified (default)"),
        ("block", "block"),
        ("full", "full"),
    ):
        rates[f"HDF5 loader, {name}"] = epoch_rate(hdf5_loader(strategy))
        rates[f"HDF5 loader, {name}, h5py reads"] = epoch_rate(
            hdf5_loader(strategy, direct_reads=False)
        )
    rates["HDF5 loader, block of half a batch"] = epoch_rate(
        hdf5_loader("block", block_size=batch // 2)
    )
    with h5py.File(paths["hdf5"], "r") as file:
        images = file["train/images"]
        rates["naive: h5py fancy index per batch"] = batches_rate(
            lambda b: images[b], full[:naive_batches]
        )
    npy_loader = NpyDirectoryDataset(
        paths["npy"], partition["train"], labels, batch_size=batch, seed=0
    )
    rates["npy loader, full"] = epoch_rate(npy_loader)
    files = [paths["npy"] / f"{name}.npy" for name in partition["train"]]
    rates["plain np.load loop"] = batches_rate(
        lambda b: np.stack([np.load(files[i]) for i in b]), npy_loader.sampler.batches(0)
    )
    pipeline = tfdata.from_generator(hdf5_loader("block")).prefetch(tf.data.AUTOTUNE)
    rates["tf.data from_generator (block reads)"] = rate(lambda: [_ for _ in pipeline], n)
    return table(
        rates,
        "samples/s",
        "reader",
        {"x ceiling": "in-memory numpy (ceiling)", "x naive": "naive: h5py fancy index per batch"},
    )


def course_merged(profile: str | config.Profile, split: str = "train", **options):
    """`merged.split_loader` over a profile's course images and bcolz features.

    Used by the kit, not by a lesson.
    """
    from course_lib.loading.merged import split_loader

    paths = course_data.ensure_all(profile, names=("hdf5", "bcolz"), progress=False)
    return split_loader(
        paths["hdf5"],
        paths["bcolz"] / course_data.FEATURE_MATRIX_NAME,
        course_data.read_index(profile),
        split,
        **{"batch_size": profile.batch_size, "seed": 0, **options},
    )


def merged_throughput(profile: str | config.Profile = "lesson", naive_batches: int = 20):
    """Rows/s of the merged loader against the naive `carray[batch_ids]` recipe.

    First used in lesson 07 (merged_models_bcolz).

    Returns:
        A DataFrame, one row per reader: `rows/s` and `x naive`.
    """
    profile = config.get_profile(profile)
    loader = course_merged(profile, shuffle="block")
    store = loader.features.store
    full = BatchSampler(len(loader.ids), profile.batch_size, "full", seed=0).batches(0)
    n = len(loader.ids)
    rates = {
        "merged loader, block (images + features)": rate(lambda: read_epoch(loader), n),
        "merged loader, full (images + features)": rate(
            lambda: read_epoch(course_merged(profile, shuffle="full")), n
        ),
        "naive: carray[shuffled batch ids]": batches_rate(
            lambda b: store.array[loader.ids[b]], full[:naive_batches]
        ),
    }
    return table(rates, "rows/s", "reader", {"x naive": "naive: carray[shuffled batch ids]"})


def feature_store_comparison(profile: str | config.Profile = "lesson", naive_batches: int = 20):
    """Writes the profile's features in every format and reads them back.

    First used in lesson 07 (merged_models_bcolz).

    Returns:
        A DataFrame, one row per format: `MiB on disk`, `random rows/s` (the
        format's own fancy indexing on random sorted batches) and
        `chunk-aware rows/s` (`ChunkReader` over block-ordered batches).
    """
    from course_lib.formats.features import (
        FORMATS,
        SUFFIXES,
        ChunkReader,
        FeatureStore,
        write_features,
    )

    profile = config.get_profile(profile)
    n, width = profile.n_samples, profile.n_features
    suffixes = {kind: suffix for suffix, kind in SUFFIXES.items()}
    full = BatchSampler(n, profile.batch_size, "full", seed=0).batches(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in FORMATS:
            blocks = (
                (s, synthetic.features(s, min(s + 4096, n), width, config.SEED))
                for s in range(0, n, 4096)
            )
            path = write_features(
                os.path.join(folder, "features" + suffixes[kind]), blocks, n, width
            )
            store = FeatureStore(path)
            block = BatchSampler(
                n, profile.batch_size, "block", seed=0, chunk_rows=store.chunk_rows
            ).batches(0)
            rows.append(
                {
                    "format": kind,
                    "MiB on disk": course_data.disk_usage(path)[0] / 2**20,
                    "random rows/s": batches_rate(store.gather, full[:naive_batches]),
                    "chunk-aware rows/s": batches_rate(ChunkReader(store).read, block),
                }
            )
    return pd.DataFrame(rows).set_index("format")


def augmentation_cost(profile: str | config.Profile = "lesson", batches: int = 20):
    """Samples/s of a batch pipeline with and without augmentation, and where it runs.

    First used in lesson 06 (augmentation).

    Returns:
        A DataFrame, `samples/s` and `x plain loader` for: reading HDF5
        batches plain, with the numpy transforms, with Keras layers as
        transforms (in the loader), and one training step of the small
        convnet without and with the same Keras layers inside the model.
    """
    import keras

    from course_lib import models
    from course_lib.loading import augment
    from course_lib.loading.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", profile, progress=False)
    plain = HDF5Dataset(path, batch_size=profile.batch_size, seed=0)
    numpy_transform = augment.Compose(
        [
            augment.RandomFlip(),
            augment.RandomRotation(10),
            augment.RandomZoom(0.1),
            augment.RandomBrightness(0.1),
        ]
    )
    keras_layers = [
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(10 / 360),
        keras.layers.RandomZoom(0.1),
        keras.layers.RandomBrightness(0.1),
    ]
    keras_transform = augment.Compose([augment.KerasLayer(layer) for layer in keras_layers])
    loaders = {
        "loader, no augmentation": plain,
        "loader + numpy transforms": augment.AugmentedDataset(plain, numpy_transform),
        "loader + Keras layers as transforms": augment.AugmentedDataset(plain, keras_transform),
    }
    samples = batches * profile.batch_size
    rates = {
        name: rate(lambda ds=ds: read_epoch(ds, batches), samples) for name, ds in loaders.items()
    }
    x, y = plain[0]
    for name, extra in (
        ("training step, no augmentation", []),
        ("training step, Keras layers in the model", keras_layers),
    ):
        model = models.small_convnet(profile.image_shape, profile.n_classes)
        if extra:
            model = keras.Sequential([keras.Input(profile.image_shape), *extra, model])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)  # build and trace once
        rates[name] = rate(
            lambda m=model: [m.train_on_batch(x, y) for _ in range(batches)], samples
        )
    return table(rates, "samples/s", "pipeline", {"x plain loader": "loader, no augmentation"})


def panel_overhead(
    profile: str | config.Profile = "ci", epochs: int = 7, min_interval: float = 0.5
):
    """What the resource panel's Keras callback costs a training epoch.

    Used by the kit, not by a lesson.

    Trains the small convnet on the profile's training split, alternating
    epochs with and without the callback, and also times the callback's own
    hooks.

    Returns:
        A one-row DataFrame: `epoch s` and `epoch with panel s` (medians),
        `ms in the callback per epoch`, its `share of an epoch` and the
        panel's `updates`.
    """
    from course_lib import models
    from course_lib.measure import monitor

    profile = config.get_profile(profile)
    x, y = hdf5.load_split(course_data.ensure_layout("hdf5", profile, progress=False), "train")
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
            model.fit(x, y, batch_size=profile.batch_size, epochs=1, verbose=0, callbacks=callbacks)
            times.append(time.perf_counter() - started)
    epoch_s = float(np.median(plain))
    per_epoch = inside[0] / epochs
    return pd.DataFrame(
        [
            {
                "epoch s": epoch_s,
                "epoch with panel s": float(np.median(with_panel)),
                "ms in the callback per epoch": 1000 * per_epoch,
                "share of an epoch": per_epoch / epoch_s,
                "updates": float(panel.updates),
            }
        ],
        index=pd.Index([f"refresh at most every {min_interval} s"], name="panel callback"),
    )


def training_overlap(
    profile: str | config.Profile = "lesson", epochs: int | None = None, samples: int | None = None
):
    """Epoch time of streaming fits divided by the epoch time of the in-memory fit.

    First used in lesson 08 (tf_data).

    Trains the small convnet on the same training rows with each pipeline:
    numpy arrays in memory (the baseline), `HDF5Dataset` with one worker,
    with two thread workers and with two worker processes, and `tf.data`
    from a generator and with parallel reads, both with prefetch. Each gets
    one warm-up epoch, then the median of `epochs` timed epochs (`None`: 2,
    or 1 on the `ci` profile, whose figures only show the table works).

    Args:
        profile: the profile whose training split is read.
        epochs: timed epochs per pipeline, after the warm-up.
        samples: an epoch is the split's first `samples` rows (default: the whole split).

    Returns:
        A DataFrame, one row per pipeline: `epoch s` and `x in memory`.
    """
    import keras

    from course_lib import models
    from course_lib.loading import tfdata
    from course_lib.loading.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    epochs = epochs or (1 if profile.name == "ci" else 2)
    path = course_data.ensure_layout("hdf5", profile, progress=False)
    x, y = hdf5.load_split(path, "train", limit=samples)
    rows = np.arange(len(y))

    def loader(**workers):
        return HDF5Dataset(path, batch_size=profile.batch_size, seed=0, rows=rows, **workers)

    def epoch_seconds(data, **fit_options):
        models.set_seed(0)
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
        "HDF5Dataset, 2 processes": (
            loader(workers=2, use_multiprocessing=True),
            {"shuffle": False},
        ),
        "tf.data from_generator + prefetch": (
            tfdata.from_generator(generator_loader).prefetch(4),
            {"shuffle": False, "callbacks": [tfdata.AdvanceEpoch(generator_loader)]},
        ),
        "tf.data parallel reads + prefetch": (
            tfdata.parallel_reads(tf_loader).prefetch(4),
            {"shuffle": False, "callbacks": [tfdata.AdvanceEpoch(tf_loader)]},
        ),
    }
    seconds = {name: epoch_seconds(data, **options) for name, (data, options) in pipelines.items()}
    return table(seconds, "epoch s", "pipeline", {"x in memory": "in memory (numpy arrays)"})


def service_throughput(megabytes: int = 96, batch_size: int = 32, workers: Sequence[int] = (1, 2)):
    """One epoch of decode + augmentation in-process and on a local tf.data service.

    First used in lesson 10 (scale_out).

    The records are 299x299 photo crops (`cold.photo_records`), so decoding
    costs about what it does on food-101; each batch is also flipped and
    shifted (`tfdata.flip_and_shift`). Each row is the second of two epochs
    (the first warms up the workers); the page cache is warm. One local service
    serves every row, a worker added before each row that needs more.

    Returns:
        A DataFrame: samples/s, the ratio to in-process, and the CPU cores
        used by the trainer process and by the service's processes.
    """
    from course_lib.formats import records
    from course_lib.loading import tfdata
    from course_lib.scale_out import servers, service

    folder = Path(tempfile.mkdtemp(dir=config.data_dir(), prefix="bench-service-"))
    try:
        path, samples = cold.photo_records(folder / "records", megabytes=megabytes)

        def epoch(dataset, pids=()):
            for _ in dataset:  # warm-up
                pass
            cpu, others, started = own_cpu_seconds(), cpu_seconds_of(pids), time.perf_counter()
            for _ in dataset:
                pass
            wall = time.perf_counter() - started
            return {
                "samples/s": samples / wall,
                "trainer CPU (cores)": (own_cpu_seconds() - cpu) / wall,
                "service CPU (cores)": (cpu_seconds_of(pids) - others) / wall,
            }

        rows = {
            "in-process tf.data": epoch(
                records.record_dataset(path, batch_size, seed=0, augment=tfdata.flip_and_shift)
            )
        }
        with servers.LocalService(workers=0) as running:  # one service, grown row by row
            for count in sorted(workers):
                while len(running.workers) < count:
                    running.add_worker()
                running.wait_for_workers(count)
                pipeline, _ = service.record_pipeline(
                    path, batch_size, "distributed_epoch", augment=tfdata.flip_and_shift
                )
                rows[f"service, {count} worker{'s' * (count > 1)}"] = epoch(
                    service.service_dataset(
                        pipeline, running.target, "distributed_epoch", samples, batch_size
                    ),
                    running.alive(),
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.insert(1, "x in-process", frame["samples/s"] / frame["samples/s"].iloc[0])
    return frame.round(2)
