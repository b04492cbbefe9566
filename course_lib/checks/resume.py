"""Checker for resumable training: the position a mid-epoch resume needs."""

import tempfile
from pathlib import Path

import numpy as np

from course_lib.checks.report import Findings


class _Crash(RuntimeError):
    pass


_EPOCHS, _BATCHES, _EVERY = 3, 8, 3
_CRASHES = {(1, 4): (1, 3), (1, 6): (1, 6), (2, 0): (2, 0)}
"""Where the checker's runs crash (the batch trained last), and the position the save
before it names: mid-epoch, again in the resumed rest of that epoch, and after an
epoch's end (8 batches are not a multiple of 3: only an end-of-epoch save names it)."""


def _tiny_fit(saver, folder, crash_at=None, snapshots=None):
    """A `fit_from_position` run of a tiny model on 8 batches of 8 samples, 3 epochs,
    saving every 2 batches with `saver`; it crashes once batch `crash_at` is trained.
    `snapshots`, if given, gets the weights after every trained batch."""
    import keras

    from course_lib import models
    from course_lib.course import resume
    from course_lib.formats.sources import ArrayRows
    from course_lib.loading.loaders import SourceDataset

    rng = np.random.default_rng(0)
    n = _BATCHES * 8
    loader = SourceDataset(
        ArrayRows(rng.normal(size=(n, 4)).astype("float32")),
        rng.integers(0, 2, n),
        batch_size=8,
        seed=1,
    )
    models.set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = resume.read_position(folder) or {"epoch": 0, "batch": 0}

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.first = start["batch"] if epoch == start["epoch"] else 0

        def on_train_batch_end(self, batch, logs=None):
            done = self.first + batch + 1
            if snapshots is not None:
                snapshots[self.epoch, done] = [np.array(w) for w in self.model.get_weights()]
                if done == _BATCHES:
                    snapshots[self.epoch + 1, 0] = snapshots[self.epoch, done]
            if crash_at == (self.epoch, done - 1):
                raise _Crash

    resume.fit_from_position(
        model, loader, folder, _EPOCHS, _EVERY, saver=saver, verbose=0, callbacks=[Watch()]
    )
    return model


def _weights_in(folder, position, probe):
    probe.load_weights(Path(folder) / position["weights"])
    return probe.get_weights()


def _batches_done(weights, snapshots):
    """The `(epoch, batches done)` whose reference weights `weights` are, or `None`."""
    for key, expected in snapshots.items():
        if all(np.allclose(w, e, rtol=0, atol=1e-6) for w, e in zip(weights, expected)):
            return _normal(key)
    return None


def check_position_saver(saver, verbose=True):
    """Checks a learner's `PositionSaver` subclass: the position a mid-epoch resume needs.

    Trains a tiny model with `course.resume.fit_from_position` and the
    learner's class, 3 epochs of 8 batches saving every 2, and crashes it
    three times: after batch 4 of epoch 1, after batch 6 of the resumed rest
    of that epoch, and after the first batch of epoch 2. Each crash must find
    the position of the last save (epoch, batches of it trained) and, in its
    file, the weights an uninterrupted run had then; the run resumed after
    the last crash must end with the uninterrupted run's weights.

    Returns:
        A `Report`.
    """
    import keras

    from course_lib.course import resume
    from course_lib.loading.loaders import build_before_fit

    found = Findings()
    with found:
        if not (isinstance(saver, type) and issubclass(saver, resume.PositionSaver)):
            found.stop(
                f"Pass the class itself, a subclass of resume.PositionSaver, not "
                f"{type(saver).__name__} {str(saver)[:60]!r}."
            )
        snapshots = {}
        with tempfile.TemporaryDirectory() as folder:
            reference = _tiny_fit(resume.PositionBackup, Path(folder) / "ref", None, snapshots)
            probe = keras.models.clone_model(reference)
            probe.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            build_before_fit(probe, [(np.zeros((1, 4), "float32"), np.zeros(1, "int64"))])
            mine = Path(folder) / "mine"
            for crash, expected in _CRASHES.items():
                try:
                    _tiny_fit(saver, mine, crash)
                except _Crash:
                    pass
                except Exception as error:  # the learner's hooks run inside fit
                    found.stop(
                        f"Training with {saver.__name__} raised {type(error).__name__}: "
                        f"{str(error)[:200]}."
                    )
                else:
                    found.stop("The run ended before its crash: the checker is broken.")
                position = resume.read_position(mine)
                where = f"batch {crash[1]} of epoch {crash[0]} was trained"
                if position is None:
                    found.stop(
                        f"No position was saved before the crash after {where}: in "
                        f"on_train_batch_end, call self.save(epoch, batches_done) every "
                        f"self.every batches."
                    )
                said = _normal((position["epoch"], position["batch"]))
                held = _batches_done(_weights_in(mine, position, probe), snapshots)
                if said != expected or held != expected:
                    found.stop(_position_problem(where, expected, said, held))
            final = _tiny_fit(saver, mine)
        for got, want in zip(final.get_weights(), reference.get_weights()):
            if not np.allclose(got, want, rtol=0, atol=1e-6):
                found.stop(
                    "Every crash found the right position, but the run resumed after the "
                    "last one did not end with the uninterrupted run's weights."
                )
    return found.report(
        "three crashes resumed at the next batch, each sample trained once an epoch, and "
        "the run ended with the uninterrupted run's weights.",
        verbose,
    )


def _normal(position):
    """`(epoch, 8)` is `(epoch + 1, 0)`: both say an epoch is done."""
    epoch, batch = position
    return (epoch + 1, 0) if batch >= _BATCHES else (epoch, batch)


def _batches(first, stop):
    """`batch 3` or `batches 3-5`."""
    return f"batch {first}" if stop - first == 1 else f"batches {first}-{stop - 1}"


def _position_problem(where, expected, said, held):
    """Says what a resume from a wrong position would do."""

    def count(position):  # batches trained since the run began
        return position[0] * _BATCHES + position[1]

    text = f"When {where}, the last save said {said[1]} batches of epoch {said[0]} done"
    if held is None:
        return (
            f"{text}, but its weights match no point of an uninterrupted run. Save from "
            f"on_train_batch_end with self.save(epoch, batches_done)."
        )
    if said[0] != held[0]:
        return (
            f"{text}, but its weights are those after {held[1]} batches of epoch {held[0]}: "
            f"a resume would serve epoch {said[0]}'s order where epoch {held[0]}'s belongs "
            f"(reshuffled: samples trained twice or not at all). Save Keras's epoch, the one "
            f"on_epoch_begin(self, epoch, logs) receives."
        )
    if count(said) < count(held):
        return (
            f"{text}, but its weights are those after {held[1]}: a resume trains "
            f"{_batches(said[1], held[1])} twice. Name the batches done: Keras's `batch` counts "
            f"from 0, and self.first_batch were trained before this fit."
        )
    if count(said) > count(held):
        return (
            f"{text}, but its weights are those after {held[1]}: a resume skips "
            f"{_batches(held[1], said[1])}. Save after a batch is trained (on_train_batch_end), "
            f"naming the batches done."
        )
    if said[1] == 0 and expected[0] == said[0] and expected[1]:
        return (
            f"{text}: a resume replays epoch {said[0]} from its start, as BackupAndRestore "
            f"does. Save every self.every batches, not only at the epoch's end."
        )
    if count(said) < count(expected):
        return (
            f"{text}: a resume replays every batch since. Save after every self.every "
            f"batches (counting self.first_batch) and at every epoch's end, as (epoch + 1, 0)."
        )
    return f"{text}; expected {expected[1]} batches of epoch {expected[0]}."
