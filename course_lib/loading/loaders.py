"""Loaders that stream batches from disk: `keras.utils.PyDataset` subclasses.

A loader is row sources (`sources`: where the rows are) plus one sampler
(`sampling.BatchSampler`: which positions make each batch this epoch).

Every loader here takes its batch order from one `sampling.BatchSampler`, so
they share its guarantees (each sample once per epoch, the last partial batch
kept, a new reproducible order each epoch), and passes `workers`,
`use_multiprocessing` and `max_queue_size` on to `PyDataset`.

The loaders shuffle themselves, so train with `model.fit(loader, shuffle=False)`:
Keras would otherwise shuffle the batch indices again, which changes nothing
about which samples an epoch sees but spoils the sequential reads that the
block orders (`"block"`, `"stratified"`) are built for.
"""

import dataclasses
import json
import numbers
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import h5py
import keras
import numpy as np
from numpy.typing import ArrayLike

from course_lib.formats.hdf5 import HDF5Rows, hdf5_image_rows, open_file
from course_lib.formats.npy import NpyFiles
from course_lib.formats.sources import ArrayRows, RowSource, check_source
from course_lib.formats.splits import stratified_split
from course_lib.loading import labels as class_labels
from course_lib.loading.processes import CheckedForWorkers
from course_lib.loading.sampling import DEFAULT_STRATEGY, SamplerOptions


class SampledDataset(CheckedForWorkers, keras.utils.PyDataset):
    """Base class: batch positions from a `BatchSampler`, one epoch at a time.

    Used by the kit, not by a lesson.

    Subclasses implement `read(positions)`, returning the batch for those
    sorted sample positions. The epoch counter advances in `on_epoch_end`,
    which Keras calls before it hands worker processes their copy of the
    dataset for the next epoch, so every worker follows it. (Keras also calls
    it once when `fit` starts, so the counter counts those calls rather than
    your epochs; what matters is that it changes between epochs.)

    A loader that shuffles warns when `predict` reads it: predictions would
    come back in a shuffled order that changes on every call.

    Args:
        n: number of samples.
        batch_size: samples per batch.
        options: a `sampling.SamplerOptions`; its fields may also be given by
            keyword (`shuffle=`, `seed=`, `shard=(index, count)`, ...), and
            override it. Every loader below takes them the same way.
        default: the strategy when `shuffle` is not given.
        labels: the class index of each position (for `"stratified"`).
        **kwargs: the sampler's fields, and `workers`, `use_multiprocessing`,
            `max_queue_size` for `PyDataset`.

    Raises:
        ValueError: for a size that is not a whole positive number, or an
            unknown strategy; the message names the loader.
    """

    def __init__(
        self,
        n: int,
        *,
        batch_size: int,
        options: SamplerOptions | None = None,
        default: str = "full",
        labels: np.ndarray | None = None,
        **kwargs,
    ):
        try:
            self.options = SamplerOptions.take(kwargs, options)
            self.sampler = self.options.sampler(n, batch_size, default, labels)
        except ValueError as error:
            raise ValueError(f"{self.describe()}: {error}") from None
        super().__init__(**kwargs)
        self.pydataset_kwargs = kwargs
        self._epoch = 0

    @property
    def epoch(self):
        """The epoch whose order this loader serves: its one epoch counter.

        Keras advances it (`on_epoch_end`); `set_epoch` sets it (`FollowEpochs`,
        a resumed run). Wrappers (`AugmentedDataset`), the `tf.data` adapters
        (`tfdata.AdvanceEpoch`) and training workers read and advance this one
        counter instead of keeping their own. Assigning to it is `set_epoch`.
        """
        return self._epoch

    @epoch.setter
    def epoch(self, epoch):
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Serves epoch `epoch`'s order from the next batch on.

        Raises:
            ValueError: unless `epoch` is a whole number >= 0.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(
                f"{self.describe()}: epoch must be a whole number >= 0, received "
                f"{str(epoch)[:100]!r}."
            )
        self._epoch = int(epoch)

    def describe(self):
        """The loader and what it reads, for messages: `HDF5Dataset(data/x.h5)`."""
        source = getattr(self, "path", None) or getattr(self, "folder", None)
        return f"{type(self).__name__}({source or ''})"

    def __len__(self):
        return len(self.sampler)

    readahead = 0
    """Batches whose rows a loader asks the kernel to read ahead (see `advise`)."""

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for {len(self)} batches.")
        batches = self.sampler.batches(self.epoch)
        if self.readahead:
            ahead = (
                range(index + 1, index + self.readahead + 1)
                if index == 0
                else [index + self.readahead]
            )
            for later in ahead:
                if later < len(batches):
                    self.advise(batches[later])
        return self.read(batches[index])

    def read(self, positions: ArrayLike):
        raise NotImplementedError

    def advise(self, positions: ArrayLike):
        """Hints that `positions` will be read soon; loaders whose sources can
        read ahead override it."""

    def sample_keys(self, index: int):
        """Stable ids of the samples in batch `index` this epoch (seeds augmentation)."""
        return self.sampler.batches(self.epoch)[index]

    def on_epoch_begin(self):
        if self.sampler.strategy != "none" and _inside_keras_predict():
            warnings.warn(
                f"{self.describe()} shuffles its samples (shuffle="
                f"{self.sampler.strategy!r}), so predict returns its rows in a shuffled "
                f"order that changes on every call. For one prediction per sample in "
                f"file order, predict on a loader built with shuffle='none' (a loader "
                f"without labels is built that way by default).",
                stacklevel=2,
            )

    def on_epoch_end(self):
        self._epoch += 1


