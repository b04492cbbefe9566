"""How each epoch order trains a class-sorted file (`make bench` parts `mixing`
and `merged`): validation accuracy over 8 seeds next to each order's read
speed, and orders built to separate the causes.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from course_lib import config
from course_lib.course import course_data
from course_lib.loading.sampling import BatchSampler
from course_lib.measure.harness import batches_rate, rate, read_epoch, table
from course_lib.measure.throughput import course_merged


def merged_mixing(profile: str | config.Profile = "lesson"):
    """How well the merged loader's block order mixes class-sorted labels.

    First used in lesson 07 (merged_models_bcolz).

    Returns:
        A DataFrame: the `mixing distance` (see `sampling.mixing_distance`:
        0 when every batch has the overall class mix) of no shuffle, the
        loader's block order, its default stratified order (the same chunks
        and blocks, dealt by class) and a full shuffle, on the training
        labels sorted.
    """
    from course_lib.loading.sampling import mixing_distance

    profile = config.get_profile(profile)
    loader = course_merged(profile, shuffle="block")
    n, sorted_labels = len(loader.ids), np.sort(loader.labels)
    stratified = BatchSampler(
        n,
        profile.batch_size,
        "stratified",
        seed=0,
        block_size=loader.sampler.block_size,
        chunk_rows=loader.sampler.chunk_rows,
        labels=sorted_labels,
    )
    samplers = {
        "none": BatchSampler(n, profile.batch_size, "none"),
        "block": loader.sampler,
        "stratified (default)": stratified,
        "full": BatchSampler(n, profile.batch_size, "full", seed=0),
    }
    return table(
        {
            name: mixing_distance(sorted_labels, sampler.batches(0))
            for name, sampler in samplers.items()
        },
        "mixing distance",
        "shuffle",
    )


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
    models.set_seed(seed)
    model = models.small_convnet(image_shape, n_classes)
    model.fit(train, epochs=epochs, shuffle=False, verbose=0)
    return float(model.evaluate(x_valid, y_valid, verbose=0)[1])


def class_sorted_files(
    folder: str | Path,
    profile: str | config.Profile,
    n_samples: int = 3000,
    course_samples: int | None = None,
):
    """The class-sorted training files `class_sorted_accuracy` trains on.

    Used by the kit, not by a lesson.

    Two kinds, built here: a user's file (`user_files.drawings`, the kit's
    generator never involved) of `n_samples` drawings, as PyTables EArrays
    appended class by class with one-hot labels, once in chunks of 64 rows
    and once in chunks of 1 row; and the course file's training split (its
    first `course_samples` rows; default: all of it, up to the lesson
    profile's 12,288, since the split is loaded in memory), sorted by class the
    same way. Each holds out a random seventh, in memory, for validation.

    Returns:
        `{name: (path, x_valid, y_valid)}`.
    """
    from course_lib.course import user_files

    most = config.get_profile("lesson").n_train  # the split is held in memory
    course_samples = min(course_samples or most, profile.n_train)
    course = course_data.ensure_layout("hdf5", profile, progress=False)
    with h5py.File(course, "r") as file:
        course_images = file["train/images"][:course_samples]
        course_labels = file["train/labels"][:course_samples]
    drawn = user_files.drawings(n_samples, profile.image_size, seed=config.SEED)
    kinds = {
        "drawings, chunks of 64 rows": (drawn, 3, 64),
        "drawings, chunks of 1 row": (drawn, 3, 1),
        f"course images ({course_samples:,}), chunks of 64 rows": (
            (course_images, course_labels),
            profile.n_classes,
            64,
        ),
    }
    files = {}
    for name, ((x, y), n_classes, chunk_rows) in kinds.items():
        held_out = _held_out_seventh(len(x))
        path = os.path.join(folder, f"class_sorted_{len(files)}.h5")
        user_files.write_class_sorted(
            path, x[~held_out], y[~held_out], n_classes, chunk_rows=chunk_rows
        )
        files[name] = (path, x[held_out], y[held_out])
    return files


def class_sorted_accuracy(
    profile: str | config.Profile = "lesson",
    epochs: int = 3,
    seeds: Sequence[int] = tuple(range(1, 9)),
    n_samples: int = 3000,
    course_samples: int | None = None,
):
    """Validation accuracy of the small convnet trained on class-sorted files.

    Used by the kit, not by a lesson.

    Trains on each of `class_sorted_files` (`n_samples` drawings, the
    course file's first `course_samples` training rows) with each order of
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
    from course_lib.loading.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = class_sorted_files(folder, profile, n_samples, course_samples)

        def loader(path, shuffle, seed):
            return HDF5Dataset(
                path, "images", "labels", batch_size=profile.batch_size, shuffle=shuffle, seed=seed
            )

        for name, (path, _, _) in files.items():  # read speeds first, before any training
            with h5py.File(path, "r") as file:
                x_train = file["images"][:]
            gather = batches_rate(
                lambda b: x_train[b],
                BatchSampler(len(x_train), profile.batch_size, "full", seed=0).batches(0),
                repeat=5,
            )
            for order, shuffle in MIXING_ORDERS.items():
                reads = loader(path, shuffle, 0)
                speed = rate(lambda: read_epoch(reads), len(x_train), repeat=5)
                rows.append(
                    {
                        "file": name,
                        "order": order,
                        "samples/s": speed,
                        "x in memory": speed / gather,
                    }
                )
        for row in rows:
            path, x_valid, y_valid = files[row["file"]]
            accuracies = []
            for seed in seeds:
                train = loader(path, MIXING_ORDERS[row["order"]], seed)
                accuracies.append(
                    _validation_accuracy(
                        train, profile.image_shape, train.n_classes, x_valid, y_valid, seed, epochs
                    )
                )
            row.update(
                {"mean": np.mean(accuracies), "min": min(accuracies), "max": max(accuracies)}
            )
    frame = pd.DataFrame(rows).set_index(["file", "order"])[
        ["mean", "min", "max", "samples/s", "x in memory"]
    ]
    full = frame.xs("full", level="order")["mean"]
    frame.insert(
        3,
        "vs full",
        100 * (frame["mean"] - full.reindex(frame.index.get_level_values("file")).to_numpy()),
    )
    return frame


def mixing_causes(
    profile: str | config.Profile = "lesson",
    epochs: int = 3,
    seeds: Sequence[int] = tuple(range(1, 9)),
    n_samples: int = 3000,
):
    """Training on orders built to tell apart why `block` trails `full` on a sorted file.

    Used by the kit, not by a lesson.

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

    from course_lib.course import user_files

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
        for name, batches_of in cause_orders(y_train, profile.batch_size, seed).items():
            accuracies.setdefault(name, []).append(
                _validation_accuracy(
                    Served(batches_of),
                    profile.image_shape,
                    len(user_files.DRAWING_CLASSES),
                    x[held_out],
                    y[held_out],
                    seed,
                    epochs,
                )
            )
    frame = pd.DataFrame(
        {
            "mean": {k: np.mean(v) for k, v in accuracies.items()},
            "min": {k: min(v) for k, v in accuracies.items()},
            "max": {k: max(v) for k, v in accuracies.items()},
        }
    )
    frame.index.name = "order"
    frame["vs full"] = 100 * (frame["mean"] - frame.loc["full", "mean"])
    return frame


def cause_orders(labels: ArrayLike, batch_size: int, seed: int):
    """`{name: batches_of(epoch)}`: the orders of `mixing_causes` (cached per epoch).

    Used by the kit, not by a lesson.
    """
    n = len(labels)
    full, block, stratified = (
        BatchSampler(n, batch_size, strategy, seed=seed, labels=labels)
        for strategy in ("full", "block", "stratified")
    )

    @functools.cache
    def block_mix(epoch):
        rng = np.random.default_rng([seed, epoch, 1])
        pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)}
        return [np.sort([pools[c].pop() for c in labels[b]]) for b in block.batches(epoch)]

    @functools.cache
    def moved(epoch):
        offset = np.random.default_rng([seed, epoch, 2]).integers(block.block_size)
        return [np.sort((b + offset) % n) for b in block.batches(epoch)]

    return {
        "full": full.batches,
        "block": block.batches,
        "full's samples, block's class mix": block_mix,
        "block, boundaries moved every epoch": moved,
        "stratified": stratified.batches,
    }
