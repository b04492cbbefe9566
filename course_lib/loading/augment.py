"""Seeded image augmentation in numpy, and a loader wrapper that applies it.

A transform is any callable `transform(images, rngs) -> images`: `images` is
a float32 batch `(n, height, width, channels)` with values in [0, 255], and
`rngs[k]` is the random generator of sample `k`. Each sample's generator is
seeded from `(seed, epoch, sample id)`, so a sample's augmentation does not
depend on which worker, thread or process produced its batch.

Geometric transforms (`RandomFlip`, `RandomRotation`, `RandomShift`,
`RandomZoom`) are affine maps; `Compose` multiplies consecutive ones into a
single warp, so the image is resampled once. `KerasLayer` turns a Keras
preprocessing layer (`keras.layers.RandomFlip`, ...) into a transform.

This replaces the classic `ImageDataGenerator.apply_transform`: Keras 3 no
longer exports `ImageDataGenerator` (its code survives only in the private
`keras.src.legacy` package), and recommends preprocessing layers instead.
"""

from collections.abc import Callable, Sequence

import keras
import numpy as np
from numpy.typing import ArrayLike

from course_lib.loading.processes import CheckedForWorkers


class Affine:
    """Base of the geometric transforms: one 3x3 matrix per sample.

    Used by the kit, not by a lesson.

    A matrix maps output pixel coordinates `(x, y, 1)`, centred on the image
    centre, to the source coordinates the pixel is sampled from.
    """

    def matrices(self, rngs: Sequence[np.random.Generator], size: tuple[int, int]):
        """`(n, 3, 3)` matrices for images of `size = (height, width)`."""
        raise NotImplementedError

    def __call__(self, images: np.ndarray, rngs: Sequence[np.random.Generator]):
        return warp(images, self.matrices(rngs, images.shape[1:3]))


class RandomFlip(Affine):
    """Flips each image left-right and/or upside down with probability 1/2.

    First used in lesson 06 (augmentation).

    Example:

    >>> images = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    >>> rngs = [np.random.default_rng(seed) for seed in (0, 1)]
    >>> RandomFlip(horizontal=True)(images, rngs).shape
    (2, 4, 4, 3)
    """

    def __init__(self, horizontal: bool = True, vertical: bool = False):
        self.horizontal, self.vertical = horizontal, vertical

    def matrices(self, rngs: Sequence[np.random.Generator], size: tuple[int, int]):
        out = np.tile(np.eye(3, dtype=np.float32), (len(rngs), 1, 1))
        for matrix, rng in zip(out, rngs):
            flips = rng.random(2) < 0.5
            matrix[0, 0] = -1 if self.horizontal and flips[0] else 1
            matrix[1, 1] = -1 if self.vertical and flips[1] else 1
        return out


class RandomRotation(Affine):
    """Rotates each image by a uniform angle in `[-degrees, degrees]`.

    First used in lesson 06 (augmentation).
    """

    def __init__(self, degrees: float):
        self.degrees = float(degrees)

    def matrices(self, rngs: Sequence[np.random.Generator], size: tuple[int, int]):
        angles = np.radians([rng.uniform(-self.degrees, self.degrees) for rng in rngs])
        cos, sin = np.cos(angles), np.sin(angles)
        out = np.tile(np.eye(3, dtype=np.float32), (len(rngs), 1, 1))
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = cos, -sin, sin, cos
        return out


class RandomShift(Affine):
    """Shifts each image by up to `fraction` of its size, in x and y.

    First used in lesson 06 (augmentation).
    """

    def __init__(self, fraction: float):
        self.fraction = float(fraction)

    def matrices(self, rngs: Sequence[np.random.Generator], size: tuple[int, int]):
        out = np.tile(np.eye(3, dtype=np.float32), (len(rngs), 1, 1))
        for matrix, rng in zip(out, rngs):
            matrix[:2, 2] = rng.uniform(-self.fraction, self.fraction, 2) * size[::-1]
        return out


