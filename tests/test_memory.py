import numpy as np
import pytest

from course_lib.measure import memory, memory_use


def test_peak_increase_sees_an_allocation():
    increase = memory.peak_increase_mib(lambda: np.ones(64 * 2**20, np.uint8).sum())
    assert 60 < increase < 80


def test_peak_increase_sees_a_short_lived_copy():
    def convert():
        small = np.ones(16 * 2**20, np.uint8)
        return float(small.astype(np.float32).sum())  # 16 + 64 MiB at once

    assert 72 < memory.peak_increase_mib(convert) < 100


@pytest.mark.parametrize(
    "layout, large_n",
    [
        ("hdf5", 16384),
        ("npy", 16384),
        ("bcolz", 16384),
        # JPEG encoding makes these slower to write: 4x the data instead of 8x
        ("images", 8192),
        ("hdf5_jpeg", 8192),
        # 8x: at 4x, 10% of the growth (7 MiB) is within a TensorFlow process's noise on a
        # loaded machine (one CI run: 7.9 MiB; here, unloaded: 2.7 MiB)
        ("records", 16384),
    ],
)
def test_writer_peak_memory_does_not_grow_with_the_dataset(layout, large_n):
    small = memory_use.writer_peak_memory(layout, 2048)
    large = memory_use.writer_peak_memory(layout, large_n)
    data_growth = large["data_mib"] - small["data_mib"]
    print(layout, small, large)
    assert large["peak_mib"] - small["peak_mib"] < 0.1 * data_growth