class FollowEpochs(keras.callbacks.Callback):
    """Sets a loader's epoch to Keras's at the start of every epoch.

    First used in lesson 12 (capstone).

    A loader counts its epochs itself, from 0 in each new process. After
    `keras.callbacks.BackupAndRestore` resumes a run at epoch 2, the loader
    would otherwise replay the orders of epochs 0, 1, ...; with this callback
    epoch `e` gets order `e` whether the run was interrupted or not. Keras
    calls `on_epoch_begin` before its workers fetch the epoch's first batch
    (on JAX, with `workers > 1`, only for a built model: `build_before_fit`).

    Args:
        loader: a kit loader (or a wrapper such as `AugmentedDataset`, whose
            wrapped loader is set).

    Example:

    ```python
    model.fit(train, epochs=8, callbacks=[keras.callbacks.BackupAndRestore(folder),
                                          FollowEpochs(train)])
    ```
    """

    def __init__(self, loader: keras.utils.PyDataset):
        super().__init__()
        self.loader = getattr(loader, "dataset", loader)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None):
        self.loader.epoch = epoch  # a kit loader checks it (`set_epoch`)


def build_before_fit(model: keras.Model, loader: keras.utils.PyDataset):
    """Builds a compiled model's layers, loss, metrics and optimizer from batch 0, untrained.

    Used by the kit (`course.resume`), not by a lesson.

    `fit` on a model not yet built takes one batch from the loader to build
    it. On JAX, with `workers > 1`, Keras starts the workers for that batch
    and keeps the batches they fetched ahead: epoch 0 then trains those first,
    and every later epoch starts with the previous epoch's last batches, so
    an epoch no longer trains each sample once (Keras 3.15.1; see
    `tests/test_claims.py`). Building the model first, from an evaluation of
    batch 0 (no weight changes), leaves nothing fetched ahead. On TensorFlow,
    whose order was right, it only builds the optimizer early, so that
    `load_weights` restores the optimizer's state too.

    Args:
        model: a compiled model.
        loader: what `fit` will train on; its batch 0 is read once.

    Example:

    ```python
    build_before_fit(model, train)
    model.fit(train, epochs=4)
    ```
    """
    x, y, *_ = loader[0]
    model.evaluate(x, y, batch_size=len(keras.tree.flatten(y)[0]), verbose=0)
    if not model.optimizer.built:  # TensorFlow's evaluate leaves it to the first train step
        model.optimizer.build(model.trainable_variables)


def _inside_keras_predict():
    """Whether a Keras `predict` call is on the stack.

    Keras gives a `PyDataset` no other sign of what reads it: `fit`,
    `evaluate` and `predict` all call `on_epoch_begin`, from the caller's
    thread. This is the one place the kit looks at the stack; the entry
    points are tested in `tests/test_user_files.py` (predict with and
    without workers warns; fit and evaluate do not).
    """
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name.startswith("predict") and f"keras{os.sep}" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def _class_count(file, dataset):
    """The number of classes a file declares: one-hot width, else its
    `class_names` attribute (the kit's layout), else `None`."""
    if class_labels.stored_mode(dataset.shape) == "one_hot":
        return dataset.shape[1]
    try:
        return len(json.loads(file.attrs["class_names"]))
    except (KeyError, TypeError, ValueError):
        return None


