import h5py
import numpy as np
import pytest

from course_lib import config
from course_lib.formats import hdf5

CI = config.get_profile("ci")


def test_unknown_split():
    with pytest.raises(ValueError, match="Unknown split 'validation'.*'train', 'valid', 'test'"):
        hdf5.load_split("unused.h5", "validation")


def test_load_split_scales_to_float32_in_place(ci_data):
    x8, y = hdf5.load_split(ci_data["hdf5"], "train", limit=10)
    x32, _ = hdf5.load_split(ci_data["hdf5"], "train", limit=10, dtype="float32")
    assert x8.dtype == np.uint8 and x32.dtype == np.float32 and len(y) == 10
    np.testing.assert_allclose(x32, x8 / 255, rtol=1e-6)


def test_writer_rejects_blocks_that_do_not_fit(tmp_path):
    with hdf5.HDF5Writer(tmp_path / "toy.h5", (8, 8, 3), ["a", "b"]) as writer:
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
        hdf5.check_hdf5(tmp_path / "nothing.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"text.h5 is not an HDF5 file .*images_to_hdf5.py"):
        hdf5.check_hdf5(tmp_path / "text.h5")
    with hdf5.HDF5Writer(tmp_path / "partial.h5", (4, 4, 3), ["a"]) as writer:
        writer.append("train", np.zeros((1, 4, 4, 3), np.uint8), [0], [0])
    with pytest.raises(ValueError, match=r"partial.h5 has no dataset /valid/images"):
        hdf5.check_hdf5(tmp_path / "partial.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as file:
        file["train_img"] = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match=r"foreign.h5 has no 'class_names' attribute"):
        hdf5.check_hdf5(tmp_path / "foreign.h5")
