import concurrent.futures
import multiprocessing
import pickle
import threading
import time

import h5py
import keras
import numpy as np
import pytest

from course_lib import config
from course_lib.formats import hdf5, npy
from course_lib.loading.loaders import (
    HDF5Dataset,
    NpyDirectoryDataset,
    ThreadSafeIterator,
    threadsafe_generator,
    to_float32,
)

CI = config.get_profile("ci")


def served(ds):
    """All labels of one epoch, batch after batch."""
    return np.concatenate([ds[i][1] for i in range(len(ds))])


def test_hdf5_loader_serves_every_sample_once_per_epoch(ci_data):
    ds = HDF5Dataset(
        ci_data["hdf5"], "train/images", "train/ids", batch_size=100, seed=1, label_mode=None
    )
    assert len(ds) == 21  # 2048 samples: 20 full batches and one of 48
    epochs = []
    for _ in range(3):
        ids = served(ds)
        assert sorted(ids) == list(range(CI.n_train))
        epochs.append(ids)
        ds.on_epoch_end()
    assert not np.array_equal(epochs[0], epochs[1])
    x, y = ds[0]
    assert x.shape == (100, *CI.image_shape) and x.dtype == np.uint8


def test_hdf5_loader_images_match_their_labels(ci_data):
    ds = HDF5Dataset(
        ci_data["hdf5"], "valid/images", "valid/labels", batch_size=64, shuffle="full", seed=2
    )
    x_all, y_all = hdf5.load_split(ci_data["hdf5"], "valid")
    position = {row.tobytes(): i for i, row in enumerate(x_all)}
    x, y = ds[3]
    assert [y_all[position[row.tobytes()]] for row in x] == list(y)


def test_food101_style_file_with_one_hot_labels(tmp_path):
    path = tmp_path / "food_c101_n1000_r64x64x3.h5"
    with h5py.File(path, "w") as file:
        file["train_img"] = np.random.default_rng(0).integers(0, 255, (50, 8, 8, 3), np.uint8)
        file["train_labels"] = np.eye(4, dtype=np.uint8)[np.arange(50) % 4]
    ds = HDF5Dataset(
        path, "train_img", "train_labels", batch_size=16, shuffle="none", preprocess=to_float32
    )
    x, y = ds[3]
    assert x.dtype == np.float32 and x.max() <= 1
    assert y.tolist() == [0, 1]  # sparse by default: what the kit's models train on
    one_hot = HDF5Dataset(
        path, "train_img", "train_labels", batch_size=16, shuffle="none", label_mode="one_hot"
    )
    assert one_hot[3][1].tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    assert one_hot.n_classes == 4


def test_pytables_earray(tmp_path):
    tables = pytest.importorskip("tables")
    path = tmp_path / "earray.h5"
    with tables.open_file(path, "w") as file:
        images = file.create_earray("/", "images", tables.UInt8Atom(), (0, 4, 4, 3))
        labels = file.create_earray("/", "labels", tables.Int64Atom(), (0,))
        for start in range(0, 30, 10):  # written block by block
            images.append(np.full((10, 4, 4, 3), start, np.uint8))
            labels.append(np.arange(start, start + 10))
    ds = HDF5Dataset(path, "images", "labels", batch_size=8, seed=0)
    assert sorted(served(ds)) == list(range(30))


def test_hdf5_loader_errors_name_the_file_and_dataset(ci_data, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No HDF5 file at .*missing.h5"):
        HDF5Dataset(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match=r"course.h5 has no dataset 'train_img'.*train/images"):
        HDF5Dataset(ci_data["hdf5"], "train_img", "train_labels")
    with pytest.raises(ValueError, match="same length"):
        HDF5Dataset(ci_data["hdf5"], "train/images", "valid/labels")


def test_hdf5_loader_pickles_without_its_file_handle(ci_data):
    ds = HDF5Dataset(
        ci_data["hdf5"], "train/images", "train/ids", batch_size=64, seed=4, label_mode=None
    )
    before = ds[2]  # opens the file in this process
    assert ds.images.is_open
    copy = pickle.loads(pickle.dumps(ds))
    assert not copy.images.is_open and not copy.targets.is_open
    assert len(pickle.dumps(ds)) < 5000  # a path and settings, no file and no data
    assert all(np.array_equal(a, b) for a, b in zip(copy[2], before))


@pytest.fixture
def id_file(tmp_path):
    """An HDF5 file whose "images" are the sample ids, to see what a model gets."""
    path = tmp_path / "ids.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("x", data=np.arange(600, dtype=np.float32)[:, None], chunks=(32, 1))
    return path


def _epochs_seen(path, epochs=2, **worker_kwargs):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Identity()])
    ds = HDF5Dataset(path, "x", None, batch_size=64, shuffle="block", seed=9, **worker_kwargs)
    return [model.predict(ds, verbose=0)[:, 0].astype(int) for _ in range(epochs)]