LABELS_CACHE_BYTES = 64 * 2**20
"""Labels up to this size are read once per process; larger ones (masks used
as labels, say) are streamed like the images."""


class HDF5Dataset(SampledDataset):
    """Streams batches of (images, labels) from datasets in an HDF5 file.

    First used in lesson 00 (setup_and_data).

    Works with any file and dataset names: the kit's layout
    (`train/images`, `train/labels`), a food-101 style file (`train_img`,
    one-hot `train_labels`), an EArray written by PyTables, or a file of
    JPEG/PNG bytes (`hdf5.EncodedHDF5Rows`: decoded per batch; use thread
    workers, `workers=2`, to decode in parallel). Images and
    labels are two row sources (`hdf5.HDF5Rows`): read straight from their
    byte offsets when uncompressed, else as a few contiguous h5py slices,
    opened lazily once per process and never pickled, so the loader is safe
    with thread and process workers, under `fork` and `spawn`.

    Labels are checked once, when the loader is built: sparse class indices
    `(n,)` or one-hot rows `(n, k)`, against the number of classes (given,
    the one-hot width, or the file's `class_names`). Batches give them in
    `label_mode`: sparse by default, what the kit's models train on.

    A file with one split only: `train, valid = loader.split(0.2)` gives two
    loaders over disjoint rows, stratified by class, without copying data.

    Args:
        path: the HDF5 file.
        images: name of the images dataset (samples first).
        labels: name of the labels dataset, or `None` to yield images only
            (for `predict`).
        batch_size: samples per batch.
        shuffle: `"none"`, `"full"`, `"block"` or `"stratified"`. Default:
            `"stratified"` with class labels (blocks, as fast as `"block"`,
            and every batch close to the file's class mix even when the file
            is sorted by class; see `sampling`), `"block"` with
            `label_mode=None`, `"none"` without labels, so predictions come
            in file order.
        seed: seed of the epoch orders.
        preprocess: optional function applied to each batch of images, e.g.
            `to_float32`.
        drop_last, block_size, window: see `sampling.BatchSampler`.
        direct_reads: read uncompressed rows from their byte offsets (the
            default); `False` reads everything through h5py, for comparison.
        label_mode: `"sparse"` (class indices, the default), `"one_hot"`, or
            `None` to give the labels dataset as stored, unchecked (regression
            targets, masks, sample ids).
        n_classes: the number of classes, when the file does not say it.
        rows: the file rows to serve (e.g. from `split`); default: all.
        shard: `(index, count)`: serve only this worker's part of each epoch
            (see `sampling.BatchSampler`).
        readahead: while reading batch `i`, ask the kernel to start reading
            the rows of batch `i + readahead` (`posix_fadvise` WILLNEED), so
            the disk has many reads in flight. It matters for data read from
            the disk (bigger than memory): on a 2-core VM, cold epochs of
            scattered blocks went from about 0.3x to 0.75-0.9x the disk's
            sequential rate (`make bench` part `cold`). `0` turns it off.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the file is truncated or not HDF5, a dataset is
            missing, empty or of another length, or a label is not a valid
            class (naming file, dataset and row).

    Example:

    ```python
    train = HDF5Dataset("data/lesson/course.h5", "train/images",
                        "train/labels", batch_size=64, seed=1)
    model.fit(train, epochs=2, shuffle=False)
    ```
    """

    def __init__(
        self,
        path: str | Path,
        images: str = "train/images",
        labels: str | None = "train/labels",
        batch_size: int = 32,
        *,
        preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        direct_reads: bool = True,
        label_mode: str | None = "sparse",
        n_classes: int | None = None,
        rows: ArrayLike | None = None,
        readahead: int = 16,
        options: SamplerOptions | None = None,
        **kwargs,
    ):
        class_labels.check_mode(label_mode)
        self._settings = dict(
            path=path,
            images=images,
            labels=labels,
            batch_size=batch_size,
            preprocess=preprocess,
            direct_reads=direct_reads,
            label_mode=label_mode,
            n_classes=n_classes,
            readahead=readahead,
        )
        self.path = Path(path)
        self.readahead = int(readahead)
        self.labels_name = labels
        self.preprocess = preprocess
        self.label_mode = label_mode if labels else None
        self.n_classes = n_classes
        self.rows = None if rows is None else np.asarray(rows, np.int64)
        hint = "Pass their names as `images=` and `labels=`."
        self.images = hdf5_image_rows(path, images, direct_reads, hint=hint)
        self.targets = (
            None
            if not labels
            else HDF5Rows(path, labels, direct_reads, cache_bytes=LABELS_CACHE_BYTES, hint=hint)
        )
        n, classes = self._validate()
        training = DEFAULT_STRATEGY if classes is not None else "block"
        super().__init__(
            n,
            batch_size=batch_size,
            options=options,
            default="none" if not labels else training,
            labels=classes,
            **kwargs,
        )

    def _validate(self):
        lengths = {
            source.name: len(source) for source in (self.images, self.targets) if source is not None
        }
        empty = [name for name, length in lengths.items() if length == 0]
        if empty:
            raise ValueError(
                f"{self.path}: {' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} "
                f"empty (0 rows), so there is nothing to read. Write the samples into the file, or "
                f"pass the datasets that hold them as `images=` and `labels=`."
            )
        if len(set(lengths.values())) != 1:
            raise ValueError(
                f"{self.path}: expected images and labels of the same length, received "
                f"{lengths}. Check that the names belong together."
            )
        n = len(self.images)
        self._check_rows(n)
        classes = self.class_indices() if self.label_mode is not None else None
        return (n if self.rows is None else len(self.rows)), classes

    def _check_rows(self, n):
        if self.rows is None:
            return
        rows = self.rows
        if (
            rows.ndim != 1
            or len(rows) == 0
            or np.any(np.diff(rows) <= 0)
            or rows[0] < 0
            or rows[-1] >= n
        ):
            raise ValueError(
                f"{self.describe()}: rows must be increasing row numbers in [0, {n}) "
                f"without repeats, received {len(rows)} value(s) "
                f"{str(rows[:5].tolist())[:100]}. Sort them with np.unique(rows)."
            )

    def class_indices(self, file: h5py.File | None = None):
        """The class index of every sample this loader serves, checked.

        Reads the labels dataset in blocks, so memory stays bounded.

        Raises:
            ValueError: for labels that are not valid classes (see the class doc).
        """
        if file is None:
            with open_file(self.path) as file:
                return self.class_indices(file)
        dataset = file[self.labels_name]
        where = f"{self.path}:/{self.labels_name.lstrip('/')}"
        stored = class_labels.stored_mode(dataset.shape)
        if stored is None:
            raise ValueError(
                f"{where} has shape {dataset.shape}: not class labels ((n,) class "
                f"indices or (n, k) one-hot). Pass label_mode=None to use it as "
                f"targets as stored."
            )
        declared = _class_count(file, dataset)
        if self.n_classes and stored == "one_hot" and declared != self.n_classes:
            raise ValueError(
                f"{where} is one-hot with {declared} columns, but n_classes="
                f"{self.n_classes}. Drop n_classes= or fix it."
            )
        self.n_classes = self.n_classes or declared
        rows = np.arange(len(dataset)) if self.rows is None else self.rows
        block = 2**16
        parts = []
        for start in range(0, len(dataset), block):
            wanted = rows[(rows >= start) & (rows < start + block)]
            if len(wanted):
                values = dataset[start : start + block][wanted - start]
                parts.append(class_labels.class_indices(values, self.n_classes, where, wanted))
        return np.concatenate(parts)

    def split(
        self, valid_fraction: float = 0.2, seed: int | None = None, stratify: bool = True
    ) -> tuple["HDF5Dataset", "HDF5Dataset"]:
        """Splits this loader's rows into a training and a validation loader.

        Nothing is copied: both loaders read the same file, each its own
        disjoint rows, with its own sampler. The validation loader reads in
        file order (`shuffle="none"`); everything else is this loader's.

        Args:
            valid_fraction: share of the rows (of each class) for validation.
            seed: seed of the split; default: this loader's seed.
            stratify: keep each class's share in both parts (needs labels).

        Returns:
            `(train, valid)`: two `HDF5Dataset`s.

        Example:

        ```python
        train, valid = HDF5Dataset("food.h5", "images", "labels",
                                   batch_size=64, seed=1).split(0.2)
        model.fit(train, validation_data=valid, epochs=3, shuffle=False)
        ```
        """
        rows = np.arange(self.sampler.n) if self.rows is None else self.rows
        by_class = self.class_indices() if stratify and self.label_mode else len(rows)
        seed = self.sampler.seed if seed is None else seed
        parts = stratified_split(by_class, valid_fraction, seed=seed, shuffle=False)
        in_file_order = dataclasses.replace(self.options, shuffle="none")
        return (
            HDF5Dataset(
                **self._settings,
                rows=rows[parts["train"]],
                options=self.options,
                **self.pydataset_kwargs,
            ),
            HDF5Dataset(
                **self._settings,
                rows=rows[parts["valid"]],
                options=in_file_order,
                **self.pydataset_kwargs,
            ),
        )

    def advise(self, positions: ArrayLike):
        self.images.advise(positions if self.rows is None else self.rows[positions])

    def read(self, positions: ArrayLike):
        rows = positions if self.rows is None else self.rows[positions]
        x = self.images.read(rows)
        if self.preprocess is not None:
            x = self.preprocess(x)
        if self.targets is None:
            return (x,)
        return x, class_labels.convert(self.targets.read(rows), self.label_mode, self.n_classes)


