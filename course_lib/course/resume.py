"""Training that survives an interruption: from the last epoch, or from the next batch.

A long streamed fit on data bigger than memory can be stopped by a crash, a
killed job or a pre-empted machine. `keras.callbacks.BackupAndRestore` saves
the model, the optimizer and the epoch counter after every epoch, and a
second run with the same backup folder trains only the epochs that are left.
The loader's own epoch counter is not in that backup: `loaders.FollowEpochs`
sets it from Keras's epoch, so the resumed epochs get their own orders instead
of replaying the first ones. `fit_resumable` is that recipe on the kit's
loader, with a crash to simulate.

`BackupAndRestore(save_freq=N)` saves mid-epoch too, but resumes at the
epoch's start (Keras 3.15 restores only its epoch). `fit_from_position`
resumes at the next batch instead: `PositionBackup` saves the loader's position
with the weights, and `EpochTail` finishes the epoch in its original order.
`killed_fit` runs it in a child process killed with `SIGKILL` at a chosen batch.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
from keras.utils import PyDataset

from course_lib import config
from course_lib.course import workloads


class SimulatedCrash(RuntimeError):
    """Raised by `fit_resumable` to stand for a crash or a killed job.

    First used in lesson 12 (capstone).
    """


def fit_resumable(
    path: str | Path,
    backup_dir: str | Path,
    epochs: int = 4,
    crash_after_epoch: int | None = None,
    batch_size: int = 64,
    samples: int | None = None,
):
    """Streams a fit that survives interruptions with `keras.callbacks.BackupAndRestore`.

    First used in lesson 12 (capstone).

    Run it, let it crash (`crash_after_epoch`), run it again with the same
    `backup_dir`: the second run restores the model, the optimizer and the
    epoch counter, and trains only the epochs that are left. `samples` trains
    on the first `samples` rows of the training split only (all of them when
    the split is smaller or `samples` is None); the mechanics do not depend
    on the size.

    Returns:
        `{"epochs_run": [...], "loader_epochs": [...], "losses": [...],
        "batches_per_epoch": n}` for the epochs this call trained: Keras's epoch
        numbers and the loader's.

    Raises:
        SimulatedCrash: after epoch `crash_after_epoch` (counting from 1).
    """
    from course_lib.loading.loaders import HDF5Dataset

    train = HDF5Dataset(path, batch_size=batch_size, seed=0)
    if samples is not None and samples < train.sampler.n:
        train = HDF5Dataset(path, batch_size=batch_size, seed=0, rows=np.arange(samples))
    epochs_run, loader_epochs = [], []

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)
            loader_epochs.append(train.epoch)

        def on_epoch_end(self, epoch, logs=None):
            if crash_after_epoch is not None and epoch + 1 == crash_after_epoch:
                raise SimulatedCrash(f"simulated crash after epoch {epoch + 1}")

    _, history = workloads.streamed_fit(
        path,
        epochs,
        batch_size,
        [keras.callbacks.BackupAndRestore(str(backup_dir)), Progress()],
        loader=train,
    )
    return {
        "epochs_run": epochs_run,
        "loader_epochs": loader_epochs,
        "losses": [float(v) for v in history.history["loss"]],
        "batches_per_epoch": len(train),
    }


POSITION_FILE = "position.json"


def read_position(backup_dir: str | Path):
    """The position a `PositionBackup` saved last: `{"epoch", "batch", "weights"}`, or `None`.

    First used in lesson 12 (capstone).

    `batch` is the number of batches of epoch `epoch` already trained; `weights`
    is the file (in `backup_dir`) that holds the model and optimizer at that point.
    """
    path = Path(backup_dir) / POSITION_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


class EpochTail(PyDataset):
    """The batches of one epoch of a kit loader from batch `first_batch` on.

    First used in lesson 12 (capstone).

    Its batch `i` is the loader's batch `first_batch + i` of epoch `epoch`, in
    the order the uninterrupted epoch had (the loader derives it from its seed
    and the epoch). It keeps the loader's workers, and never advances the
    loader's epoch: `fit_from_position` sets it for the epochs after.

    Args:
        loader: a kit loader, or a wrapper with `set_epoch` (`AugmentedDataset`).
        epoch: the epoch to finish.
        first_batch: batches of it already trained.

    Raises:
        ValueError: unless `0 <= first_batch < len(loader)`.
    """

    def __init__(self, loader, epoch: int, first_batch: int):
        super().__init__(
            workers=loader.workers,
            use_multiprocessing=loader.use_multiprocessing,
            max_queue_size=loader.max_queue_size,
        )
        if not 0 <= first_batch < len(loader):
            raise ValueError(
                f"first_batch must be in [0, {len(loader)}) for a loader of {len(loader)} "
                f"batches, received {first_batch}."
            )
        loader.set_epoch(epoch)
        self.loader, self.epoch, self.first_batch = loader, epoch, first_batch

    def __len__(self):
        return len(self.loader) - self.first_batch

    def __getitem__(self, index):
        return self.loader[self.first_batch + index]


class PositionSaver(keras.callbacks.Callback):
    """Saves the model, its optimizer and a position `(epoch, batch)` naming them: the how.

    First used in lesson 12 (capstone).

    `save(epoch, batch)` writes the weights and optimizer to a new file first,
    then `position.json` naming it, so a kill at any moment leaves a position
    whose weights are complete. When to save is a subclass's hooks
    (`PositionBackup`, or the capstone's exercise).

    Args:
        backup_dir: the folder to save into.
        every: save after every `every` batches, and at every epoch's end.
        first_batch: batches of the first epoch trained before this `fit`
            (the `first_batch` of an `EpochTail`).
    """

    def __init__(self, backup_dir: str | Path, every: int, first_batch: int = 0):
        super().__init__()
        self.backup_dir, self.every, self.first_batch = Path(backup_dir), int(every), first_batch

    def save(self, epoch: int, batch: int):
        """Saves the weights and optimizer, then the position: `batch` batches of `epoch` done."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        previous = read_position(self.backup_dir)
        weights = f"epoch{epoch}-batch{batch}.weights.h5"
        partial = self.backup_dir / f"partial-{weights}"
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self.backup_dir / weights)
        position = self.backup_dir / f"partial-{POSITION_FILE}"
        position.write_text(json.dumps({"epoch": epoch, "batch": batch, "weights": weights}))
        os.replace(position, self.backup_dir / POSITION_FILE)
        if previous and previous["weights"] != weights:
            (self.backup_dir / previous["weights"]).unlink(missing_ok=True)


