import pickle

import numpy as np
import pytest

from course_lib.loading.sampling import BatchSampler, mixing_distance


def sorted_labels(n, shares=(1, 1, 1)):
    """Class indices sorted by class, the shape of a file appended class by class."""
    cuts = np.cumsum(shares) / np.sum(shares) * n
    return np.searchsorted(cuts, np.arange(n), side="right")


@pytest.mark.parametrize("strategy", ["none", "full", "block", "stratified"])
@pytest.mark.parametrize("n, batch", [(1000, 64), (1024, 64), (5, 64), (1, 1), (130, 32)])
def test_every_sample_once_and_last_batch_kept(strategy, n, batch):
    sampler = BatchSampler(
        n, batch, strategy, seed=3, block_size=16, window=64, labels=sorted_labels(n)
    )
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


@pytest.mark.parametrize("strategy", ["full", "block", "stratified"])
def test_new_order_each_epoch_reproducible_from_the_seed(strategy):
    labels = sorted_labels(500)
    first = BatchSampler(500, 50, strategy, seed=11, labels=labels)
    again = BatchSampler(500, 50, strategy, seed=11, labels=labels)
    other = BatchSampler(500, 50, strategy, seed=12, labels=labels)
    orders = [first.order(e) for e in range(3)]
    assert not np.array_equal(orders[0], orders[1])
    assert all(np.array_equal(orders[e], again.order(e)) for e in range(3))
    assert not np.array_equal(orders[0], other.order(0))


def test_none_keeps_file_order():
    assert np.array_equal(BatchSampler(7, 3, "none").order(5), np.arange(7))


@pytest.mark.parametrize("strategy", ["block", "stratified"])
def test_block_batches_are_a_few_contiguous_runs(strategy):
    sampler = BatchSampler(4096, 64, strategy, seed=0, block_size=32, labels=sorted_labels(4096))
    for batch in sampler.batches(0):
        runs = 1 + np.count_nonzero(np.diff(batch) != 1)
        assert runs <= 2
        assert all(
            start % 32 == 0 for start in batch[np.r_[0, np.flatnonzero(np.diff(batch) != 1) + 1]]
        )


