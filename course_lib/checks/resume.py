"""Checker for resumable training: the loader's epoch restored with the model's."""

import tempfile

import numpy as np

from course_lib.checks.report import Findings


class _Crash(RuntimeError):
    pass


def _resumed_loader_epochs(make_callback, folder, epochs=4, crash_after=2):
    """Fits a tiny model, crashes after `crash_after` epochs, resumes; returns the
    loader's epoch at the start of each resumed epoch, and Keras's epochs."""
    import keras

    class Loader(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def __len__(self):
            return 2

        def __getitem__(self, index):
            rng = np.random.default_rng([self.epoch, index])
            return rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, 8)

        def on_epoch_end(self):
            self.epoch += 1

    seen = []

    def run(crash):
        loader = Loader()

        class Watch(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 0:
                    seen.append((self.params.get("epochs"), loader.epoch))

            def on_epoch_end(self, epoch, logs=None):
                if crash and epoch + 1 == crash_after:
                    raise _Crash

        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        callbacks = [keras.callbacks.BackupAndRestore(str(folder)), make_callback(loader), Watch()]
        model.fit(loader, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)

    try:
        run(crash=True)
    except _Crash:
        pass
    before = len(seen)
    run(crash=False)
    return [epoch for _, epoch in seen[before:]]


def check_epoch_callback(make_callback, verbose=True):
    """Checks a learner's callback that gives a resumed loader back its epoch.

    Trains a tiny model with `BackupAndRestore` on a loader with an `epoch`
    counter, stops it after two of four epochs, and runs it again: with the
    learner's `make_callback(loader)` among the callbacks, the resumed epochs
    must read loader epochs 2 and 3, not replay 0 and 1.

    Returns:
        A `Report`.
    """
    found = Findings()
    with found:
        callback = found.call("make_callback(loader)", make_callback, object())
        if not hasattr(callback, "set_model"):
            found.stop(
                f"make_callback returned a {type(callback).__name__}, not a Keras "
                f"callback: subclass keras.callbacks.Callback."
            )
        with tempfile.TemporaryDirectory() as folder:
            try:
                epochs = _resumed_loader_epochs(make_callback, folder)
            except Exception as error:  # the learner's callback runs inside fit
                found.stop(
                    f"Training with the callback raised {type(error).__name__}: {str(error)[:200]}."
                )
        if epochs != [2, 3]:
            found.add(
                f"After resuming at epoch 2 the loader served its epochs {epochs}, "
                f"not [2, 3]: the resumed run replays earlier orders. In "
                f"on_epoch_begin(self, epoch, logs=None), set the loader's epoch to "
                f"Keras's `epoch`."
            )
    return found.report("after a resume, the loader continues at Keras's epoch.", verbose)
