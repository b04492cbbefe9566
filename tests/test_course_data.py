import dataclasses
import json
import shutil
from collections import namedtuple

import bcolz
import h5py
import numpy as np
import pandas as pd
import pytest

from course_lib import config
from course_lib.course import course_data, synthetic
from course_lib.formats import atomic, hdf5, npy

CI = config.get_profile("ci")


def test_hdf5_layout_holds_every_sample_once(ci_data):
    info = hdf5.check_hdf5(ci_data["hdf5"])
    assert info["split_sizes"] == CI.split_sizes
    assert info["image_shape"] == CI.image_shape
    assert info["class_names"] == list(config.CLASS_NAMES)
    with h5py.File(ci_data["hdf5"], "r") as file:
        ids = np.concatenate([file[s]["ids"][:] for s in config.SPLITS])
        assert np.array_equal(ids, np.arange(CI.n_samples))
        images = file["train"]["images"]
        assert images.chunks == (CI.chunk_rows, *CI.image_shape)
        valid = course_data.split_ranges("ci")["valid"]
        assert np.array_equal(
            file["valid"]["images"][:], synthetic.images(valid.start, valid.stop, 32, config.SEED)
        )
        assert np.array_equal(
            file["valid"]["labels"][:], synthetic.labels(valid.start, valid.stop, config.SEED)
        )


def test_npy_layout_matches_the_hdf5_layout(ci_data):
    partition, labels = npy.read_partition(ci_data["npy"])
    assert {s: len(ids) for s, ids in partition.items()} == CI.split_sizes
    names = [n for s in config.SPLITS for n in partition[s]]
    assert len(set(names)) == CI.n_samples
    x, y = hdf5.load_split(ci_data["hdf5"], "test")
    for position in (0, 17, len(y) - 1):
        name = partition["test"][position]
        assert np.array_equal(np.load(ci_data["npy"] / f"{name}.npy"), x[position])
        assert labels[name] == y[position]


def test_feature_matrix_row_i_belongs_to_sample_i(ci_data):
    matrix = course_data.open_features("ci")
    index = course_data.read_index("ci")
    assert matrix.shape == (CI.n_samples, CI.n_features)
    assert list(index.columns) == ["id", "name", "split", "label", "npy_path"]
    assert np.array_equal(index["id"], np.arange(CI.n_samples))
    assert np.array_equal(index["label"], synthetic.labels(0, CI.n_samples, config.SEED))
    assert index.groupby("split").size().to_dict() == CI.split_sizes
    for row in (0, 1000, CI.n_samples - 1):
        assert np.array_equal(
            matrix[row], synthetic.features(row, row + 1, CI.n_features, config.SEED)[0]
        )
    assert (ci_data["bcolz"].parent / index["npy_path"][5]).is_file()


def test_ensure_is_idempotent(ci_data):
    before = {p: p.stat().st_mtime_ns for p in ci_data.values()}
    assert course_data.ensure_all("ci", progress=False) == ci_data
    assert {p: p.stat().st_mtime_ns for p in ci_data.values()} == before


def _small_profile():
    return config.Profile(
        "ci",
        n_train=300,
        n_valid=100,
        n_test=100,
        image_size=16,
        n_features=8,
        batch_size=32,
        epochs=1,
        demo_epochs=1,
        block_size=128,
        chunk_rows=32,
    )