def test_chunk_grouping_keeps_few_chunks_in_flight_and_every_sample_once():
    for n in (5000, 4096):
        sampler = BatchSampler(n, 64, "block", seed=1, block_size=32, chunk_rows=256)
        for epoch in range(3):
            assert sorted(np.concatenate(sampler.batches(epoch))) == list(range(n))
    for epoch in range(3):
        order = sampler.order(epoch)
        for start in range(0, len(order), 1024):  # 4 chunks of 256 positions
            assert len(np.unique(order[start : start + 1024] // 256)) <= 4
    labels = np.repeat([0, 1, 2], 2000)
    grouped = BatchSampler(6000, 64, "block", seed=0, block_size=32, chunk_rows=256)
    plain = BatchSampler(6000, 64, "block", seed=0, block_size=32)
    # Batches still take their two blocks from random chunks: mixing barely changes.
    assert (
        abs(mixing_distance(labels, grouped.batches(0)) - mixing_distance(labels, plain.batches(0)))
        < 0.05
    )


def test_mixing_quality_orders_the_strategies():
    labels = np.repeat([0, 1, 2], 2000)  # class-sorted, the worst case
    distance = {}
    for name, kwargs in {
        "none": {},
        "block": {"block_size": 32},
        "block, window 16 batches": {"block_size": 32, "window": 1024},
        "full": {},
    }.items():
        sampler = BatchSampler(len(labels), 64, name.split(",")[0], seed=0, **kwargs)
        distance[name] = mixing_distance(labels, sampler.batches(0))
    assert distance["none"] > 0.6
    assert (
        distance["full"]
        < distance["block, window 16 batches"]
        < distance["block"]
        < distance["none"]
    )
    assert distance["full"] < 0.1


def largest_share(labels, batch):
    return np.bincount(labels[batch]).max() / len(batch)


@pytest.mark.parametrize("shares", [(1, 1, 1), (7, 2, 1), (1,) * 10])
def test_stratified_gives_every_batch_the_files_class_mix(shares):
    """On a class-sorted file, stratified batches hold close to the overall class mix.

    `block` draws a batch's eight blocks at random: its class shares swing
    far more than a full shuffle's. Dealing each class's blocks evenly
    through the epoch brings them close to a full shuffle's (shares come in
    eighths of a batch, so not below it).
    """
    labels = sorted_labels(6000, shares)
    distance = {}
    for strategy in ("full", "block", "stratified"):
        sampler = BatchSampler(len(labels), 64, strategy, seed=0, labels=labels)
        distance[strategy] = np.mean(
            [mixing_distance(labels, sampler.batches(e)) for e in range(3)]
        )
    assert distance["full"] < distance["stratified"] < 1.4 * distance["full"]
    assert distance["block"] > 1.8 * distance["stratified"]
    if shares == (1, 1, 1):  # eight blocks over three classes: every class in every batch
        sampler = BatchSampler(len(labels), 64, "stratified", seed=0, labels=labels)
        assert all(len(np.unique(labels[b])) == 3 for b in sampler.batches(0))
        assert max(largest_share(labels, b) for b in sampler.batches(0)) <= 0.5


def test_stratified_reads_the_same_blocks_as_block():
    labels = sorted_labels(4096)
    block = BatchSampler(4096, 64, "block", seed=0, labels=labels)
    stratified = BatchSampler(4096, 64, "stratified", seed=0, labels=labels)

    def blocks(sampler):
        return sorted({int(p) // 8 for b in sampler.batches(0) for p in b[::8]})

    assert blocks(block) == blocks(stratified) == list(range(512))
    for batch in stratified.batches(0):  # eight runs of eight aligned rows
        starts = batch[np.r_[0, np.flatnonzero(np.diff(batch) != 1) + 1]]
        assert len(starts) <= 8 and all(start % 8 == 0 for start in starts)


def test_stratified_with_chunk_grouping_keeps_few_chunks_in_flight():
    labels = sorted_labels(6144)
    sampler = BatchSampler(
        6144, 64, "stratified", seed=1, block_size=32, chunk_rows=256, labels=labels
    )
    for epoch in range(2):
        order = sampler.order(epoch)
        assert sorted(order) == list(range(6144))
        for start in range(0, len(order), 1024):
            assert len(np.unique(order[start : start + 1024] // 256)) <= 4
    block = BatchSampler(6144, 64, "block", seed=1, block_size=32, chunk_rows=256)
    assert mixing_distance(labels, sampler.batches(0)) < mixing_distance(labels, block.batches(0))


def test_stratified_pickles_without_the_labels():
    labels = sorted_labels(200_000)
    sampler = BatchSampler(len(labels), 64, "stratified", seed=0, labels=labels)
    assert len(pickle.dumps(sampler)) < labels.nbytes / 4  # one class per 8-row chunk
    again = pickle.loads(pickle.dumps(sampler))
    assert all(np.array_equal(a, b) for a, b in zip(again.batches(2), sampler.batches(2)))


def test_stratified_needs_one_label_per_position():
    with pytest.raises(
        ValueError,
        match=r"needs labels= with one class index per position "
        r"\(100\), received none\. Use 'block'",
    ):
        BatchSampler(100, 10, "stratified", seed=0)
    with pytest.raises(ValueError, match=r"per position \(100\), received 99"):
        BatchSampler(100, 10, "stratified", seed=0, labels=np.zeros(99, int))


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


@pytest.mark.parametrize("strategy", ["none", "full", "block", "stratified"])
@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_shards_are_disjoint_and_cover_every_position_each_epoch(strategy, count):
    n = 1001
    samplers = [
        BatchSampler(n, 32, strategy, seed=5, shard=(i, count), labels=sorted_labels(n))
        for i in range(count)
    ]
    for epoch in range(3):
        parts = [np.concatenate(s.batches(epoch)) for s in samplers]
        assert sorted(np.concatenate(parts)) == list(range(n))  # disjoint and complete
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1
        assert all(len(s) == len(s.batches(epoch)) for s in samplers)
    if strategy != "none":
        assert not np.array_equal(
            np.concatenate(samplers[0].batches(0)), np.concatenate(samplers[0].batches(1))
        )


def test_shard_arguments_are_checked():
    with pytest.raises(ValueError, match="0 <= index < count"):
        BatchSampler(100, 10, "full", seed=1, shard=(2, 2))
    with pytest.raises(ValueError, match="shared seed"):
        BatchSampler(100, 10, "full", shard=(0, 2))
