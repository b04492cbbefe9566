"""Grain pipelines over the kit's row sources and loaders.

Grain reads from a *random-access source* (`len(source)`, `source[i]`) and
decides the order itself: a global index shuffle, one permutation of all the
indices per epoch, with no buffer, the same whatever the number of workers.
Keras's `fit` takes its datasets directly (Keras 3.11 and later, on every
backend). Two ways to put the kit's data behind it:

- `GrainRows`: one sample per index, over any row source and its labels;
  Grain shuffles and batches. Simple; one small read per sample.
- `SamplerBatches`: one *batch* per index, the kit loader's batch `k % n` of
  epoch `k // n`: its sampler's order and its block reads, through Grain's
  threads, processes and iterator state.

`batch_dataset(loader, epochs)` is the second with its workers; fit it with
`steps_per_epoch=len(loader)` (see its docstring for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grain
import numpy as np
from numpy.typing import ArrayLike

from course_lib.formats import sources
from course_lib.loading import labels as label_checks
from course_lib.loading.sampling import BatchSampler

if TYPE_CHECKING:  # Grain's worker processes unpickle these sources: no Keras, no TensorFlow
    import keras


def allow_worker_processes() -> None:
    """Lets Grain start worker processes from a plain script or notebook.

    First used in lesson 11 (grain_and_jax).

    Grain's multiprocessing reads a command-line flag
    (`--grain_enable_multiprocess_worker_profiling`) through `absl.flags`,
    which refuses any flag before the command line is parsed: outside an
    `absl.app` program, `DataLoader(worker_count=...)` and `mp_prefetch`
    fail with `UnparsedFlagAccessError`. This marks the flags parsed, with
    their defaults (it changes nothing once they are).
    """
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


class GrainRows(grain.sources.RandomAccessDataSource):
    """Any row source and its class labels as a Grain source of `(row, label)`.

    First used in lesson 11 (grain_and_jax).

    A Grain source needs `len(source)` and `source[i]`; Grain's batching
    asks for several at once (`__getitems__`), which reads them in one
    sorted `read`. The row source opens its file lazily, once per process,
    and pickles as its path, so Grain's worker processes each open their own.

    Args:
        rows: a row source (`formats.HDF5Rows`, `formats.NpyFiles`, ...).
        labels: the class index of each row: an array or a row source,
            checked once here.
        n_classes: the number of classes, when known: labels must lie in
            `[0, n_classes)`.

    Raises:
        TypeError: when `rows` is not a row source.
        ValueError: for labels of another length, or not class indices.

    Example:

    ```python
    rows = GrainRows(hdf5.HDF5Rows(path, "train/images"), hdf5.load_split(path, "train")[1])
    dataset = grain.MapDataset.source(rows).shuffle(seed=0).batch(64)
    ```
    """

    def __init__(self, rows: sources.RowSource, labels: ArrayLike, n_classes: int | None = None):
        sources.check_source(rows, "rows")
        if isinstance(labels, sources.RowSource):
            labels = labels.read(np.arange(len(labels)))
        self.rows = rows
        self.labels = label_checks.class_indices(
            np.asarray(labels), n_classes, f"labels of {rows!r}"
        )
        if len(self.labels) != len(rows):
            raise ValueError(
                f"{rows!r} has {len(rows)} rows but {len(self.labels)} labels: give one "
                f"class index per row."
            )

    def __len__(self):
        return len(self.rows)

    def __getitems__(self, indices: Sequence[int]):
        indices = np.asarray(indices, np.int64)
        order = np.argsort(indices, kind="stable")
        rows = np.empty(len(indices), dtype=object)
        rows[order] = list(self.rows.read(indices[order]))
        return [(row, self.labels[i]) for row, i in zip(rows, indices)]

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} is out of range for {self!r}.")
        return self.__getitems__([index])[0]

    def __repr__(self):
        return f"GrainRows({self.rows!r})"


class SamplerBatches(grain.sources.RandomAccessDataSource):
    """The batches of a kit loader, epoch after epoch, as a Grain source.

    First used in lesson 11 (grain_and_jax).

    Item `k` is batch `k % len(loader)` of epoch `first_epoch + k //
    len(loader)`, read with the loader's `read`: the order of its sampler,
    a pure function of (seed, epoch), so every epoch is a new order and
    item `k` is the same batch in every process and on every resume. The
    loader's block reads stay as they are; Grain adds its threads,
    processes and iterator state around them.

    Args:
        loader: a kit loader (`HDF5Dataset`, `SourceDataset`, ...).
        epochs: how many epochs of batches the source holds.
        first_epoch: the epoch of item 0 (a resumed run starts later).

    Raises:
        ValueError: for a number of epochs that is not a whole number >= 1.

    Example:

    ```python
    source = SamplerBatches(HDF5Dataset(path, batch_size=64), epochs=3)
    images, labels = source[len(source) - 1]  # the last batch of epoch 2
    ```
    """

    def __init__(self, loader: keras.utils.PyDataset, epochs: int, first_epoch: int = 0):
        for name, value, least in (("epochs", epochs, 1), ("first_epoch", first_epoch, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(
                    f"{name} must be a whole number >= {least}, received {str(value)[:100]!r}."
                )
        self.loader, self.epochs, self.first_epoch = loader, epochs, first_epoch
        self.per_epoch = len(loader)

    def __len__(self):
        return self.per_epoch * self.epochs

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} is out of range for {self!r}.")
        epoch, batch = divmod(int(index), self.per_epoch)
        return self.loader.read(self.loader.sampler.batches(self.first_epoch + epoch)[batch])

    def __repr__(self):
        return (
            f"SamplerBatches({self.loader.describe()}, {self.epochs} epochs of "
            f"{self.per_epoch} batches)"
        )


def global_shuffle_batches(
    source: Sequence, batch_size: int, *, seed: int, epochs: int, first_epoch: int = 0
) -> grain.MapDataset:
    """Batches of a global shuffle of any Grain source, each read in one call.

    First used in lesson 11 (grain_and_jax).

    Grain's `.shuffle().batch()` asks the source for one record at a time;
    this asks for a whole batch (`source.__getitems__`, sorted positions) and
    stacks it, with the epoch orders of the kit's `full` sampler (one
    permutation of all the records per epoch, from `(seed, epoch)`). Item `k`
    is batch `k % n` of epoch `first_epoch + k // n`.

    Args:
        source: a Grain source of `(image, label)` with `__getitems__`
            (`array_records.ArrayRecordFile`, `GrainRows`).
        batch_size: samples per batch.
        seed: the seed of the epoch orders.
        epochs: epochs of batches.
        first_epoch: the epoch of item 0.

    Example:

    ```python
    batches = global_shuffle_batches(ArrayRecordFile(folder, "train"), 64, seed=0, epochs=3)
    images, labels = batches[0]
    ```
    """
    sampler = BatchSampler(len(source), batch_size, "full", seed=seed)
    per_epoch = len(sampler)

    def read(index):
        epoch, batch = divmod(int(index), per_epoch)
        samples = source.__getitems__(sampler.batches(first_epoch + epoch)[batch])
        return tuple(np.stack(column) for column in zip(*samples))

    return grain.MapDataset.range(per_epoch * epochs).map(read)


def batch_dataset(
    loader: keras.utils.PyDataset,
    epochs: int,
    *,
    first_epoch: int = 0,
    threads: int = 1,
    processes: int = 0,
    prefetch: int = 2,
) -> grain.IterDataset:
    """A Grain pipeline of the loader's batches for `epochs` epochs, for `fit`.

    First used in lesson 11 (grain_and_jax).

    Pass it to `fit(dataset, epochs=epochs, steps_per_epoch=len(loader),
    shuffle=False)`. Keras's Grain adapter does not know the number of
    batches, so without `steps_per_epoch` it ends every epoch by running out
    of data (and warns), and it starts a new iterator each epoch, which
    would replay the first epoch. With `steps_per_epoch` one iterator runs
    through all the epochs. `shuffle=False` only silences Keras's warning
    that its default `shuffle=True` does not apply to Grain: the order is
    the sampler's.

    Args:
        loader: a kit loader.
        epochs: epochs of batches (`SamplerBatches`).
        first_epoch: the epoch to start from.
        threads: reads in flight in each process (`grain.ReadOptions`); 0
            reads each batch when it is asked for. The kit's reads leave the
            GIL, but on a 2-core machine one thread beside training is the
            most that gains (`python -m course_lib.bench grain`).
        processes: worker processes (`mp_prefetch`); 0 reads in this process.
        prefetch: batches each process reads ahead.

    Example:

    ```python
    train = HDF5Dataset(path, batch_size=64)
    model.fit(batch_dataset(train, epochs=3), epochs=3, steps_per_epoch=len(train),
              shuffle=False)
    ```
    """
    source = SamplerBatches(loader, epochs, first_epoch)
    options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch)
    dataset = grain.MapDataset.source(source).to_iter_dataset(options)
    if processes:
        allow_worker_processes()
        dataset = dataset.mp_prefetch(
            grain.MultiprocessingOptions(num_workers=processes, per_worker_buffer_size=prefetch)
        )
    return dataset