@pytest.mark.parametrize("layout", course_data.LAYOUTS)
def test_interrupted_build_is_detected_and_rebuilt(fresh_data_dir, layout, capsys, monkeypatch):
    profile = _small_profile()
    path = course_data.layout_path(layout, profile)
    # An interrupted run never leaves a layout that looks complete.
    record = course_data.LAYOUTS[layout]

    def interrupted(partial, *args):
        record.write(partial, *args)
        raise KeyboardInterrupt

    monkeypatch.setitem(course_data.LAYOUTS, layout, dataclasses.replace(record, write=interrupted))
    with pytest.raises(KeyboardInterrupt):
        course_data.ensure_layout(layout, profile, progress=False)
    monkeypatch.setitem(course_data.LAYOUTS, layout, record)
    assert course_data.layout_status(layout, profile) == "missing"  # Ctrl-C cleans up
    # A process killed outright (no Python cleanup) leaves its .partial behind.
    record.write(atomic.partial_path(path), profile, False)
    assert course_data.layout_status(layout, profile) == "incomplete"
    course_data.ensure_layout(layout, profile, progress=False)
    assert "incomplete; rebuilding" in capsys.readouterr().out
    assert course_data.layout_status(layout, profile) == "complete"
    assert not path.with_name(path.name + ".partial").exists()


def test_a_layout_without_its_manifest_is_not_used(fresh_data_dir):
    profile = _small_profile()
    path = course_data.ensure_layout("npy", profile, progress=False)
    path.with_name(path.name + ".manifest.json").unlink()
    assert course_data.layout_status("npy", profile) == "incomplete"


def test_truncated_hdf5_is_damaged_and_rebuilt(fresh_data_dir, capsys):
    profile = _small_profile()
    path = course_data.ensure_layout("hdf5", profile, progress=False)
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.truncate(size // 2)
    assert course_data.layout_status("hdf5", profile).startswith("damaged")
    course_data.ensure_layout("hdf5", profile, progress=False)
    assert "damaged" in capsys.readouterr().out
    assert path.stat().st_size == size
    assert hdf5.check_hdf5(path)["split_sizes"] == profile.split_sizes


def test_missing_npy_file_is_damaged(fresh_data_dir):
    profile = _small_profile()
    folder = course_data.ensure_layout("npy", profile, progress=False)
    (folder / "id-000007.npy").unlink()
    assert course_data.layout_status("npy", profile).startswith("damaged")


def test_data_built_for_other_settings_is_stale(fresh_data_dir):
    profile = _small_profile()
    course_data.ensure_layout("bcolz", profile, progress=False)
    wider = config.Profile(**{**profile.__dict__, "n_features": 9})
    assert course_data.layout_status("bcolz", wider) == "stale"
    matrix = bcolz.open(
        str(
            course_data.ensure_layout("bcolz", wider, progress=False)
            / course_data.FEATURE_MATRIX_NAME
        )
    )
    assert matrix.shape == (profile.n_samples, 9)


def test_not_enough_disk_space_is_a_clear_error(fresh_data_dir, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10, 10, 1000))
    with pytest.raises(OSError, match=r"Not enough disk space.*GiB.*COURSE_DATA_DIR"):
        course_data.ensure_layout("hdf5", _small_profile(), progress=False)


def test_unknown_layout():
    with pytest.raises(ValueError, match="Unknown layout 'zarr'.*'hdf5', 'npy', 'bcolz'"):
        course_data.layout_path("zarr", "ci")


def test_course_hdf5_uses_a_users_file(ci_data, tmp_path, monkeypatch):
    assert course_data.course_hdf5(progress=False) == ci_data["hdf5"]
    monkeypatch.setenv(course_data.USER_HDF5_ENV, str(tmp_path / "food.h5"))
    with pytest.raises(FileNotFoundError, match="food.h5"):
        course_data.course_hdf5()
    monkeypatch.setenv(course_data.USER_HDF5_ENV, str(ci_data["hdf5"]))
    assert course_data.course_hdf5() == ci_data["hdf5"]


def test_manifest_records_what_was_built(ci_data):
    manifest = json.loads((ci_data["hdf5"].parent / "course.h5.manifest.json").read_text())
    assert manifest["split_sizes"] == CI.split_sizes and manifest["seed"] == config.SEED
    assert isinstance(pd.read_csv(ci_data["bcolz"] / "index.csv"), pd.DataFrame)
