"""A loader for two-input models: images plus a feature matrix on disk.

Sample ids tie the two together: feature row `i` belongs to sample `i`, and
the image source finds sample `i`'s image (through the `ids` dataset of an
HDF5 split, or the file `id-00000i.npy`). The loader sorts its ids, so one
block of the sampler is a run of neighbouring samples in both stores, and
the images are read as contiguous rows. The sampler also draws its blocks
from a few feature chunks at a time (`chunk_rows`), and
`features.ChunkReader` keeps those chunks decompressed, so each chunk is
decompressed about once per epoch instead of once per row.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from course_lib import config
from course_lib.formats.features import ChunkReader, FeatureStore
from course_lib.formats.hdf5 import HDF5Rows
from course_lib.formats.npy import load_npy_batch, sample_name
from course_lib.loading import labels as class_labels
from course_lib.loading.loaders import SampledDataset
from course_lib.loading.sampling import DEFAULT_STRATEGY, SamplerOptions, default_block_size

if typing.TYPE_CHECKING:
    import pandas as pd


class HDF5Images:
    """The images of one HDF5 split, looked up by sample id.

    First used in lesson 07 (merged_models_bcolz).

    Args:
        path: the HDF5 file.
        images: name of the images dataset.
        ids: name of the dataset holding each row's sample id, or `None`
            when row `i` of `images` is sample `i` (a file without ids).

    Raises:
        FileNotFoundError, ValueError: for a missing, truncated or non-HDF5
            file, or a missing dataset (the message lists the file's datasets).

    Example:

    ```python
    source = HDF5Images("data/lesson/course.h5", "train/images", "train/ids")
    source.read(np.array([0, 5])).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, path: str | Path, images: str = "train/images", ids: str = "train/ids"):
        self.path = Path(path)
        self.source = HDF5Rows(path, images, hint="Pass the images dataset's name as images=.")
        if ids is None:  # row i of the images is sample i
            self.ids = np.arange(len(self.source))
        else:
            self.ids = HDF5Rows(
                path,
                ids,
                hint=(
                    "If row i of the images is sample i, pass ids=None to use row numbers as "
                    "ids; otherwise store each row's sample id in an int64 dataset and pass "
                    "its name as ids=."
                ),
            ).read_all()
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted_ids = self.ids[self._order]

    def missing(self, ids: ArrayLike):
        """The ids among `ids` that have no image in this split."""
        where = np.clip(np.searchsorted(self._sorted_ids, ids), 0, len(self.ids) - 1)
        return np.asarray(ids)[self._sorted_ids[where] != ids]

    def read(self, ids: ArrayLike):
        """Images of the given sample ids, in that order."""
        rows = self._order[np.searchsorted(self._sorted_ids, ids)]
        if np.all(np.diff(rows) > 0):
            return self.source.read(rows)
        order = np.argsort(rows)
        images = self.source.read(rows[order])
        images[order] = images.copy()
        return images


class NpyImages:
    """Images stored one `.npy` file per sample, `<folder>/id-000042.npy`.

    Used by the kit, not by a lesson.

    Example:

    ```python
    NpyImages("data/lesson/npy").read(np.array([0, 5])).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            fix = config.rebuild_hint(self.folder, "It should hold one id-NNNNNN.npy per sample.")
            raise FileNotFoundError(f"No folder {str(self.folder)[:100]}. Check the path. {fix}")

    def missing(self, ids: ArrayLike):
        return np.array([i for i in ids if not (self.folder / f"{sample_name(i)}.npy").exists()])

    def read(self, ids: ArrayLike):
        return load_npy_batch(self.folder, [sample_name(i) for i in ids])


class MergedDataset(SampledDataset):
    """Batches of `((images, features), labels)` for a two-input model.

    First used in lesson 07 (merged_models_bcolz).

    Args:
        images: an image source: `HDF5Images` or `NpyImages`.
        features: the feature matrix on disk: a path (`*.bcolz`, `*.b2nd`,
            `*.zarr`, `*.npy`), an open array of one of those formats, or a
            `features.FeatureStore`. Row `i` must belong to sample `i`.
        ids: the sample ids of this split, e.g. `index.id` of a filtered
            index DataFrame; any order (the loader sorts them). Long runs of
            consecutive ids read fastest; gaps cost speed, never alignment.
        labels: the labels, aligned with `ids`, or `None` for `predict`.
        batch_size: samples per batch.
        n_rows: the number of rows the feature matrix must have (e.g. the
            number of samples in the whole dataset). Checked when given.
        input_names: `None` yields `(images, features)` tuples; a pair of
            names yields a dict keyed by them, for models with named inputs.
        cache_chunks: feature chunks kept decompressed (see `ChunkReader`).
        options, **kwargs: the sampler's options (`sampling.SamplerOptions`,
            by keyword: `shuffle=`, `seed=`, ...) and `PyDataset`'s, as for
            `loaders.SampledDataset`. Default order: `"stratified"` with
            labels (see `sampling`), `"none"` without (predictions come in
            sorted id order). Blocks follow the feature chunks.

    Raises:
        ValueError: when ids repeat, an id has no image, the feature matrix
            has fewer rows than the largest id or not `n_rows` rows, or the
            labels do not match the ids.

    Example:

    ```python
    index = course_data.read_index()
    train = index[index.split == "train"]
    loader = MergedDataset(HDF5Images("data/lesson/course.h5"),
                           "data/lesson/features/matrix.bcolz",
                           train.id, train.label, batch_size=64, seed=1)
    (x, f), y = loader[0]
    ```
    """

    def __init__(
        self,
        images: HDF5Images | NpyImages,
        features: str | Path | FeatureStore,
        ids: ArrayLike,
        labels: ArrayLike | None = None,
        batch_size: int = 32,
        *,
        n_rows: int | None = None,
        input_names: tuple[str, str] | None = None,
        cache_chunks: int = 16,
        options: SamplerOptions | None = None,
        **kwargs,
    ):
        ids = np.asarray(ids, np.int64)
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        self.labels = None if labels is None else self._aligned(labels, ids)[order]
        self.images = images
        self.features = ChunkReader(features, cache_chunks)
        self.input_names = input_names
        self._validate(n_rows)
        options = SamplerOptions.take(kwargs, options)
        block_size = options.block_size or default_block_size(batch_size)
        chunk_rows = self.features.store.chunk_rows
        options = dataclasses.replace(
            options,
            block_size=block_size,
            chunk_rows=chunk_rows if chunk_rows % block_size == 0 else None,
        )
        super().__init__(
            len(self.ids),
            batch_size=batch_size,
            options=options,
            default="none" if labels is None else DEFAULT_STRATEGY,
            labels=self.labels,
            **kwargs,
        )

    @staticmethod
    def _aligned(labels, ids):
        labels = np.asarray(labels)
        if len(labels) != len(ids):
            raise ValueError(
                f"Expected one label per id, received {len(labels)} labels for "
                f"{len(ids)} ids. Take both columns from the same DataFrame."
            )
        return class_labels.class_indices(
            labels, where="MergedDataset labels (rows named by sample id)", rows=ids
        )

    def _validate(self, n_rows):
        store = self.features.store
        if len(self.ids) == 0:
            raise ValueError("No sample ids given. Check the filter on the index.")
        repeated = self.ids[1:][np.diff(self.ids) == 0]
        if len(repeated):
            raise ValueError(
                f"Sample ids repeat, e.g. {repeated[:3].tolist()}: each sample must "
                f"appear once. Drop duplicate rows from the index."
            )
        if n_rows is not None and len(store) != n_rows:
            raise ValueError(
                f"{store.path} has {len(store)} feature rows, expected {n_rows} "
                f"(one per sample, row i for sample i). Rebuild the feature matrix "
                f"from the same samples as the images."
            )
        if self.ids[0] < 0 or self.ids[-1] >= len(store):
            raise ValueError(
                f"{store.path} has {len(store)} feature rows but the ids run from "
                f"{self.ids[0]} to {self.ids[-1]}: row i must belong to sample i. "
                f"Rebuild the feature matrix from the same samples as the images."
            )
        missing = self.images.missing(self.ids)
        if len(missing):
            raise ValueError(
                f"{len(missing)} id(s) have no image, e.g. {missing[:3].tolist()}. "
                f"Use the ids of the split the image source reads."
            )

    def describe(self):
        return f"MergedDataset({self.features.store.path})"

    def sample_keys(self, index: int):
        return self.ids[super().sample_keys(index)]

    def read(self, positions: ArrayLike):
        ids = self.ids[positions]
        inputs = (self.images.read(ids), self.features.read(ids))
        if self.input_names is not None:
            inputs = dict(zip(self.input_names, inputs))
        if self.labels is None:
            return (inputs,)
        return inputs, self.labels[positions]


def split_loader(
    images_path: str | Path,
    features: str | Path | FeatureStore,
    index: pd.DataFrame,
    split: str,
    **options,
):
    """The `MergedDataset` of one split of an index table, in the course layout.

    First used in lesson 07 (merged_models_bcolz).

    The index has one row per sample: its `id` (its feature row), `split`
    and `label`, as `course_data.read_index()` gives; the images of split `s`
    are the datasets `s/images` and `s/ids` of the HDF5 file.

    Args:
        images_path: the HDF5 file of the images.
        features: the feature matrix (see `MergedDataset`), one row per
            sample of the whole index.
        index: the index DataFrame (`id`, `split`, `label`).
        split: which split, e.g. `"train"`.
        **options: for `MergedDataset` (`batch_size`, `shuffle`, `seed`, ...).

    Example:

    ```python
    index = course_data.read_index()
    train = split_loader("data/lesson/course.h5", "data/lesson/features/matrix.bcolz",
                         index, "train", batch_size=64, seed=1)
    ```
    """
    part = index[index.split == split]
    return MergedDataset(
        HDF5Images(images_path, f"{split}/images", f"{split}/ids"),
        features,
        part.id,
        part.label,
        n_rows=len(index),
        **options,
    )