class RandomZoom(Affine):
    """Zooms each image by a factor in `[1 - fraction, 1 + fraction]` (above 1: in).

    First used in lesson 06 (augmentation).
    """

    def __init__(self, fraction: float):
        self.fraction = float(fraction)

    def matrices(self, rngs: Sequence[np.random.Generator], size: tuple[int, int]):
        scales = 1 / np.array([rng.uniform(1 - self.fraction, 1 + self.fraction) for rng in rngs])
        out = np.tile(np.eye(3, dtype=np.float32), (len(rngs), 1, 1))
        out[:, 0, 0] = out[:, 1, 1] = scales
        return out


class RandomBrightness:
    """Adds a uniform offset in `[-delta, delta] * 255` to each image.

    First used in lesson 06 (augmentation).
    """

    def __init__(self, delta: float):
        self.delta = float(delta)

    def __call__(self, images: np.ndarray, rngs: Sequence[np.random.Generator]):
        offsets = np.array([rng.uniform(-self.delta, self.delta) for rng in rngs]) * 255
        return np.clip(images + offsets[:, None, None, None].astype(np.float32), 0, 255)


class RandomContrast:
    """Scales each image's deviation from its mean by a factor in `[1 - f, 1 + f]`.

    First used in lesson 06 (augmentation).
    """

    def __init__(self, factor: float):
        self.factor = float(factor)

    def __call__(self, images: np.ndarray, rngs: Sequence[np.random.Generator]):
        factors = np.array([rng.uniform(1 - self.factor, 1 + self.factor) for rng in rngs])
        means = images.mean(axis=(1, 2, 3), keepdims=True)
        scaled = (images - means) * factors[:, None, None, None].astype(np.float32) + means
        return np.clip(scaled, 0, 255)


