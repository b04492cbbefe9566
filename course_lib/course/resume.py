"""Training that survives an interruption: resume from the last finished epoch.

A long streamed fit on data bigger than memory can be stopped by a crash, a
killed job or a pre-empted machine. `keras.callbacks.BackupAndRestore` saves
the model, the optimizer and the epoch counter after every epoch, and a
second run with the same backup folder trains only the epochs that are left.
The loader's own epoch counter is not in that backup: `loaders.FollowEpochs`
sets it from Keras's epoch, so the resumed epochs get their own orders instead
of replaying the first ones. `fit_resumable` is that recipe on the kit's
loader, with a crash to simulate.
"""

from __future__ import annotations

from pathlib import Path

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
):
    """Streams a fit that survives interruptions with `keras.callbacks.BackupAndRestore`.

    First used in lesson 12 (capstone).

    Run it, let it crash (`crash_after_epoch`), run it again with the same
    `backup_dir`: the second run restores the model, the optimizer and the
    epoch counter, and trains only the epochs that are left.

    Returns:
        `{"epochs_run": [...], "loader_epochs": [...], "losses": [...]}` for the
        epochs this call trained: Keras's epoch numbers and the loader's.

    Raises:
        SimulatedCrash: after epoch `crash_after_epoch` (counting from 1).
    """
    import keras

    from course_lib.loading.loaders import HDF5Dataset

    train = HDF5Dataset(path, batch_size=batch_size, seed=0)
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
    }
