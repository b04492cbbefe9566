"""Epoch orderings shared by every loader of the kit.

A `BatchSampler` turns `n` sample positions into the batches of one epoch.
Its guarantees, whatever the strategy:

- every position appears exactly once per epoch;
- the last, partial batch is kept (`drop_last=False`) unless you ask to drop
  it, and `len()` always counts the batches actually produced;
- fewer samples than a batch still give one (smaller) batch;
- epoch `e` has its own order, a pure function of `(seed, e)`: the same seed
  replays the same sequence of epochs, in any process;
- positions inside a batch are sorted, so h5py accepts them and reads them in
  file order.

Strategies:

| strategy     | order                                                 | reads      |
|--------------|-------------------------------------------------------|------------|
| `none`       | 0, 1, 2, ... every epoch                              | sequential |
| `full`       | a random permutation                                  | random     |
| `block`      | chunk-aligned blocks of `block_size` positions in     | a few      |
|              | random order                                          | contiguous |
| `stratified` | the same blocks, each class's blocks dealt evenly     | slices     |
|              | through the epoch (needs `labels`)                    | (same)     |

Choosing one: `stratified` is the default of loaders with class labels,
`block` of loaders without. Both read a batch as eight blocks (an eighth of
a batch each, `default_block_size`), so they read equally fast (0.69x the
in-memory gather on a user's file in 64-row chunks, 0.43x where each row is
its own chunk and a block is eight reads); they differ in which blocks meet
in a batch. On a file sorted by class, `block` draws a
batch's eight blocks at random, so its class shares swing far more than a
full shuffle's (eight draws instead of 64: a class's share of a batch varies
about three times as much). The small convnet trained 3 epochs (seeds 1-8)
on a user's 2,572 drawings sorted by class ended 25 points behind `full`
(0.72 against 0.97), with runs at 0.50 where `full` never fell below 0.77.
Served with `block`'s class counts per batch, `full`'s own samples trailed
by 18 points; `block` with its blocks' boundaries moved every epoch trailed
by 25, as much as `block`: the class mix of each batch is the cause, not
blocks that travel together. On the course file's 12,288 training images
sorted by class, `block` trails by 2 points (one run at 0.70): four times
the steps average the mix out, which is where the kit's earlier figure
(`block` within a point of `full`) came from. `stratified` deals each
class's blocks out at even spacing, from a random offset, in a new random
order every epoch, so every batch holds close to the file's class mix: 3
points above `full` on the drawings (0.99-1.00 in every run) and 2 above on
the course images, with half `full`'s spread there (0.86-0.88 against
0.74-0.88). On a 3,000-row cut of the course images the seeds decide: it
was 5 points below `full` over seeds 1-8 and 1 above over seeds 9-24,
while `full`'s own mean moved 5 points between those sets. `make bench`,
part `mixing`, prints the tables next to each order's read speed.
Use `full` when reads are cheap (memory, a memmap), `none` for prediction
and validation, `block` for targets that are not classes.

When one store has chunks much larger than a block (a compressed feature
matrix with 256-row chunks, read in blocks of 32), give `chunk_rows`: the
blocks are then drawn from `chunks_in_flight` chunks at a time (chosen at
random, or dealt by class for `stratified`), so a reader with a small chunk
cache decompresses each chunk once per epoch, while each batch still takes
its blocks from several chunks.
"""

import dataclasses
import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from course_lib import errors

STRATEGIES = ("none", "full", "block", "stratified")
BLOCKED = ("block", "stratified")
DEFAULT_STRATEGY = "stratified"
"""The default of loaders with class labels; `"block"` without them."""
BLOCKS_PER_BATCH = 8


