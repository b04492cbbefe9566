import numpy as np
import pytest

from course_lib.sampling import BatchSampler, mixing_distance


@pytest.mark.parametrize("strategy", ["none", "full", "block"])
@pytest.mark.parametrize("n, batch", [(1000, 64), (1024, 64), (5, 64), (1, 1), (130, 32)])
def test_every_sample_once_and_last_batch_kept(strategy, n, batch):
    sampler = BatchSampler(n, batch, strategy, seed=3, block_size=16, window=64)
    for epoch in range(3):
        batches = sampler.batches(epoch)
        assert len(batches) == len(sampler) == -(-n // batch)
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))
        assert all(np.all(np.diff(b) > 0) for b in batches)  # sorted for h5py
        assert all(len(b) == batch for b in batches[:-1])
        assert len(batches[-1]) == n - batch * (len(batches) - 1)


def test_drop_last_drops_only_the_partial_batch():
    sampler = BatchSampler(130, 32, "full", seed=0, drop_last=True)
    batches = sampler.batches(0)
    assert len(sampler) == len(batches) == 4 and all(len(b) == 32 for b in batches)
    assert len(np.unique(np.concatenate(batches))) == 128
    with pytest.raises(ValueError, match="leaves no batch at all"):
        BatchSampler(10, 32, drop_last=True)


@pytest.mark.parametrize("strategy", ["full", "block"])
def test_new_order_each_epoch_reproducible_from_the_seed(strategy):
    first = BatchSampler(500, 50, strategy, seed=11)
    again = BatchSampler(500, 50, strategy, seed=11)
    other = BatchSampler(500, 50, strategy, seed=12)
    orders = [first.order(e) for e in range(3)]
    assert not np.array_equal(orders[0], orders[1])
    assert all(np.array_equal(orders[e], again.order(e)) for e in range(3))
    assert not np.array_equal(orders[0], other.order(0))


def test_none_keeps_file_order():
    assert np.array_equal(BatchSampler(7, 3, "none").order(5), np.arange(7))


def test_block_batches_are_a_few_contiguous_runs():
    sampler = BatchSampler(4096, 64, "block", seed=0, block_size=32)
    for batch in sampler.batches(0):
        runs = 1 + np.count_nonzero(np.diff(batch) != 1)
        assert runs <= 2
        assert all(start % 32 == 0 for start in batch[np.r_[0, np.flatnonzero(np.diff(batch) != 1) + 1]])


def test_chunk_grouping_keeps_few_chunks_in_flight_and_every_sample_once():
    for n in (5000, 4096):
        sampler = BatchSampler(n, 64, "block", seed=1, block_size=32, chunk_rows=256)
        for epoch in range(3):
            assert sorted(np.concatenate(sampler.batches(epoch))) == list(range(n))
    for epoch in range(3):
        order = sampler.order(epoch)
        for start in range(0, len(order), 1024):  # 4 chunks of 256 positions
            assert len(np.unique(order[start:start + 1024] // 256)) <= 4
    labels = np.repeat([0, 1, 2], 2000)
    grouped = BatchSampler(6000, 64, "block", seed=0, block_size=32, chunk_rows=256)
    plain = BatchSampler(6000, 64, "block", seed=0, block_size=32)
    # Batches still take their two blocks from random chunks: mixing barely changes.
    assert abs(mixing_distance(labels, grouped.batches(0))
               - mixing_distance(labels, plain.batches(0))) < 0.05


def test_mixing_quality_orders_the_strategies():
    labels = np.repeat([0, 1, 2], 2000)  # class-sorted, the worst case
    distance = {}
    for name, kwargs in {"none": {}, "block": {"block_size": 32},
                         "block, window 16 batches": {"block_size": 32, "window": 1024},
                         "full": {}}.items():
        sampler = BatchSampler(len(labels), 64, name.split(",")[0], seed=0, **kwargs)
        distance[name] = mixing_distance(labels, sampler.batches(0))
    assert distance["none"] > 0.6
    assert distance["full"] < distance["block, window 16 batches"] < distance["block"] < distance["none"]
    assert distance["full"] < 0.1


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Unknown shuffle strategy 'random'"):
        BatchSampler(10, 2, "random")
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, received 0"):
        BatchSampler(10, 0)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, received 2.5"):
        BatchSampler(10, 2.5)
    with pytest.raises(ValueError, match="multiple of block_size"):
        BatchSampler(100, 10, "block", block_size=8, window=20)
    with pytest.raises(ValueError, match="chunk_rows .100. must be a multiple of block_size"):
        BatchSampler(1000, 64, "block", block_size=32, chunk_rows=100)


@pytest.mark.parametrize("strategy", ["none", "full", "block"])
@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_shards_are_disjoint_and_cover_every_position_each_epoch(strategy, count):
    n = 1001
    samplers = [BatchSampler(n, 32, strategy, seed=5, shard=(i, count)) for i in range(count)]
    for epoch in range(3):
        parts = [np.concatenate(s.batches(epoch)) for s in samplers]
        assert sorted(np.concatenate(parts)) == list(range(n))  # disjoint and complete
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1
        assert all(len(s) == len(s.batches(epoch)) for s in samplers)
    if strategy != "none":
        assert not np.array_equal(np.concatenate(samplers[0].batches(0)),
                                  np.concatenate(samplers[0].batches(1)))


def test_shard_arguments_are_checked():
    with pytest.raises(ValueError, match="0 <= index < count"):
        BatchSampler(100, 10, "full", seed=1, shard=(2, 2))
    with pytest.raises(ValueError, match="shared seed"):
        BatchSampler(100, 10, "full", shard=(0, 2))
