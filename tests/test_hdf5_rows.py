"""Row readers: the direct byte-offset path must return exactly what h5py returns."""

import os
import pickle

import h5py
import numpy as np
import pytest
import tables

from course_lib.formats.hdf5 import RowReader, read_rows, row_extents
from course_lib.loading.loaders import HDF5Dataset

ROWS = np.arange(300 * 5 * 2, dtype=np.int32).reshape(300, 5, 2)
POSITIONS = (
    [5],
    [0, 1, 2, 3],
    [1, 3, 40, 41, 42, 290],
    list(range(0, 300, 7)),
    list(range(30, 90)),
    [299],
    list(range(300)),
)


def write(path, data=ROWS, userblock_size=0, **options):
    with h5py.File(path, "w", userblock_size=userblock_size) as file:
        file.create_dataset("rows", data=data, **options)
    return path


def check_reader(path, name="rows", direct=True):
    with h5py.File(path, "r") as file:
        dataset = file[name]
        reader = RowReader(dataset)
        for positions in POSITIONS:
            positions = np.array(positions)
            assert np.array_equal(reader(positions), dataset[positions])
            assert reader(positions).dtype == dataset.dtype
        assert reader(np.array([], np.int64)).shape == (0, *dataset.shape[1:])
        assert reader.direct is direct
        reader.close()


@pytest.mark.parametrize(
    "options",
    [
        {"chunks": (16, 5, 2)},
        {"chunks": (7, 5, 2)},
        {"chunks": (300, 5, 2)},
        {},
        {"chunks": (16, 5, 2), "userblock_size": 512},
        {"data": ROWS.astype(">f8")},
        {"data": ROWS[:, 0, 0].astype(np.int64), "chunks": (64,)},
    ],
    ids=["chunks16", "chunks7", "one-chunk", "contiguous", "userblock", "big-endian", "1-d"],
)
def test_direct_reads_match_h5py(tmp_path, options):
    check_reader(write(tmp_path / "rows.h5", **options))


@pytest.mark.parametrize(
    "options",
    [
        {"chunks": (16, 5, 2), "compression": "gzip"},
        {"chunks": (16, 5, 2), "shuffle": True},
        {"chunks": (16, 5, 1)},
    ],
    ids=["gzip", "shuffle-filter", "chunk-splits-rows"],
)
def test_h5py_path_when_bytes_are_not_plain(tmp_path, options):
    check_reader(write(tmp_path / "rows.h5", **options), direct=False)


def test_partly_written_dataset_falls_back_to_h5py(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as file:
        dataset = file.create_dataset("rows", (300, 5, 2), np.int32, chunks=(16, 5, 2))
        dataset[:100] = ROWS[:100]  # chunks past row 112 were never written
    with h5py.File(path, "r") as file:
        assert row_extents(file["rows"]) is None
    check_reader(path, direct=False)


def test_pytables_earray_is_read_directly(tmp_path):
    path = tmp_path / "earray.h5"
    with tables.open_file(path, "w") as file:
        array = file.create_earray("/", "rows", tables.Int32Atom(), (0, 5, 2))
        for start in range(0, 300, 64):
            array.append(ROWS[start : start + 64])
    check_reader(path)


def test_read_rows_matches_fancy_indexing(ci_data):
    with h5py.File(ci_data["hdf5"], "r") as file:
        images = file["train/images"]
        for positions in POSITIONS[:4] + (list(range(0, 2048, 97)),):
            assert np.array_equal(read_rows(images, np.array(positions)), images[positions])


def test_course_file_is_read_directly_and_out_of_range_rows_raise(ci_data):
    with h5py.File(ci_data["hdf5"], "r") as file:
        reader = RowReader(file["valid/images"])
        assert reader.direct
        with pytest.raises(IndexError, match="valid/images"):
            reader(np.array([10, len(file["valid/images"])]))


def test_truncated_file_raises_instead_of_returning_garbage(tmp_path):
    path = write(tmp_path / "rows.h5", chunks=(16, 5, 2))
    with h5py.File(path, "r") as file:
        reader = RowReader(file["rows"])
        last = int(row_extents(file["rows"])[1][-1])
        os.truncate(path, last + 8)
        with pytest.raises(OSError, match="truncated"):
            reader(np.array([299]))


def test_loader_gives_the_same_batches_with_and_without_direct_reads(ci_data):
    direct, h5py_only = (
        HDF5Dataset(ci_data["hdf5"], batch_size=32, seed=3, direct_reads=flag)
        for flag in (True, False)
    )
    for index in (0, 7, len(direct) - 1):
        for a, b in zip(direct[index], h5py_only[index]):
            assert np.array_equal(a, b)
    assert direct.images.reader().direct and not h5py_only.images.reader().direct
    assert not pickle.loads(pickle.dumps(direct)).images.is_open


def test_chunks_laid_end_to_end_are_read_in_one_call_per_run(tmp_path):
    """A file of one-row chunks appended in order (PyTables's `chunkshape=(1, ...)`):
    a run of rows crosses chunks in one read; chunks elsewhere in the file do not join."""
    in_order = tmp_path / "in_order.h5"
    with tables.open_file(in_order, "w") as file:
        rows = file.create_earray("/", "rows", tables.Int32Atom(), (0, 5, 2), chunkshape=(1, 5, 2))
        for start in range(0, 300, 50):
            rows.append(ROWS[start : start + 50])
    reversed_chunks = tmp_path / "reversed.h5"
    with h5py.File(reversed_chunks, "w") as file:
        rows = file.create_dataset("rows", (300, 5, 2), np.int32, chunks=(1, 5, 2))
        for row in range(299, -1, -1):  # the last chunk is allocated first
            rows[row] = ROWS[row]
    for path, runs in ((in_order, 1), (reversed_chunks, 8)):
        check_reader(path)
        with h5py.File(path, "r") as file:
            reader = RowReader(file["rows"])
            assert len(reader._runs(np.arange(8, 16))) == runs
            assert np.array_equal(reader(np.arange(8, 16)), ROWS[8:16])
            reader.close()


def test_advise_asks_the_kernel_only_for_rows_not_in_the_page_cache(tmp_path, monkeypatch):
    from course_lib.measure import pagecache

    path = write(tmp_path / "rows.h5", data=np.zeros((4096, 64, 16), np.uint8), chunks=(64, 64, 16))
    asked = []
    real = os.posix_fadvise
    with h5py.File(path, "r") as file:
        reader = RowReader(file["rows"])
        batch = np.r_[np.arange(512, 520), np.arange(2048, 2056)]
        pagecache.evict(path)
        monkeypatch.setattr(
            os,
            "posix_fadvise",
            lambda fd, offset, length, advice: (
                asked.append(offset) or real(fd, offset, length, advice)
            ),
        )
        assert not reader._in_page_cache(512)  # RWF_NOWAIT: not cached, and no wait
        reader.advise(batch)
        assert len(asked) == 2  # one per run
        reader(batch)  # now cached
        assert reader._in_page_cache(512) and reader._in_page_cache(2055)
        reader.advise(batch)
        assert len(asked) == 2  # nothing asked again
        reader.close()