class SourceDataset(SampledDataset):
    """Batches from any row source: the one loader every format plugs into.

    Used by the kit, not by a lesson.

    `inputs` is a row source (`formats.RowSource`: `len()` and
    `read(sorted positions)`), so a new format needs a source, not a new
    `PyDataset`. The sampler's order picks the positions of each batch;
    the source reads them; labels are checked once, here.

    Args:
        inputs: the row source of the model's inputs (e.g. `ImageFiles`).
        targets: the class index of each row (an array, checked), another
            row source (read as stored), or `None` to yield inputs only.
        batch_size: samples per batch.
        preprocess: optional function applied to each batch of inputs.
        label_mode: `"sparse"` or `"one_hot"`, for class indices.
        n_classes: number of classes (needed for `"one_hot"`).
        row_names: what an error calls each row (sample ids, say);
            default: its position.
        options, **kwargs: the sampler's options and `PyDataset`'s, as for
            `SampledDataset`. Default order: `"full"` with targets (a source
            read sample by sample gains nothing from blocks), `"none"`
            without.

    Raises:
        TypeError: if `inputs` is not a row source.
        ValueError: for inputs without rows, targets of another length, or
            labels that are not valid classes (class names included).

    Example:

    ```python
    table = course_data.image_table("train")
    loader = SourceDataset(ImageFiles(table.path, (64, 64, 3)), table.label.to_numpy(),
                           batch_size=64, seed=1)
    ```
    """

    def __init__(
        self,
        inputs: RowSource,
        targets: ArrayLike | RowSource | None = None,
        batch_size: int = 32,
        *,
        preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        label_mode: str = "sparse",
        n_classes: int | None = None,
        row_names: Sequence | None = None,
        options: SamplerOptions | None = None,
        **kwargs,
    ):
        check_source(inputs, "inputs")
        if len(inputs) == 0:
            raise ValueError(
                f"{inputs!r} has no rows, so there is nothing to read. Point it at the "
                f"file, folder or split that holds the samples."
            )
        class_labels.check_mode(label_mode, targets=False)
        self.inputs, self.preprocess = inputs, preprocess
        self.label_mode, self.n_classes = label_mode, n_classes
        classes = None
        if targets is not None and not isinstance(targets, RowSource):
            if label_mode == "one_hot" and not n_classes:
                raise ValueError("label_mode='one_hot' needs n_classes.")
            classes = class_labels.class_indices(
                np.asarray(targets), n_classes, f"labels of {inputs!r}", row_names
            )
            targets = ArrayRows(classes, "labels")
        if targets is not None and len(targets) != len(inputs):
            raise ValueError(
                f"{inputs!r} has {len(inputs)} rows but the targets have {len(targets)}. "
                f"Give one target per row, in the same order."
            )
        self.targets, self.classes = targets, classes
        super().__init__(
            len(inputs),
            batch_size=batch_size,
            options=options,
            default="none" if targets is None else "full",
            labels=classes,
            **kwargs,
        )

    def describe(self):
        return f"{type(self).__name__}({self.inputs!r})"

    def advise(self, positions: ArrayLike):
        advise = getattr(self.inputs, "advise", None)
        if advise is not None:
            advise(positions)

    def read(self, positions: ArrayLike):
        x = self.inputs.read(positions)
        if self.preprocess is not None:
            x = self.preprocess(x)
        if self.targets is None:
            return (x,)
        y = self.targets.read(positions)
        if self.classes is None:
            return x, y
        return x, class_labels.convert(y, self.label_mode, self.n_classes)


