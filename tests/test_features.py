"""Feature stores: every format reads back what was written; bad input fails loudly."""

import pickle

import numpy as np
import pytest

from course_lib.course import course_data
from course_lib.formats.features import ChunkReader, FeatureStore, format_of, write_features

N, WIDTH = 1000, 6
VALUES = np.arange(N, dtype=np.float32)[:, None] * np.ones((1, WIDTH), np.float32)


def blocks(matrix, size=300):
    return ((start, matrix[start : start + size]) for start in range(0, len(matrix), size))


@pytest.fixture(params=[".bcolz", ".b2nd", ".zarr", ".npy"])
def store_path(request, tmp_path):
    return write_features(
        tmp_path / f"rows{request.param}", blocks(VALUES), N, WIDTH, chunk_rows=64
    )


def test_every_format_reads_back_row_i_as_i(store_path):
    store = FeatureStore(store_path)
    assert store.shape == (N, WIDTH) and store.format == format_of(store_path)
    reader = ChunkReader(store, cache_chunks=2)
    rows = np.sort(np.random.default_rng(0).choice(N, 100, replace=False))
    assert np.array_equal(reader.read(rows)[:, 0], rows)
    assert np.array_equal(store.gather(rows)[:, 0], rows)
    assert np.array_equal(reader.read(np.arange(N))[:, 3], np.arange(N))
    cache, _ = reader._per_process.get(None)
    assert len(cache) <= 2


def test_store_from_an_open_array_and_pickles_as_a_path(store_path):
    store = FeatureStore(store_path)
    again = FeatureStore(store.array)
    assert again.path == store.path and again.format == store.format
    copy = pickle.loads(pickle.dumps(ChunkReader(store)))
    assert not copy.store._handle.is_open and len(pickle.dumps(copy)) < 2000
    assert np.array_equal(copy.read(np.array([5, 999]))[:, 0], [5, 999])


def test_course_bcolz_matrix_is_chunk_readable(ci_data):
    store = FeatureStore(ci_data["bcolz"] / course_data.FEATURE_MATRIX_NAME)
    assert store.format == "bcolz" and store.chunk_rows > 1
    assert np.array_equal(ChunkReader(store).read(np.array([0, 7])), store.gather([0, 7]))


def test_missing_store_and_in_memory_arrays_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.bcolz. Check the path. Write it with"):
        FeatureStore(tmp_path / "no_such.bcolz")
    with pytest.raises(TypeError, match="np.load"):
        FeatureStore(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="features.bcolz"):
        FeatureStore(tmp_path / "features.txt")


def test_nan_rows_are_reported_by_row(tmp_path):
    broken = VALUES.copy()
    broken[130, 2] = np.nan
    path = write_features(tmp_path / "nan.zarr", blocks(broken), N, WIDTH, chunk_rows=64)
    reader = ChunkReader(path)
    assert np.array_equal(reader.read(np.array([0, 1]))[:, 0], [0, 1])  # other chunks are fine
    assert np.array_equal(reader.read(np.array([129, 131]))[:, 0], [129, 131])  # and its neighbours
    with pytest.raises(ValueError, match=r"NaN in feature row\(s\) \[130\] of this batch"):
        reader.read(np.array([129, 130]))
    assert FeatureStore(path).nan_rows().tolist() == [130]


def test_rows_out_of_range_and_blocks_out_of_order(tmp_path, store_path):
    with pytest.raises(IndexError, match="outside"):
        ChunkReader(store_path).read(np.array([N]))
    with pytest.raises(ValueError, match="expected a block at row 0"):
        write_features(tmp_path / "x.npy", [(10, VALUES[:5])], N, WIDTH)
    with pytest.raises(ValueError, match="wrote 300 rows"):
        write_features(tmp_path / "y.b2nd", [(0, VALUES[:300])], N, WIDTH)