class Compose:
    """Applies transforms in order; consecutive geometric ones become one warp.

    First used in lesson 06 (augmentation).

    Example:

    >>> transform = Compose([RandomFlip(), RandomRotation(15), RandomBrightness(0.1)])
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, images: np.ndarray, rngs: Sequence[np.random.Generator]):
        pending = None  # product of consecutive affine matrices not applied yet
        for transform in self.transforms:
            if isinstance(transform, Affine):
                matrices = transform.matrices(rngs, images.shape[1:3])
                pending = matrices if pending is None else pending @ matrices
                continue
            if pending is not None:
                images, pending = warp(images, pending), None
            images = transform(images, rngs)
        return images if pending is None else warp(images, pending)


class KerasLayer:
    """Uses a Keras preprocessing layer (`keras.layers.RandomFlip`, ...) as a transform.

    First used in lesson 06 (augmentation).

    The layer draws one random transformation per batch, seeded from the
    batch's sample generators, so the result is reproducible for a given
    epoch and batch composition. Keras layers run TensorFlow ops: use them
    with thread workers, not worker processes.

    Example:

    >>> transform = KerasLayer(keras.layers.RandomRotation(0.05))
    """

    def __init__(self, layer: keras.layers.Layer):
        self.layer = layer

    def __call__(self, images: np.ndarray, rngs: Sequence[np.random.Generator]):
        seed = int(sum(int(rng.integers(2**31)) for rng in rngs) % 2**31)
        transformation = self.layer.get_random_transformation(images, training=True, seed=seed)
        output = self.layer.transform_images(images, transformation, training=True)
        return keras.ops.convert_to_numpy(output).astype(np.float32)


def warp(images: np.ndarray, matrices: np.ndarray):
    """Resamples each image through its affine matrix, bilinearly, edges repeated.

    Used by the kit, not by a lesson.

    Args:
        images: float32 batch `(n, height, width, channels)`.
        matrices: `(n, 3, 3)`: output coordinates (centred) -> source coordinates.
    """
    n, height, width, channels = images.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    points = np.stack([xs.ravel() - cx, ys.ravel() - cy, np.ones(height * width, np.float32)])
    source = matrices.astype(np.float32) @ points  # (n, 3, pixels)
    sx = np.clip(source[:, 0] + cx, 0, width - 1)
    sy = np.clip(source[:, 1] + cy, 0, height - 1)
    x0 = np.minimum(sx.astype(np.int32), max(width - 2, 0))
    y0 = np.minimum(sy.astype(np.int32), max(height - 2, 0))
    wx = (sx - x0.astype(np.float32))[..., None]
    wy = (sy - y0.astype(np.float32))[..., None]
    dx, dy = int(width > 1), width * int(height > 1)
    flat = images.reshape(-1, channels)
    corner = np.arange(n, dtype=np.int32)[:, None] * (height * width) + y0 * width + x0
    top = flat[corner] * (1 - wx) + flat[corner + dx] * wx
    bottom = flat[corner + dy] * (1 - wx) + flat[corner + dy + dx] * wx
    return (top * (1 - wy) + bottom * wy).reshape(images.shape)


def sample_rngs(seed: int, epoch: int, keys: ArrayLike):
    """One generator per sample, seeded from `(seed, epoch, key)`.

    First used in lesson 06 (augmentation).
    """
    return [np.random.default_rng([seed, epoch, int(key)]) for key in keys]


class AugmentedDataset(CheckedForWorkers, keras.utils.PyDataset):
    """Wraps a loader and augments the images of every batch it yields.

    First used in lesson 06 (augmentation).

    Wrap the training loader only: validation and test data must be the
    real images. The wrapped loader's batches may be `(images, labels)`,
    `((images, features), labels)` or `({name: ...}, labels)`; only the
    images are changed, and returned as float32 in [0, 255].

    A sample's augmentation depends only on `(seed, epoch, sample id)`:
    the kit's loaders provide the sample ids (`sample_keys`); for another
    PyDataset the id is the position in the batch order.

    Args:
        dataset: the loader to wrap (keep its own `workers` at 1).
        transform: a transform (see the module doc), e.g. a `Compose`.
        seed: seed of the augmentations.
        images_key: which input holds the images when batches carry a dict.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Raises:
        ValueError: when the transform changes the batch shape (naming it).

    Example:

    ```python
    train = AugmentedDataset(HDF5Dataset(path, batch_size=64, seed=1),
                             Compose([RandomFlip(), RandomRotation(10)]), seed=1)
    model.fit(train, validation_data=valid, shuffle=False)
    ```
    """

    def __init__(
        self,
        dataset: keras.utils.PyDataset,
        transform: Callable,
        seed: int = 0,
        images_key: str = "images",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dataset, self.transform = dataset, transform
        self.seed, self.images_key = int(seed), images_key
        self._own_epoch = 0

    @property
    def epoch(self):
        """The wrapped loader's epoch (its counter is the one owner), so the two
        never disagree; a counter of this wrapper's own only for a loader that
        has none."""
        return getattr(self.dataset, "epoch", self._own_epoch)

    def set_epoch(self, epoch: int):
        """Sets the wrapped loader's epoch (or this wrapper's own counter)."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        else:
            self._own_epoch = int(epoch)

    def __len__(self):
        return len(self.dataset)

    def _keys(self, index, n):
        if hasattr(self.dataset, "sample_keys"):
            return self.dataset.sample_keys(index)
        return index * 2**20 + np.arange(n)

    def _augment(self, images, index):
        images = np.asarray(images, np.float32)
        rngs = sample_rngs(self.seed, self.epoch, self._keys(index, len(images)))
        output = np.asarray(self.transform(images, rngs))
        if output.shape != images.shape:
            raise ValueError(
                f"The transform {type(self.transform).__name__} returned shape "
                f"{output.shape} for a batch of shape {images.shape}. A transform "
                f"must keep the batch shape (crop or pad back to the input size)."
            )
        return output.astype(np.float32, copy=False)

    def __getitem__(self, index):
        inputs, *rest = self.dataset[index]
        if isinstance(inputs, dict):
            inputs = {**inputs, self.images_key: self._augment(inputs[self.images_key], index)}
        elif isinstance(inputs, tuple):
            inputs = (self._augment(inputs[0], index), *inputs[1:])
        else:
            inputs = self._augment(inputs, index)
        return (inputs, *rest)

    def on_epoch_end(self):
        if not hasattr(self.dataset, "epoch"):
            self._own_epoch += 1
        self.dataset.on_epoch_end()
