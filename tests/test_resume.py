"""Interrupted training resumes where it stopped: at the last epoch (BackupAndRestore) or at
the next batch (`fit_from_position`), after a real SIGKILL."""

import signal

import h5py
import keras
import numpy as np
import pytest

from course_lib.course import resume
from course_lib.loading import loaders
from course_lib.loading.loaders import HDF5Dataset
from course_lib.scale_out import child


def test_a_crashed_fit_resumes_from_its_last_epoch(ci_data, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(resume.SimulatedCrash):
        resume.fit_resumable(ci_data["hdf5"], backup, epochs=4, crash_after_epoch=2)
    assert backup.exists() and any(backup.iterdir())  # the state of epoch 2 was saved
    resumed = resume.fit_resumable(ci_data["hdf5"], backup, epochs=4)
    assert resumed["epochs_run"] == [2, 3]  # epochs 0 and 1 are not trained again
    assert resumed["loader_epochs"] == [2, 3]  # and their sample orders are not replayed
    assert len(resumed["losses"]) == 2
    assert not backup.exists() or not any(backup.iterdir())  # removed once training finished
    fresh = resume.fit_resumable(ci_data["hdf5"], tmp_path / "other", epochs=2)
    assert fresh["epochs_run"] == fresh["loader_epochs"] == [0, 1]


@pytest.mark.parametrize(
    "workers, use_multiprocessing, augment",
    [(1, False, False), (2, False, False), (2, True, False), (1, False, True)],
    ids=["one worker", "two threads", "two processes", "augmented"],
)
def test_a_fit_killed_mid_epoch_resumes_at_the_next_batch(
    ci_data, tmp_path, workers, use_multiprocessing, augment
):
    """SIGKILL after batch 4 of epoch 1 (saves every 2 batches): the rerun trains batches
    4-7 of epoch 1 and then epoch 2's, and ends with the uninterrupted run's weights."""
    options = {"workers": workers, "use_multiprocessing": use_multiprocessing, "augment": augment}
    path = ci_data["hdf5"]
    whole = child.run(resume.killed_fit, path, tmp_path / "a", tmp_path / "a.log", **options)
    assert whole.ok, whole.error
    killed = child.run(
        resume.killed_fit, path, tmp_path / "b", tmp_path / "b.log", kill_at=(1, 4), **options
    )
    assert killed.returncode == -signal.SIGKILL
    position = resume.read_position(tmp_path / "b")
    assert (position["epoch"], position["batch"]) == (1, 4)  # the save after batch 3
    trained_before = _log(tmp_path / "b.log")
    resumed = child.run(resume.killed_fit, path, tmp_path / "b", tmp_path / "b.log", **options)
    assert resumed.ok, resumed.error
    trained_after = _log(tmp_path / "b.log")[len(trained_before) :]
    assert trained_after == [(1, batch) for batch in range(4, 8)]  # no replay, no skip
    kept = [b for e, b in trained_before if e == 1 and b < position["batch"]]
    epoch = [*kept, *(b for _, b in trained_after)]
    order = HDF5Dataset(path, batch_size=64, seed=1, rows=range(512)).sampler.batches(1)
    assert np.array_equal(np.sort(np.concatenate([order[b] for b in epoch])), np.arange(512))
    for got, expected in zip(resumed.value, whole.value):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert not (tmp_path / "b").exists()  # removed once training finished


def _log(path):
    """The `(epoch, batch)` of each trained batch `killed_fit` logged."""
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


def test_an_epoch_tail_serves_the_rest_of_the_epoch_in_its_order(ci_data):
    loader = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=3, rows=range(512))
    tail = resume.EpochTail(loader, epoch=2, first_batch=5)
    assert len(tail) == 3 and loader.epoch == 2
    expected = loader.sampler.batches(2)[5:]
    with h5py.File(ci_data["hdf5"], "r") as file:
        labels = file["train/labels"][:512]
    for index, rows in enumerate(expected):
        np.testing.assert_array_equal(tail[index][1], labels[rows])
    tail.on_epoch_end()
    assert loader.epoch == 2  # the tail never advances its loader
    with pytest.raises(ValueError, match=r"first_batch must be in \[0, 8\)"):
        resume.EpochTail(loader, epoch=0, first_batch=8)


def test_a_position_always_names_complete_weights(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    backup = resume.PositionBackup(tmp_path, every=1)
    backup.set_model(model)
    backup.save(0, 3)
    backup.save(0, 4)
    position = resume.read_position(tmp_path)
    assert position == {"epoch": 0, "batch": 4, "weights": "epoch0-batch4.weights.h5"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [position["weights"], "position.json"]


def test_building_before_fit_builds_the_optimizer_and_changes_no_weight(ci_data):
    loader = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=3, rows=range(256))
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = [np.array(w) for w in model.get_weights()]
    loaders.build_before_fit(model, loader)
    assert model.optimizer.built and model.built
    for got, expected in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, expected)
