import json
from collections import namedtuple

import h5py
import numpy as np
import pandas as pd
import pytest

from course_lib import atomic, config, datasets, synthetic

CI = config.get_profile("ci")


def test_hdf5_layout_holds_every_sample_once(ci_data):
    info = datasets.check_hdf5(ci_data["hdf5"])
    assert info["split_sizes"] == CI.split_sizes
    assert info["image_shape"] == CI.image_shape
    assert info["class_names"] == list(config.CLASS_NAMES)
    with h5py.File(ci_data["hdf5"], "r") as file:
        ids = np.concatenate([file[s]["ids"][:] for s in config.SPLITS])
        assert np.array_equal(ids, np.arange(CI.n_samples))
        images = file["train"]["images"]
        assert images.chunks == (CI.chunk_rows, *CI.image_shape)
        valid = datasets.split_ranges("ci")["valid"]
        assert np.array_equal(file["valid"]["images"][:],
                              synthetic.images(valid.start, valid.stop, 32, config.SEED))
        assert np.array_equal(file["valid"]["labels"][:],
                              synthetic.labels(valid.start, valid.stop, config.SEED))


def test_npy_layout_matches_the_hdf5_layout(ci_data):
    partition, labels = datasets.read_partition(ci_data["npy"])
    assert {s: len(ids) for s, ids in partition.items()} == CI.split_sizes
    names = [n for s in config.SPLITS for n in partition[s]]
    assert len(set(names)) == CI.n_samples
    x, y = datasets.load_split(ci_data["hdf5"], "test")
    for position in (0, 17, len(y) - 1):
        name = partition["test"][position]
        assert np.array_equal(np.load(ci_data["npy"] / f"{name}.npy"), x[position])
        assert labels[name] == y[position]


def test_feature_matrix_row_i_belongs_to_sample_i(ci_data):
    matrix = datasets.open_features("ci")
    index = datasets.read_index("ci")
    assert matrix.shape == (CI.n_samples, CI.n_features)
    assert list(index.columns) == ["id", "name", "split", "label", "npy_path"]
    assert np.array_equal(index["id"], np.arange(CI.n_samples))
    assert np.array_equal(index["label"], synthetic.labels(0, CI.n_samples, config.SEED))
    assert (index.groupby("split").size().to_dict() == CI.split_sizes)
    for row in (0, 1000, CI.n_samples - 1):
        assert np.array_equal(matrix[row], synthetic.features(
            row, row + 1, CI.n_features, config.SEED)[0])
    assert (ci_data["bcolz"].parent / index["npy_path"][5]).is_file()


def test_ensure_is_idempotent(ci_data):
    before = {p: p.stat().st_mtime_ns for p in ci_data.values()}
    assert datasets.ensure_all("ci", progress=False) == ci_data
    assert {p: p.stat().st_mtime_ns for p in ci_data.values()} == before


def _small_profile():
    return config.Profile("ci", n_train=300, n_valid=100, n_test=100, image_size=16,
                          n_features=8, batch_size=32, epochs=1, block_size=128,
                          chunk_rows=32)


@pytest.mark.parametrize("layout", datasets.LAYOUTS)
def test_interrupted_build_is_detected_and_rebuilt(fresh_data_dir, layout, capsys):
    profile = _small_profile()
    path = datasets.layout_path(layout, profile)
    # An interrupted run never leaves a layout that looks complete.
    real_writer = datasets._WRITERS[layout]

    def interrupted(partial, *args):
        real_writer(partial, *args)
        raise KeyboardInterrupt

    datasets._WRITERS[layout] = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            datasets.ensure_layout(layout, profile, progress=False)
    finally:
        datasets._WRITERS[layout] = real_writer
    assert datasets.layout_status(layout, profile) == "missing"  # Ctrl-C cleans up
    # A process killed outright (no Python cleanup) leaves its .partial behind.
    real_writer(atomic.partial_path(path), profile, False)
    assert datasets.layout_status(layout, profile) == "incomplete"
    datasets.ensure_layout(layout, profile, progress=False)
    assert "incomplete; rebuilding" in capsys.readouterr().out
    assert datasets.layout_status(layout, profile) == "complete"
    assert not path.with_name(path.name + ".partial").exists()


def test_a_layout_without_its_manifest_is_not_used(fresh_data_dir):
    profile = _small_profile()
    path = datasets.ensure_layout("npy", profile, progress=False)
    path.with_name(path.name + ".manifest.json").unlink()
    assert datasets.layout_status("npy", profile) == "incomplete"