@pytest.mark.parametrize(
    "workers",
    [
        {"workers": 3},
        {"workers": 2, "use_multiprocessing": True},
    ],
    ids=["threads", "processes"],
)
@pytest.mark.backend
def test_workers_see_the_same_epochs_as_one_worker(id_file, workers):
    expected = _epochs_seen(id_file)
    got = _epochs_seen(id_file, **workers)
    for mine, theirs in zip(got, expected):
        assert sorted(mine) == list(range(600))
        assert np.array_equal(mine, theirs)
    assert not np.array_equal(got[0], got[1])


def _spawned_epochs(path, queue):
    queue.put([e.tolist() for e in _epochs_seen(path, workers=2, use_multiprocessing=True)])


@pytest.mark.backend
def test_processes_under_spawn(id_file):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_spawned_epochs, args=(id_file, queue))
    process.start()
    got = queue.get(timeout=240)
    process.join(timeout=60)
    expected = _epochs_seen(id_file)
    assert [np.array(e) for e in got][0].tolist() == expected[0].tolist()
    assert got[1] == expected[1].tolist()


@pytest.mark.backend
def test_fit_with_process_workers_advances_the_epoch(ci_data):
    keras.utils.set_random_seed(0)
    ds = HDF5Dataset(ci_data["hdf5"], batch_size=256, seed=0, workers=2, use_multiprocessing=True)
    model = keras.Sequential(
        [
            keras.Input(CI.image_shape),
            keras.layers.Flatten(),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Dense(3, "softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(ds, epochs=2, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2 and ds.epoch >= 2


def test_npy_loader_sparse_and_one_hot(ci_data):
    partition, labels = npy.read_partition(ci_data["npy"])
    ds = NpyDirectoryDataset(ci_data["npy"], partition["valid"], labels, batch_size=100, seed=3)
    assert len(ds) == 6 and len(ds[5][0]) == 12
    y = served(ds)
    assert sorted(y.tolist()) == sorted(labels[i] for i in partition["valid"])
    one_hot = NpyDirectoryDataset(
        ci_data["npy"],
        partition["valid"],
        labels,
        batch_size=100,
        shuffle="none",
        label_mode="one_hot",
        n_classes=3,
    )
    x, y = one_hot[0]
    assert y.shape == (100, 3) and y.dtype == np.float32
    first = partition["valid"][0]
    assert np.array_equal(x[0], np.load(ci_data["npy"] / f"{first}.npy"))
    assert y[0].argmax() == labels[first]


def test_npy_loader_errors(ci_data, tmp_path):
    partition, labels = npy.read_partition(ci_data["npy"])
    ids = partition["test"][:10]
    with pytest.raises(ValueError, match="1 id.*have no label.*id-999999"):
        NpyDirectoryDataset(ci_data["npy"], ids + ["id-999999"], labels)
    with pytest.raises(
        ValueError, match=r"sample 'id-\d+' has label 2, expected a class index in \[0, 2\)"
    ):
        NpyDirectoryDataset(ci_data["npy"], ids, {i: 2 for i in ids}, n_classes=2)
    with pytest.raises(ValueError, match="needs n_classes"):
        NpyDirectoryDataset(ci_data["npy"], ids, labels, label_mode="one_hot")
    with pytest.raises(
        FileNotFoundError,
        match=r"Missing sample file .*id-000000.npy. Check that .* holds one.*Or leave",
    ):
        NpyDirectoryDataset(tmp_path, ["id-000000"], {"id-000000": 0})[0]


def _slow_numbers():
    for number in range(20):
        time.sleep(0.002)  # the generator is mid-step when another thread calls next
        yield number


def test_plain_generator_breaks_under_threads_and_the_lock_fixes_it():
    def drain(iterator):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: next(iterator), range(20)))

    with pytest.raises(ValueError, match="generator already executing"):
        drain(_slow_numbers())
    assert sorted(drain(ThreadSafeIterator(_slow_numbers()))) == list(range(20))
    assert list(threadsafe_generator(_slow_numbers)()) == list(range(20))
    assert threading.active_count() >= 1


def test_hdf5_loader_shards_split_the_file_between_workers(id_file):
    shards = [
        HDF5Dataset(id_file, "x", None, batch_size=64, seed=3, shard=(i, 3)) for i in range(3)
    ]
    for epoch in range(2):
        seen = [np.concatenate([s[b][0][:, 0] for b in range(len(s))]).astype(int) for s in shards]
        assert sorted(np.concatenate(seen)) == list(range(600))
        for s in shards:
            s.on_epoch_end()
