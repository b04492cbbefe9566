"""Evicting files from the page cache, and refusing a cold figure when it fails."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from course_lib.measure import cold, pagecache


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(np.random.default_rng(0).bytes(8 * 2**20))
    return path


def test_a_read_file_is_resident_and_eviction_drops_it(data_file):
    data_file.read_bytes()
    assert pagecache.resident_fraction(data_file) > 0.9
    assert pagecache.evict(data_file) <= pagecache.RESIDENT_LIMIT
    assert pagecache.resident_fraction(data_file) <= pagecache.RESIDENT_LIMIT
    data_file.read_bytes()
    assert pagecache.resident_fraction(data_file) > 0.9


def test_a_folder_is_evicted_file_by_file(tmp_path, data_file):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.bin").write_bytes(b"x" * 2**20)
    for path in pagecache.files_of(tmp_path):
        path.read_bytes()
    pagecache.evict(tmp_path)
    assert pagecache.resident_fraction(tmp_path) <= pagecache.RESIDENT_LIMIT


def test_dirty_pages_are_written_before_eviction(tmp_path):
    path = tmp_path / "fresh.bin"
    with open(path, "wb") as file:
        file.write(b"y" * 4 * 2**20)  # not yet on disk: dirty pages
    pagecache.evict(path)
    assert pagecache.resident_fraction(path) <= pagecache.RESIDENT_LIMIT
    assert path.read_bytes() == b"y" * 4 * 2**20


def test_a_file_that_stays_cached_is_an_error(data_file, monkeypatch):
    monkeypatch.setattr(pagecache, "resident_fraction", lambda path: 1.0)
    with pytest.raises(pagecache.EvictionFailed, match="data.bin: 100% .* still in the page"):
        pagecache.evict(data_file)


def test_pages_that_land_after_the_drop_are_dropped_again(data_file, monkeypatch):
    residency = iter([0.6, 0.3, 0.0])  # a readahead still in flight, then done
    monkeypatch.setattr(pagecache, "resident_fraction", lambda path: next(residency))
    monkeypatch.setattr(pagecache, "SETTLE_SECONDS", (0.0, 0.0, 0.0))
    assert pagecache.evict(data_file) == 0.0
    assert next(residency, "all read") == "all read"


HINTING_READER = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
stop = time.monotonic() + float(sys.argv[2])
print("reading", flush=True)
while time.monotonic() < stop:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
"""


def test_a_file_still_being_read_ahead_is_cold_once_the_reads_stop(data_file):
    # Without the waits, about one eviction in four during these 0.1 s fails here.
    reader = subprocess.Popen(
        [sys.executable, "-c", HINTING_READER, str(data_file), "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline() == "reading\n"
        assert pagecache.evict(data_file) <= pagecache.RESIDENT_LIMIT
    finally:
        reader.wait()


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no tmpfs at /dev/shm")
def test_tmpfs_cannot_be_evicted():
    path = "/dev/shm/course-pagecache-test.bin"
    with open(path, "wb") as file:
        file.write(b"z" * 2**20)
    try:
        with pytest.raises(pagecache.EvictionFailed, match="tmpfs"):
            pagecache.evict(path)
    finally:
        os.unlink(path)


def test_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        pagecache.evict(tmp_path / "nothing-here")


def test_no_cold_figure_when_eviction_fails(data_file, monkeypatch):
    def refuse(path):
        raise pagecache.EvictionFailed(f"{path}: still cached")

    monkeypatch.setattr(pagecache, "evict", refuse)
    row = cold.measure_reader(data_file.read_bytes, [data_file], 8 * 2**20, samples=100)
    assert "cold MB/s" not in row and "cold samples/s" not in row
    assert row["note"].startswith("no cold figure: ") and "still cached" in row["note"]
    assert row["warm MB/s"] > 0


def test_cold_figures_when_eviction_works(data_file):
    row = cold.measure_reader(
        lambda: cold.read_sequentially([data_file]), [data_file], 8 * 2**20, samples=100, repeat=1
    )
    assert row["note"] == "" and row["cold MB/s"] > 0 and row["warm MB/s"] > 0
    assert cold.disk_bandwidth(data_file, repeat=1) > 0
    assert "x disk" not in row  # no disk figure asked for, no ratio


def test_each_cold_epoch_is_paired_with_a_disk_read(data_file, monkeypatch):
    disks = iter([900.0, 1000.0, 1100.0])  # the disk drifts between the cold epochs
    seconds = iter([1.0, 0.5, 2.0, 0.25, 0.25, 0.25])  # three cold epochs, three warm
    monkeypatch.setattr(cold, "disk_bandwidth", lambda path, repeat: next(disks))
    monkeypatch.setattr(cold, "timed", lambda run, evict_paths=(): next(seconds))
    row = cold.measure_reader(
        lambda: None, [data_file], 10**9, samples=100, repeat=3, disk_file=data_file
    )
    ratios = [1000 / 900, 2000 / 1000, 500 / 1100]  # each epoch's MB/s against its own disk read
    assert row["disk MB/s"] == 1000.0
    assert row["x disk"] == pytest.approx(np.median(ratios))
    assert (row["x disk min"], row["x disk max"]) == pytest.approx((min(ratios), max(ratios)))
    assert row["cold MB/s"] == pytest.approx(2000.0) and row["warm MB/s"] == pytest.approx(4000.0)


def test_cpu_per_gigabyte_counts_every_thread(data_file):
    def busy_threads():  # two threads burning CPU while "reading"
        def spin():
            deadline = time.thread_time() + 0.25
            while time.thread_time() < deadline:
                pass

        threads = [threading.Thread(target=spin) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    row = cold.measure_reader(busy_threads, [data_file], 10**9, samples=100, repeat=1)
    # 2 threads x 0.25 s per (pretend) GB; os.times() counts in clock ticks (10 ms here)
    assert row["CPU s/GB"] >= 0.45


def test_plain_reads_replay_exactly_the_bytes_a_loader_reads(ci_data):
    from course_lib.loading import HDF5Dataset

    loader = HDF5Dataset(ci_data["hdf5"], batch_size=64, shuffle="block", seed=2)
    ranges = cold.epoch_ranges(loader)
    row_bytes = int(np.prod(loader.images.shape[1:]))
    assert sum(size for _, _, size in ranges) == len(loader.images) * row_bytes
    assert cold.plain_reads(ranges) == len(loader.images) * row_bytes
    with open(ci_data["hdf5"], "rb") as file:  # the first run holds the first batch's first rows
        path, offset, size = ranges[0]
        file.seek(offset)
        first = np.frombuffer(file.read(size), np.uint8).reshape(-1, *loader.images.shape[1:])
    assert np.array_equal(first, loader[0][0][: len(first)])
    assert (
        cold.epoch_ranges(HDF5Dataset(ci_data["hdf5"], batch_size=64, direct_reads=False)) is None
    )


def test_each_cold_epoch_is_paired_with_plain_reads_of_its_bytes(data_file, monkeypatch):
    seconds = iter([1.0, 2.0, 1.0, 1.0, 3.0, 2.0, 0.5, 0.5, 0.5])  # plain, reader, x3; warm x3
    monkeypatch.setattr(cold, "timed", lambda run, evict_paths=(): next(seconds))
    row = cold.measure_reader(
        lambda: None, [data_file], 10**9, samples=100, repeat=3, ranges=[(data_file, 0, 1)]
    )
    assert row["x plain preadv"] == pytest.approx(np.median([0.5, 1.0, 1.5]))