def test_truncated_hdf5_is_damaged_and_rebuilt(fresh_data_dir, capsys):
    profile = _small_profile()
    path = datasets.ensure_layout("hdf5", profile, progress=False)
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.truncate(size // 2)
    assert datasets.layout_status("hdf5", profile).startswith("damaged")
    datasets.ensure_layout("hdf5", profile, progress=False)
    assert "damaged" in capsys.readouterr().out
    assert path.stat().st_size == size
    assert datasets.check_hdf5(path)["split_sizes"] == profile.split_sizes


def test_missing_npy_file_is_damaged(fresh_data_dir):
    profile = _small_profile()
    folder = datasets.ensure_layout("npy", profile, progress=False)
    (folder / "id-000007.npy").unlink()
    assert datasets.layout_status("npy", profile).startswith("damaged")


def test_data_built_for_other_settings_is_stale(fresh_data_dir):
    profile = _small_profile()
    datasets.ensure_layout("bcolz", profile, progress=False)
    wider = config.Profile(**{**profile.__dict__, "n_features": 9})
    assert datasets.layout_status("bcolz", wider) == "stale"
    matrix = datasets.bcolz.open(str(datasets.ensure_layout(
        "bcolz", wider, progress=False) / datasets.FEATURE_MATRIX_NAME))
    assert matrix.shape == (profile.n_samples, 9)


def test_not_enough_disk_space_is_a_clear_error(fresh_data_dir, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(datasets.shutil, "disk_usage", lambda p: usage(10, 10, 1000))
    with pytest.raises(OSError, match=r"Not enough disk space.*GiB.*COURSE_DATA_DIR"):
        datasets.ensure_layout("hdf5", _small_profile(), progress=False)


def test_unknown_layout_and_split():
    with pytest.raises(ValueError, match="Unknown layout 'zarr'.*hdf5, npy, bcolz"):
        datasets.layout_path("zarr", "ci")
    with pytest.raises(ValueError, match="Unknown split 'validation'.*train, valid, test"):
        datasets.load_split("unused.h5", "validation")


def test_load_split_scales_to_float32_in_place(ci_data):
    x8, y = datasets.load_split(ci_data["hdf5"], "train", limit=10)
    x32, _ = datasets.load_split(ci_data["hdf5"], "train", limit=10, dtype="float32")
    assert x8.dtype == np.uint8 and x32.dtype == np.float32 and len(y) == 10
    np.testing.assert_allclose(x32, x8 / 255, rtol=1e-6)


def test_writer_rejects_blocks_that_do_not_fit(tmp_path):
    with datasets.HDF5Writer(tmp_path / "toy.h5", (8, 8, 3), ["a", "b"]) as writer:
        good = np.zeros((2, 8, 8, 3), np.uint8)
        with pytest.raises(ValueError, match=r"toy.h5:/train: expected uint8 images"):
            writer.append("train", good.astype(np.float32), [0, 1], [0, 1])
        with pytest.raises(ValueError, match=r"toy.h5:/train: expected uint8 images"):
            writer.append("train", np.zeros((2, 9, 8, 3), np.uint8), [0, 1], [0, 1])
        with pytest.raises(ValueError, match="same length"):
            writer.append("train", good, [0], [0, 1])
        with pytest.raises(ValueError, match=r"label 2 is out of range for 2 classes"):
            writer.append("train", good, [0, 2], [0, 1])
        writer.append("train", good, [1, 0], [5, 6])
        writer.append("train", good, [0, 0], [7, 8])
    with h5py.File(tmp_path / "toy.h5", "r") as file:
        assert file["train/images"].shape == (4, 8, 8, 3)
        assert list(file["train/ids"][:]) == [5, 6, 7, 8]


def test_check_hdf5_names_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No HDF5 file at .*nothing.h5"):
        datasets.check_hdf5(tmp_path / "nothing.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"text.h5 is not an HDF5 file .*images_to_hdf5.py"):
        datasets.check_hdf5(tmp_path / "text.h5")
    with datasets.HDF5Writer(tmp_path / "partial.h5", (4, 4, 3), ["a"]) as writer:
        writer.append("train", np.zeros((1, 4, 4, 3), np.uint8), [0], [0])
    with pytest.raises(ValueError, match=r"partial.h5 has no dataset /valid/images"):
        datasets.check_hdf5(tmp_path / "partial.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as file:
        file["train_img"] = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match=r"foreign.h5 has no 'class_names' attribute"):
        datasets.check_hdf5(tmp_path / "foreign.h5")


def test_course_hdf5_uses_a_users_file(ci_data, tmp_path, monkeypatch):
    assert datasets.course_hdf5(progress=False) == ci_data["hdf5"]
    monkeypatch.setenv(datasets.USER_HDF5_ENV, str(tmp_path / "food.h5"))
    with pytest.raises(FileNotFoundError, match="food.h5"):
        datasets.course_hdf5()
    monkeypatch.setenv(datasets.USER_HDF5_ENV, str(ci_data["hdf5"]))
    assert datasets.course_hdf5() == ci_data["hdf5"]


def test_manifest_records_what_was_built(ci_data):
    manifest = json.loads((ci_data["hdf5"].parent / "course.h5.manifest.json").read_text())
    assert manifest["split_sizes"] == CI.split_sizes and manifest["seed"] == config.SEED
    assert isinstance(pd.read_csv(ci_data["bcolz"] / "index.csv"), pd.DataFrame)
