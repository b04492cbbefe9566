"""Interrupted training resumes where it stopped: at the last epoch (BackupAndRestore) or at
the next batch (`fit_from_position`), after a real SIGKILL."""

import functools
import signal

import h5py
import keras
import numpy as np
import pytest

from course_lib.course import course_data, resume, user_files
from course_lib.formats import npy
from course_lib.loading import augment, loaders, merged
from course_lib.loading.loaders import HDF5Dataset
from course_lib.scale_out import child


@pytest.mark.backend
def test_a_crashed_fit_resumes_from_its_last_epoch(ci_data, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(resume.SimulatedCrash):
        resume.fit_resumable(ci_data["hdf5"], backup, epochs=4, crash_after_epoch=2, samples=256)
    assert backup.exists() and any(backup.iterdir())  # the state of epoch 2 was saved
    resumed = resume.fit_resumable(ci_data["hdf5"], backup, epochs=4, samples=256)
    assert resumed["batches_per_epoch"] == 4  # the first 256 rows, in batches of 64
    assert resumed["epochs_run"] == [2, 3]  # epochs 0 and 1 are not trained again
    assert resumed["loader_epochs"] == [2, 3]  # and their sample orders are not replayed
    assert len(resumed["losses"]) == 2
    assert not backup.exists() or not any(backup.iterdir())  # removed once training finished
    fresh = resume.fit_resumable(ci_data["hdf5"], tmp_path / "other", epochs=2)
    assert fresh["epochs_run"] == fresh["loader_epochs"] == [0, 1]
    assert fresh["batches_per_epoch"] == 2048 // 64  # the whole ci training split


SAMPLES, BATCH = 512, 64  # 8 batches an epoch


def _hdf5(data, tmp_path, **pydataset):
    return functools.partial(
        HDF5Dataset, data["hdf5"], batch_size=BATCH, seed=1, rows=range(SAMPLES), **pydataset
    )


def _npy(data, tmp_path):
    partition, labels = npy.read_partition(data["npy"])
    return functools.partial(
        loaders.NpyDirectoryDataset,
        data["npy"],
        partition["train"][:SAMPLES],
        labels,
        batch_size=BATCH,
        seed=1,
    )


def _merged(data, tmp_path):
    index = course_data.read_index("ci")
    train = index[index.split == "train"].iloc[:SAMPLES]
    return functools.partial(
        merged.MergedDataset,
        merged.HDF5Images(data["hdf5"], "train/images", "train/ids"),
        data["bcolz"] / course_data.FEATURE_MATRIX_NAME,
        train.id,
        train.label,
        batch_size=BATCH,
        seed=1,
        workers=2,
    )


def _class_sorted(data, tmp_path):
    """A user's file: PyTables EArrays, one class after another, one-hot, one split."""
    path = tmp_path / "own.h5"
    images, labels = user_files.drawings(SAMPLES, size=32, seed=5)
    user_files.write_class_sorted(path, images, labels, n_classes=3, block_size=100)
    return functools.partial(HDF5Dataset, path, "images", "labels", batch_size=BATCH, seed=1)


KILLED_RUNS = {
    "hdf5, one worker": (_hdf5, {}),
    "hdf5, two threads": (functools.partial(_hdf5, workers=2), {}),
    "hdf5, two processes": (functools.partial(_hdf5, workers=2, use_multiprocessing=True), {}),
    "hdf5, augmented": (_hdf5, {"transform": augment.RandomFlip()}),
    "npy folder": (_npy, {}),
    "merged, two threads": (_merged, {}),
    "class-sorted one-hot EArrays": (_class_sorted, {}),
    "tf.data parallel reads": (_hdf5, {"pipeline": "parallel_reads"}),
}


ON_EVERY_BACKEND = ("hdf5, one worker", "hdf5, two processes")
"""The kill cases the JAX suite runs too: fit's callbacks and batch hand-over are the backend's,
the loaders are not (the others differ only in the loader, and run on TensorFlow)."""


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(run, marks=pytest.mark.backend) if run in ON_EVERY_BACKEND else run
        for run in KILLED_RUNS
    ],
)
def test_a_fit_killed_mid_epoch_resumes_at_the_next_batch(ci_data, tmp_path, run):
    """SIGKILL after batch 4 of epoch 1 (saves every 2 batches): the rerun trains batches
    4-7 of epoch 1 and then epoch 2's, and ends with the uninterrupted run's weights."""
    make_data, options = KILLED_RUNS[run]
    if options.get("pipeline"):
        from course_lib.loading import tfdata

        options = {**options, "pipeline": tfdata.parallel_reads}
    make_loader = make_data(ci_data, tmp_path)
    # the run nobody kills needs no process of its own: it trains here
    whole = resume.killed_fit(make_loader, tmp_path / "a", tmp_path / "a.log", **options)
    args = (make_loader, tmp_path / "b", tmp_path / "b.log")
    killed = child.run(resume.killed_fit, *args, kill_at=(1, 4), **options)
    assert killed.returncode == -signal.SIGKILL
    position = resume.read_position(tmp_path / "b")
    assert (position["epoch"], position["batch"]) == (1, 4)  # the save after batch 3
    trained_before = resume.read_log(tmp_path / "b.log")
    assert trained_before[-1] == (1, 4)  # batch 4 was trained, then lost with the kill
    resumed = child.run(resume.killed_fit, *args, **options)
    assert resumed.ok, resumed.error
    trained_after = resume.read_log(tmp_path / "b.log")[len(trained_before) :]
    assert trained_after == [(1, batch) for batch in range(4, 8)]  # no replay, no skip
    assert resume.read_log(tmp_path / "a.log") == trained_before[:-1] + trained_after
    kept = [b for e, b in trained_before if e == 1 and b < position["batch"]]
    order = make_loader().sampler.batches(1)
    epoch = np.concatenate([order[b] for b in [*kept, *(b for _, b in trained_after)]])
    assert np.array_equal(np.sort(epoch), np.arange(SAMPLES))  # each sample once
    for got, expected in zip(resumed.value, whole):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert not (tmp_path / "b").exists()  # removed once training finished


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


@pytest.mark.backend
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


@pytest.mark.backend
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
