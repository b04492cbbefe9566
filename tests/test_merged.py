"""Merged loader: features stay aligned with their samples, whatever happens."""

import h5py
import keras
import numpy as np
import pytest

from course_lib import config, models
from course_lib.course import course_data
from course_lib.formats.features import write_features
from course_lib.loading.merged import HDF5Images, MergedDataset, NpyImages

CI = config.get_profile("ci")
N = 900


@pytest.fixture
def id_files(tmp_path):
    """Images whose pixels and feature rows whose values are the sample id."""
    ids = np.arange(N)
    h5 = tmp_path / "ids.h5"
    with h5py.File(h5, "w") as file:
        for split, chosen in (("train", ids[ids % 3 != 0]), ("valid", ids[ids % 3 == 0])):
            file[f"{split}/images"] = np.broadcast_to(
                chosen[:, None, None, None], (len(chosen), 2, 2, 1)
            ).astype(np.float32)
            file[f"{split}/ids"] = chosen
    values = np.arange(N, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    store = write_features(
        tmp_path / "rows.bcolz",
        ((s, values[s : s + 256]) for s in range(0, N, 256)),
        N,
        4,
        chunk_rows=64,
    )
    return h5, store


def _check_aligned(ds, epochs=3):
    seen = []
    for epoch in range(epochs):
        for index in range(len(ds)):
            (x, f), y = ds[index]
            assert np.array_equal(f[:, 0], y) and np.array_equal(x[:, 0, 0, 0], y)
            seen.append(y)
        ds.on_epoch_end()
    return seen


@pytest.mark.parametrize("shuffle", ["block", "full", "none"])
def test_features_match_their_sample_every_epoch(id_files, shuffle):
    h5, store = id_files
    ids = np.arange(N)[np.arange(N) % 3 != 0]
    ds = MergedDataset(
        HDF5Images(h5), store, ids, labels=ids, batch_size=64, shuffle=shuffle, seed=4, n_rows=N
    )
    seen = _check_aligned(ds)
    assert sorted(np.concatenate(seen[: len(ds)])) == list(ids)


def test_each_feature_chunk_is_decompressed_once_per_epoch(id_files, tmp_path, monkeypatch):
    _, store = id_files
    whole = tmp_path / "all.h5"
    with h5py.File(whole, "w") as file:
        file["all/images"] = np.zeros((N, 2, 2, 1), np.float32)
        file["all/ids"] = np.arange(N)
    ds = MergedDataset(
        HDF5Images(whole, "all/images", "all/ids"),
        store,
        np.arange(N),
        batch_size=32,
        seed=0,
        cache_chunks=8,
    )
    reads = []
    original = ds.features.store.read
    monkeypatch.setattr(
        ds.features.store, "read", lambda start, stop: reads.append(start) or original(start, stop)
    )
    for epoch in range(3):
        reads.clear()
        for index in range(len(ds)):
            ds[index]
        ds.on_epoch_end()
        # 15 chunks of 64 rows: each read once (later epochs may find some still cached)
        assert len(set(reads)) == len(reads) and set(reads) <= set(range(0, N, 64))
        if epoch == 0:
            assert sorted(reads) == list(range(0, N, 64))


def test_filtered_and_reordered_index_stays_aligned(id_files):
    h5, store = id_files
    rng = np.random.default_rng(0)
    ids = rng.permutation(np.arange(N)[np.arange(N) % 3 != 0])[:400]  # filtered, shuffled
    ds = MergedDataset(HDF5Images(h5), store, ids, labels=ids, batch_size=50, seed=1)
    seen = _check_aligned(ds, epochs=2)
    assert sorted(np.concatenate(seen[: len(ds)])) == sorted(ids)


@pytest.mark.parametrize(
    "workers",
    [
        {"workers": 3},
        {"workers": 2, "use_multiprocessing": True},
    ],
    ids=["threads", "processes"],
)
@pytest.mark.backend
def test_alignment_with_workers(id_files, workers):
    h5, store = id_files
    ids = np.arange(N)[np.arange(N) % 3 == 0]
    ds = MergedDataset(
        HDF5Images(h5, "valid/images", "valid/ids"),
        store,
        ids,
        batch_size=32,
        seed=2,
        input_names=("images", "features"),
        **workers,
    )
    images = keras.Input((2, 2, 1), name="images")
    features = keras.Input((4,), name="features")
    both = keras.layers.Concatenate()([keras.layers.Flatten()(images), features])
    model = keras.Model([images, features], both)
    for _ in range(2):
        out = model.predict(ds, verbose=0)
        assert np.array_equal(out[:, 0], out[:, 4])  # image id == feature id, row by row
        assert sorted(out[:, 0].astype(int)) == list(ids)


def test_wrong_row_count_and_other_bad_input(id_files, tmp_path):
    h5, store = id_files
    ids = np.arange(N)[np.arange(N) % 3 != 0]
    with pytest.raises(ValueError, match="rows.bcolz has 900 feature rows, expected 1000"):
        MergedDataset(HDF5Images(h5), store, ids, ids, n_rows=1000)
    short = write_features(tmp_path / "short.npy", [(0, np.zeros((500, 4)))], 500, 4)
    with pytest.raises(ValueError, match="short.npy has 500 feature rows but the ids run"):
        MergedDataset(HDF5Images(h5), short, ids, ids)
    with pytest.raises(ValueError, match="no image"):
        MergedDataset(HDF5Images(h5), store, np.arange(10), np.arange(10))
    with pytest.raises(ValueError, match="repeat"):
        MergedDataset(HDF5Images(h5), store, [1, 1, 2], [0, 0, 0])
    with pytest.raises(ValueError, match="one label per id"):
        MergedDataset(HDF5Images(h5), store, [1, 2], [0])
    with pytest.raises(FileNotFoundError, match="missing.bcolz"):
        MergedDataset(HDF5Images(h5), tmp_path / "missing.bcolz", [1], [0])


@pytest.mark.backend
def test_course_data_from_hdf5_and_npy_agree_and_the_merged_model_trains(ci_data):
    index = course_data.read_index("ci")
    train = index[index.split == "train"]
    matrix = ci_data["bcolz"] / course_data.FEATURE_MATRIX_NAME
    from_h5, from_npy = (
        MergedDataset(
            images,
            matrix,
            train.id,
            train.label,
            batch_size=CI.batch_size,
            seed=0,
            n_rows=len(index),
        )
        for images in (HDF5Images(ci_data["hdf5"]), NpyImages(ci_data["npy"]))
    )
    for a, b in zip(from_h5[3][0], from_npy[3][0]):
        assert np.array_equal(a, b)
    keras.utils.set_random_seed(0)
    model = models.merged_model(CI.image_shape, CI.n_features, CI.n_classes)
    history = model.fit(from_h5, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
