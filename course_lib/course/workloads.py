"""Small, importable workloads for `budget` demonstrations and tests.

`budget.run_function` runs its function in a fresh process; these are the
functions lesson 01 and the tests give it.
TensorFlow is imported inside the training functions, so `allocate` starts
in a fraction of a second.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if typing.TYPE_CHECKING:
    import keras


def allocate(mib: float, hold_s: float = 0.3):
    """Allocates and touches `mib` MiB, holds it `hold_s` seconds, returns `mib`.

    Used by the kit, not by a lesson.
    """
    block = np.ones(int(mib * 2**20), np.uint8)
    time.sleep(hold_s)
    return int(block.size // 2**20)


def fail(message: str):
    """Raises `ValueError(message)`: a workload with an error of its own.

    Used by the kit, not by a lesson.
    """
    raise ValueError(message)


def _model(image_shape, n_classes=3):
    from course_lib import models

    models.set_seed(0)
    return models.small_convnet(image_shape, n_classes)


def fit_in_memory(
    path: str | Path, epochs: int = 1, batch_size: int = 64, limit: int | None = None
):
    """The classic recipe: load the training split, convert to float32, fit.

    First used in lesson 01 (in_memory_fit).

    Args:
        limit: train on the first `limit` samples only.

    Returns:
        `{"loss": last training loss, "samples": training samples}`.
    """
    from course_lib.formats import hdf5

    x, y = hdf5.load_split(path, "train", limit=limit)
    x = x.astype("float32")  # the conversion most recipes do next
    history = _model(x.shape[1:]).fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return {"loss": float(history.history["loss"][-1]), "samples": len(x)}


def fit_streaming(path: str | Path, epochs: int = 1, batch_size: int = 64):
    """The same training, streamed from the HDF5 file with `HDF5Dataset`.

    First used in lesson 01 (in_memory_fit).

    Returns:
        `{"loss": last training loss, "samples": training samples}`.
    """
    train, history = streamed_fit(path, epochs, batch_size)
    return {"loss": float(history.history["loss"][-1]), "samples": train.sampler.n}


def streamed_fit(
    path: str | Path,
    epochs: int,
    batch_size: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    loader: keras.utils.PyDataset | None = None,
):
    """Fits the small convnet on `HDF5Dataset(path)`; returns the loader and the history.

    First used in lesson 01 (in_memory_fit).

    The loader follows Keras's epoch (`loaders.FollowEpochs`), so a resumed
    run continues the orders where it stopped. Pass `loader` to use your own.
    """
    from course_lib.loading.loaders import FollowEpochs, HDF5Dataset

    train = HDF5Dataset(path, batch_size=batch_size, seed=0) if loader is None else loader
    x, _ = train[0]
    history = _model(x.shape[1:]).fit(
        train, epochs=epochs, shuffle=False, verbose=0, callbacks=[FollowEpochs(train), *callbacks]
    )
    return train, history


def shuffle_buffer_bytes(n: int):
    """Bytes per element that `Dataset.range(n).shuffle(n)` holds once its buffer is full.

    First used in lesson 08 (tf_data).

    Run it in a fresh process (`child.run`), where no freed memory hides the growth.

    Returns:
        `{"tf.data buffer": bytes per element, "numpy permutation": bytes per element}`.
    """
    import psutil
    import tensorflow as tf

    process = psutil.Process()
    next(iter(tf.data.Dataset.range(10).shuffle(10)))  # load the shuffle kernel first
    before = process.memory_info().rss
    elements = iter(tf.data.Dataset.range(n).shuffle(n, seed=0))
    next(elements)  # the first element comes once the buffer is full
    buffered = (process.memory_info().rss - before) / n
    return {
        "tf.data buffer": buffered,
        "numpy permutation": np.random.default_rng(0).permutation(n).nbytes / n,
    }