def default_block_size(batch_size: int) -> int:
    """Positions per block (`"block"`, `"stratified"`) when none is given.

    Used by the kit, not by a lesson.

    An eighth of a batch: eight blocks per batch keep a class-sorted file
    mixed (with `"stratified"`, close to the file's class mix in every
    batch), while a block is still one read.
    """
    return max(int(batch_size) // BLOCKS_PER_BATCH, 1)


def _check_count(name, value, least):
    """Raises unless `value` is a whole number >= `least` (2.5 is not 2)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or value != int(value)
        or value < least
    ):
        raise ValueError(f"{name} must be a whole number >= {least}, received {repr(value)[:100]}.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplerOptions:
    """How a loader orders its epochs: the sampler's settings as one bundle.

    Used by the kit, not by a lesson.

    Every loader takes them by keyword (`HDF5Dataset(path, shuffle="full",
    seed=1)`) or as one bundle (`options=SamplerOptions(...)`); the fields
    are `BatchSampler`'s arguments (see there), with `shuffle` for its
    `strategy` and `None` meaning the loader's default order. Checked when
    made, so a mistake is named before any file is opened.

    Raises:
        ValueError: for an unknown strategy, a size that is not a whole
            positive number, or a shard that is not `(index, count)`.

    Example:

    >>> SamplerOptions(shuffle="block", seed=1, shard=(0, 2))
    SamplerOptions(shuffle='block', seed=1, drop_last=False, block_size=None, window=None, \
chunk_rows=None, chunks_in_flight=4, shard=(0, 2))
    """

    shuffle: str | None = None
    seed: int | None = None
    drop_last: bool = False
    block_size: int | None = None
    window: int | None = None
    chunk_rows: int | None = None
    chunks_in_flight: int = 4
    shard: tuple[int, int] | None = None

    def __post_init__(self):
        if self.shuffle is not None:
            errors.check_choice("shuffle strategy", self.shuffle, STRATEGIES)
        for name in ("block_size", "window", "chunk_rows", "chunks_in_flight"):
            if getattr(self, name) is not None:
                _check_count(name, getattr(self, name), 1)
        if self.shard is not None:
            object.__setattr__(self, "shard", errors.check_shard(self.shard))

    @classmethod
    def take(cls, kwargs, options=None):
        """`options` (default: all defaults) with the fields found in `kwargs`,
        which are removed from it; what is left is for `PyDataset`."""
        given = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(cls) if f.name in kwargs}
        return dataclasses.replace(options or cls(), **given)

    def sampler(
        self, n: int, batch_size: int, default: str = "full", labels: ArrayLike | None = None
    ) -> "BatchSampler":
        """The `BatchSampler` of `n` positions with these options (`default`
        when `shuffle` is `None`)."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        strategy = settings.pop("shuffle") or default
        return BatchSampler(n, batch_size, strategy, labels=labels, **settings)


class BatchSampler:
    """The batches of each epoch, as arrays of sorted sample positions.

    First used in lesson 04 (hdf5_writing).

    Args:
        n: number of samples.
        batch_size: samples per batch.
        strategy: `"none"`, `"full"`, `"block"` or `"stratified"` (see the
            module doc).
        seed: seed of the epoch orders; `None` draws one at random.
        drop_last: drop the last batch when it is smaller than `batch_size`.
        block_size: `"block"` and `"stratified"`: positions per contiguous block. Use a
            divisor or multiple of the HDF5 chunk rows so that a block never
            straddles chunks needlessly. Default: an eighth of a batch (see
            `default_block_size`).
        window: `"block"` and `"stratified"`: positions are shuffled within windows of this
            many positions (a multiple of `block_size`). Larger windows mix
            better but spread a batch over more blocks. Default: `batch_size`,
            rounded up to a multiple of `block_size`.
        chunk_rows: `"block"` and `"stratified"`: rows per storage chunk, a multiple of
            `block_size`. Default: no grouping by chunk.
        chunks_in_flight: with `chunk_rows`: how many chunks the blocks are
            drawn from at a time.
        shard: `(index, count)` to serve only shard `index` of `count`: every
            shard computes the same epoch order from the seed and takes its
            own contiguous slice of it, so the shards are disjoint and
            together cover every position once per epoch. Shard sizes differ
            by at most one sample. Default: all positions.
        labels: `"stratified"` only (and needed there): the class index of
            each position. A block's (or chunk's) class is that of its
            middle row, which on a class-sorted file is the class of all its
            rows. Only the blocks' classes are kept, so the sampler pickles
            small.

    Raises:
        ValueError: for an unknown strategy, a non-positive size,
            `drop_last=True` with fewer samples than one batch, or
            `"stratified"` without one label per position.

    Example:

    >>> sampler = BatchSampler(10, batch_size=4, strategy="full", seed=0)
    >>> len(sampler), [len(b) for b in sampler.batches(epoch=0)]
    (3, [4, 4, 2])
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        strategy: str = "full",
        *,
        seed: int | None = None,
        drop_last: bool = False,
        block_size: int | None = None,
        window: int | None = None,
        chunk_rows: int | None = None,
        chunks_in_flight: int = 4,
        shard: tuple[int, int] | None = None,
        labels: ArrayLike | None = None,
    ):
        errors.check_choice("shuffle strategy", strategy, STRATEGIES)
        for name, value, least in (
            ("n", n, 0),
            ("batch_size", batch_size, 1),
            ("block_size", block_size or 1, 1),
            ("window", window or 1, 1),
        ):
            _check_count(name, value, least)
        index, count = errors.check_shard(shard)
        if count > 1 and seed is None:
            raise ValueError(
                "Shards need a shared seed: pass the same seed= to every shard, so "
                "they split one epoch order instead of drawing their own."
            )
        self.n = int(n)
        self.shard = (index, count)
        self._slice = slice(self.n * self.shard[0] // count, self.n * (self.shard[0] + 1) // count)
        size = self._slice.stop - self._slice.start
        if drop_last and size < batch_size:
            raise ValueError(
                f"drop_last=True with {size} samples and batch_size={batch_size} "
                f"leaves no batch at all. Use drop_last=False or a smaller batch."
            )
        self.batch_size = int(batch_size)
        self.strategy = strategy
        self.seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
        self.drop_last = drop_last
        self.block_size = int(block_size or default_block_size(self.batch_size))
        self.window = int(window or -(-self.batch_size // self.block_size) * self.block_size)
        if strategy in BLOCKED and (self.block_size < 1 or self.window % self.block_size):
            raise ValueError(
                f"window ({self.window}) must be a positive multiple of block_size "
                f"({self.block_size})."
            )
        self.chunk_rows = int(chunk_rows or self.block_size)
        self.chunks_in_flight = int(chunks_in_flight)
        if strategy in BLOCKED and (self.chunk_rows % self.block_size or self.chunks_in_flight < 1):
            raise ValueError(
                f"chunk_rows ({self.chunk_rows}) must be a multiple of block_size "
                f"({self.block_size}), and chunks_in_flight ({self.chunks_in_flight}) "
                f"at least 1."
            )
        self.block_classes = self._block_classes(labels) if strategy == "stratified" else None
        self._cache = (None, None)

    def _block_classes(self, labels):
        """The class of each block: its middle row's (checked: one label per position)."""
        if labels is None or len(labels) != self.n:
            raise ValueError(
                f"shuffle='stratified' deals each class's blocks through the epoch, so it "
                f"needs labels= with one class index per position ({self.n}), received "
                f"{'none' if labels is None else len(labels)}. Use 'block' when the "
                f"targets are not classes."
            )
        middles = np.minimum(
            np.arange(0, self.n, self.block_size) + self.block_size // 2, self.n - 1
        )
        return np.asarray(labels)[middles]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = (None, None)  # recomputed on demand; keeps pickles small
        return state

    def __len__(self):
        size = self._slice.stop - self._slice.start
        if self.drop_last:
            return size // self.batch_size
        return -(-size // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """All positions of epoch `epoch`, in the order batches take them (all shards)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self.strategy == "none":
            return np.arange(self.n)
        if self.strategy == "full":
            return rng.permutation(self.n)
        starts = self._block_starts(rng)
        order = (starts[:, None] + np.arange(self.block_size)).ravel()
        order = order[order < self.n]  # the last block may be short
        window = np.arange(len(order)) // self.window
        return order[np.lexsort((rng.random(len(order)), window))]  # shuffled in each window

    def _block_starts(self, rng):
        """First position of each block, in this epoch's order: the chunks in
        order, `chunks_in_flight` at a time, each group's blocks in order."""
        chunks = np.arange(0, self.n, self.chunk_rows)
        chunks = chunks[self._arrange(chunks + self.chunk_rows // 2, rng)]
        within = np.arange(0, self.chunk_rows, self.block_size)
        blocks = (chunks[:, None] + within).ravel()
        group = np.repeat(np.arange(len(chunks)) // self.chunks_in_flight, len(within))
        inside = blocks < self.n
        blocks, group = blocks[inside], group[inside]
        return blocks[self._arrange(blocks, rng, group)]

    def _arrange(self, positions, rng, groups=None):
        """An order of the blocks or chunks around `positions`, within each run
        of equal `groups` (one group when `None`): at random (`block`), or each
        class's dealt at even spacing from a random offset, in random order
        (`stratified`), so every stretch has the overall mix. Vectorised: an
        epoch's order costs about a millisecond, not a Python loop per group."""
        groups = np.zeros(len(positions), np.int64) if groups is None else groups
        draws = rng.random(len(positions))
        if self.block_classes is None or len(positions) == 0:
            return np.lexsort((draws, groups))
        classes = self.block_classes[np.minimum(positions, self.n - 1) // self.block_size]
        members = np.lexsort((draws, classes, groups))  # each (group, class) in random order
        g, c = groups[members], classes[members]
        first = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (c[1:] != c[:-1])])
        sizes = np.diff(np.r_[first, len(members)])
        pair = np.repeat(np.arange(len(first)), sizes)
        rank = np.arange(len(members)) - first[pair]
        keys = np.empty(len(positions))
        keys[members] = (rank + rng.random(len(first))[pair]) / sizes[pair]
        return np.lexsort((keys, groups))

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The batches of epoch `epoch`: a list of sorted position arrays."""
        cached_epoch, cached = self._cache
        if cached_epoch == epoch:
            return cached
        order = self.order(epoch)[self._slice][: len(self) * self.batch_size]
        whole = len(order) // self.batch_size * self.batch_size
        batches = list(np.sort(order[:whole].reshape(-1, self.batch_size), axis=1))
        if whole < len(order):  # the last, partial batch
            batches.append(np.sort(order[whole:]))
        self._cache = (epoch, batches)
        return batches


def mixing_distance(
    labels: ArrayLike, batches: Sequence[ArrayLike], n_classes: int | None = None
) -> float:
    """How far batches are from the class mix of the whole dataset.

    First used in lesson 05 (hdf5_reading).

    The mean, over batches, of the total variation distance between a batch's
    class histogram and the global one: 0 when every batch has the global class
    proportions, 1 when batches hold classes the dataset barely has. On
    class-sorted data, no shuffling gives about `1 - 1/n_classes`.

    Args:
        labels: integer label of each position.
        batches: lists of positions, e.g. `sampler.batches(epoch)`.
        n_classes: number of classes (default: `labels.max() + 1`).

    Example:

    >>> labels = np.repeat([0, 1], 50)
    >>> round(mixing_distance(labels, [np.arange(0, 50), np.arange(50, 100)]), 2)
    0.5
    """
    labels = np.asarray(labels)
    n_classes = n_classes or int(labels.max()) + 1
    overall = np.bincount(labels, minlength=n_classes) / len(labels)
    distances = [
        0.5 * np.abs(np.bincount(labels[b], minlength=n_classes) / len(b) - overall).sum()
        for b in batches
        if len(b)
    ]
    return float(np.mean(distances))
