"""What PyDataset workers cost (`measure.workers`): own memory against RSS, and the growth
of a loader holding one Python object per sample."""

import numpy as np
import pytest

from course_lib import measure
from course_lib.measure import workers

# Runs on both backends: workers fork a process that has the backend loaded (JAX warns).
pytestmark = pytest.mark.backend


def test_smaps_rollup_orders_uss_pss_rss():
    memory = measure.smaps_rollup_mib()
    assert 0 < memory["uss"] <= memory["pss"] <= memory["rss"]


def test_in_memory_dataset_serves_each_sample_once_whatever_it_holds():
    images = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    labels = np.arange(10)
    for holds in ("array", "arrays", "bytes"):
        loader = workers.InMemoryDataset(images, labels, batch_size=5, holds=holds)
        batches = [loader[i] for i in range(len(loader))]
        seen = np.concatenate([y for _, y in batches])
        assert sorted(seen) == list(range(10))
        for x, y in batches:
            np.testing.assert_array_equal(x, images[y])


def test_a_worker_holds_little_of_its_own_unless_the_loader_holds_objects_per_sample(ci_data):
    holdings = ("a path (HDF5Dataset)", "a list of per-sample bytes")
    costs = workers.worker_memory("ci", workers=(2,), holdings=holdings, kinds=("processes",))
    assert list(costs.holding) == list(holdings)
    assert (costs["worker USS MiB"] < costs["worker PSS MiB"]).all()
    assert (costs["worker PSS MiB"] < costs["worker RSS MiB"]).all()
    path, per_sample = costs["worker USS growth MiB"]
    # copy-on-access: each sample read writes its reference count, so its page is copied
    # (2.9-3.2 MiB here, 2 workers; a path's worker grows by its file handle, 0.1-1.1 MiB)
    assert per_sample > max(2 * path, 1.5)


def test_batch_transfer_names_both_ways():
    transfer = workers.batch_transfer("ci", batches=20)
    assert list(transfer.worker) == ["thread", "process"]
    assert (transfer["MB/s"] > 0).all() and transfer["x thread"].iloc[0] == 1
