"""Row sources: one lazy, per-process handle; read(sorted positions); pickled as a path."""

import multiprocessing
import os
import pickle

import h5py
import numpy as np
import pytest

from course_lib.formats.hdf5 import HDF5Rows
from course_lib.formats.npy import NpyFiles
from course_lib.formats.sources import PerProcess


@pytest.fixture
def rows_file(tmp_path):
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset(
            "x", data=np.arange(300, dtype=np.int32)[:, None].repeat(4, 1), chunks=(32, 4)
        )
        file["small"] = np.arange(300) % 3
        file["squeezed"] = np.arange(300, dtype=np.float32)[:, None].repeat(4, 1)
    return path


def _pid_of_handle(handle, queue):
    queue.put(handle.get(os.getpid))


def test_one_handle_per_process_and_a_fresh_one_after_fork():
    handle = PerProcess()
    opened = []
    assert handle.get(lambda: opened.append(1) or os.getpid()) == os.getpid()
    handle.get(lambda: opened.append(2))
    assert opened == [1] and handle.is_open
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_pid_of_handle, args=(handle, queue))
    child.start()
    assert queue.get(timeout=30) == child.pid  # the child opened its own
    child.join()
    copy = pickle.loads(pickle.dumps(handle))
    assert not copy.is_open and copy.get(lambda: "new") == "new"


def test_hdf5_rows_read_sorted_positions_and_pickle_as_a_path(rows_file):
    source = HDF5Rows(rows_file, "x")
    assert len(source) == 300 and source.shape == (300, 4)
    assert source.read([3, 4, 200])[:, 0].tolist() == [3, 4, 200]
    assert source.reader().direct  # uncompressed: straight from byte offsets
    copy = pickle.loads(pickle.dumps(source))
    assert not copy.is_open and len(pickle.dumps(source)) < 1000
    assert copy.read([299])[0, 0] == 299
    small = HDF5Rows(rows_file, "small", cache_bytes=2**20)
    assert small.read([0, 4])[:].tolist() == [0, 1]
    assert not isinstance(small.reader(), type(source.reader()))  # served from memory
    assert small.read_all().tolist() == (np.arange(300) % 3).tolist()


def test_hdf5_rows_name_the_datasets_a_file_has(rows_file):
    with pytest.raises(
        ValueError,
        match=r"rows.h5 has no dataset 'images'. Datasets in the "
        r"file: small, squeezed, x. Pass the right name",
    ):
        HDF5Rows(rows_file, "images", hint="Pass the right name.")


def test_npy_files_read_by_position(tmp_path):
    for name in ("a", "b", "c"):
        np.save(tmp_path / f"{name}.npy", np.full((2, 2), ord(name)))
    files = NpyFiles(tmp_path, ["c", "a", "b"])
    assert len(files) == 3 and files.read([0, 2])[:, 0, 0].tolist() == [ord("c"), ord("b")]
    with pytest.raises(FileNotFoundError, match=r"Missing sample file .*d.npy"):
        NpyFiles(tmp_path, ["d"]).read([0])
