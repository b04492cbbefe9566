"""What PyDataset workers cost (`measure.workers`): own memory against RSS, and the growth
of a loader holding one Python object per sample."""

import multiprocessing

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
    holdings = ("one numpy array", "a list of per-sample bytes")
    forked = multiprocessing.get_start_method() == "fork"
    # A spawned worker shares no page: one epoch shows its cost (as lesson 04 does).
    costs = workers.worker_memory(
        "ci", workers=(2,), holdings=holdings, kinds=("processes",), epochs=2 if forked else 1
    )
    assert list(costs.holding) == list(holdings)
    assert (costs["worker USS MiB"] < costs["worker PSS MiB"]).all()
    assert (costs["worker PSS MiB"] < costs["worker RSS MiB"]).all()
    assert set(costs["start method"]) == {multiprocessing.get_start_method()}
    one_array, per_sample = costs["worker USS growth MiB"]
    if forked:
        # copy-on-access: each sample read writes its reference count, so its page is copied
        # (2.9-3.4 MiB here, 2 workers; one array's workers 0.1-0.4 MiB). A path's worker
        # grows by its HDF5 chunk cache, up to 1 MiB a dataset: too close on ci data.
        assert per_sample > max(2 * one_array, 1.5)


def test_batch_transfer_names_both_ways():
    transfer = workers.batch_transfer("ci", batches=20)
    assert list(transfer.worker) == ["thread", "process"]
    assert list(transfer["a copy"]) == [False, True]  # a thread hands over the worker's array
    assert (transfer["MB/s"] > 0).all() and transfer["x thread"].iloc[0] == 1