class NpyDirectoryDataset(SourceDataset):
    """Streams batches from a folder of one `.npy` file per sample.

    First used in lesson 03 (pydataset).

    The classic layout: `<folder>/<id>.npy` per sample, a list of ids per
    split (`partition.json`) and a dict from id to class (`labels.json`).
    A `SourceDataset` over `NpyFiles`.

    Args:
        folder: the folder holding `<id>.npy` files.
        ids: the sample ids of this split, e.g. `partition["train"]`.
        labels: dict from id to integer class, or `None` to yield only images
            (for `predict`).
        batch_size: samples per batch.
        label_mode, n_classes, preprocess, options, **kwargs: as for
            `SourceDataset` (default order `"full"` with labels, `"none"`
            without, so predictions come in the order of `ids`).

    Raises:
        ValueError: if `ids` is empty, an id has no label, a label is out of
            range, or `label_mode` is unknown.
        FileNotFoundError: when a batch needs a `.npy` file that is missing.

    Example:

    ```python
    partition, labels = npy.read_partition("data/lesson/npy")
    train = NpyDirectoryDataset("data/lesson/npy", partition["train"], labels,
                                batch_size=64, seed=1)
    ```
    """

    def __init__(
        self,
        folder: str | Path,
        ids: Sequence[str],
        labels: dict[str, int] | None = None,
        batch_size: int = 32,
        *,
        label_mode: str = "sparse",
        n_classes: int | None = None,
        preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        options: SamplerOptions | None = None,
        **kwargs,
    ):
        self.folder = Path(folder)
        self.ids = list(ids)
        if not self.ids:
            raise ValueError(f"No sample ids given for {str(self.folder)[:100]}.")
        super().__init__(
            NpyFiles(self.folder, self.ids),
            None if labels is None else self._label_values(labels),
            batch_size,
            preprocess=preprocess,
            label_mode=label_mode,
            n_classes=n_classes,
            row_names=self.ids,
            options=options,
            **kwargs,
        )

    @property
    def files(self):
        """The `NpyFiles` source this loader reads."""
        return self.inputs

    @property
    def labels(self):
        """The class index of each id, or `None`."""
        return self.classes

    def describe(self):
        return f"{type(self).__name__}({self.folder})"

    def _label_values(self, labels):
        """The label of each id, in id order (checked by `SourceDataset`)."""
        missing = [i for i in self.ids if i not in labels]
        if missing:
            raise ValueError(
                f"{len(missing)} id(s) have no label, e.g. {str(missing[:3])[:100]}. "
                f"Every id in `ids` needs an entry in `labels`."
            )
        return np.array([labels[i] for i in self.ids])