class PositionBackup(PositionSaver):
    """Saves the model, its optimizer and the loader's position every `every` batches.

    First used in lesson 12 (capstone).

    Keras's `BackupAndRestore(save_freq=N)` saves mid-epoch but resumes at the
    epoch's start. This callback saves where the epoch stands (epoch, batches
    of it trained, counting those before this `fit`) next to the weights, so
    `fit_from_position` can go on at the next batch. Arguments as for
    `PositionSaver`.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        done = batch + 1
        if done % self.every == 0:
            self.save(self.epoch, self.first_batch + done)

    def on_epoch_end(self, epoch, logs=None):
        self.first_batch = 0
        self.save(epoch + 1, 0)


def fit_from_position(
    model,
    loader,
    backup_dir: str | Path,
    epochs: int,
    every: int,
    *,
    pipeline=None,
    saver: type[PositionSaver] = PositionBackup,
    **fit,
):
    """`model.fit(loader, epochs=epochs)` that a kill mid-epoch resumes at the next batch.

    First used in lesson 12 (capstone).

    Run it; if the process dies, run it again with the same `backup_dir`. It
    restores the weights and optimizer of the last save (`PositionBackup`),
    finishes the interrupted epoch from the next batch in the same order
    (`EpochTail`, one `fit`), then trains the remaining epochs (a second `fit`,
    whose loader follows Keras's epoch). Across the kill every sample of the
    interrupted epoch is trained once, in the uninterrupted run's batches.
    The batches trained after the last save and before the kill are trained
    again from the saved weights, so `every` sets how much work a kill costs.

    Where it cannot hold: the order must be a function of (seed, epoch), as
    the kit's loaders' are. A `tf.data` pipeline that shuffles itself (the
    TFRecord shards of lesson 09: `shuffle` with a buffer) has a state that
    `fit` never exposes, nor does the tf.data service's `parallel_epochs`
    mode (each worker its own order): those resume at the epoch's start
    (`BackupAndRestore`), the epoch's first batches trained twice.

    Args:
        model: a compiled model.
        loader: a kit loader or `AugmentedDataset` (a `set_epoch` and an order
            derived from seed and epoch).
        backup_dir: where positions are saved; removed once training finished.
        epochs: the epochs of the whole run.
        every: batches between saves.
        pipeline: what `fit` reads instead of the loader, made from it (or
            from the rest of an epoch), e.g. `tfdata.parallel_reads`.
        saver: the callback class that saves positions.
        **fit: passed to `fit` (not `epochs`, `initial_epoch` or `shuffle`).

    Returns:
        The `History` of each `fit` this call made.

    Example:

    ```python
    fit_from_position(model, HDF5Dataset(path, batch_size=64, seed=1), "backup",
                      epochs=8, every=100)
    ```
    """
    from course_lib.loading.loaders import FollowEpochs, build_before_fit

    backup_dir = Path(backup_dir)
    position = read_position(backup_dir)
    epoch, batch = (position["epoch"], position["batch"]) if position else (0, 0)
    build_before_fit(model, loader)  # on JAX, workers fetch no stale batches for the build
    if position:
        model.load_weights(backup_dir / position["weights"])
    if batch >= len(loader):  # killed between the last batch and the epoch's end
        epoch, batch = epoch + 1, 0
    callbacks = list(fit.pop("callbacks", []))
    read = pipeline or (lambda batches: batches)
    histories = []
    if batch and epoch < epochs:
        histories.append(
            model.fit(
                read(EpochTail(loader, epoch, batch)),
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,
                callbacks=[saver(backup_dir, every, batch), *callbacks],
                **fit,
            )
        )
        epoch += 1
    if epoch < epochs:
        histories.append(
            model.fit(
                read(loader),
                initial_epoch=epoch,
                epochs=epochs,
                shuffle=False,
                callbacks=[saver(backup_dir, every), FollowEpochs(loader), *callbacks],
                **fit,
            )
        )
    shutil.rmtree(backup_dir, ignore_errors=True)
    return histories


def killed_fit(
    make_loader,
    backup_dir: str | Path,
    log_path: str | Path,
    epochs: int = 2,
    every: int = 2,
    kill_at: tuple[int, int] | None = None,
    transform=None,
    pipeline=None,
    n_classes: int = len(config.CLASS_NAMES),
):
    """Trains a model with `fit_from_position`, killed with `SIGKILL` at `kill_at`.

    First used in lesson 12 (capstone). Run it in a child process (`child.run`):
    the kill ends the process, as a crash or a pre-empted machine would.

    The model is the small convnet, or the merged model for a loader of
    `(images, features)`; its loss follows the labels (class indices or one-hot).

    Args:
        make_loader: builds the kit loader (picklable: a `functools.partial`).
        backup_dir: the folder of saved positions (`fit_from_position`).
        log_path: a file to which each trained batch appends a line
            `epoch batch`; it survives the kill (`read_log`).
        epochs, every, pipeline: as in `fit_from_position`.
        kill_at: `(epoch, batch)`: the process kills itself once that batch is
            trained (`None`: never).
        transform: augment the loader with it (a seeded `AugmentedDataset`).
        n_classes: the number of classes.

    Returns:
        The final weights (a list of arrays), when not killed.
    """
    import signal

    from course_lib import models
    from course_lib.loading import augment

    models.set_seed(0)
    loader = make_loader()
    if transform is not None:
        loader = augment.AugmentedDataset(
            loader,
            transform,
            seed=2,
            workers=loader.workers,
            use_multiprocessing=loader.use_multiprocessing,
        )
    x, y = loader[0][:2]
    label_mode = "one_hot" if np.ndim(y) == 2 else "sparse"
    if isinstance(x, (tuple, list)):
        model = models.merged_model(x[0].shape[1:], x[1].shape[1], n_classes, label_mode=label_mode)
    else:
        model = models.small_convnet(x.shape[1:], n_classes, label_mode=label_mode)
    position = read_position(backup_dir) or {"epoch": 0, "batch": 0}

    class Log(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.first = position["batch"] if epoch == position["epoch"] else 0

        def on_train_batch_end(self, batch, logs=None):
            trained = self.first + batch
            log.write(f"{self.epoch} {trained}\n")
            if kill_at == (self.epoch, trained):
                os.kill(os.getpid(), signal.SIGKILL)

    with open(log_path, "a", buffering=1) as log:
        fit_from_position(
            model,
            loader,
            backup_dir,
            epochs,
            every,
            pipeline=pipeline,
            verbose=0,
            callbacks=[Log()],
        )
    return [np.asarray(w) for w in model.get_weights()]


def read_log(log_path: str | Path):
    """The `(epoch, batch)` of each batch a `killed_fit` trained, in order, kills included.

    First used in lesson 12 (capstone).
    """
    return [tuple(map(int, line.split())) for line in Path(log_path).read_text().splitlines()]