def to_float32(images: np.ndarray):
    """Converts a batch of uint8 images to float32 in [0, 1], in place.

    Used by the kit, not by a lesson.

    Example:

    >>> float(to_float32(np.full((1, 2, 2, 3), 255, np.uint8)).max())
    1.0
    """
    images = images.astype(np.float32)
    images /= 255
    return images


class ThreadSafeIterator:
    """Wraps an iterator so that several threads can call `next` on it.

    First used in lesson 02 (python_generators).

    A Python generator raises `ValueError: generator already executing` when
    two threads advance it at once; a lock around `next` makes them take
    turns.

    Args:
        iterator: any iterator, typically a generator object.

    Example:

    >>> def batches():
    ...     yield from range(3)
    >>> shared = ThreadSafeIterator(batches())
    >>> next(shared), list(shared)
    (0, [1, 2])
    """

    def __init__(self, iterator: Iterable):
        self._iterator = iter(iterator)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._iterator)


def threadsafe_generator(generator_function: Callable):
    """Decorator: the generator function returns a `ThreadSafeIterator`.

    First used in lesson 02 (python_generators).

    Example:

    >>> @threadsafe_generator
    ... def numbers():
    ...     yield from range(3)
    >>> list(numbers())
    [0, 1, 2]
    """

    def wrapper(*args, **kwargs):
        return ThreadSafeIterator(generator_function(*args, **kwargs))

    wrapper.__name__ = generator_function.__name__
    wrapper.__doc__ = generator_function.__doc__
    return wrapper
