"""A learnable synthetic image dataset, generated without downloads.

Each sample is a noisy picture of a circle, a square or a triangle, of random
size, position, colours and a slight tilt. Four in five shapes are easy to see;
one in five is drawn so faint that the image barely shows it. Each sample also
has a feature vector, a noisy "growth curve" whose frequency depends on the
class; for half the samples the sensor failed and the vector is noise alone.
So neither input is enough by itself, and a model that sees both does best.

Every value is a pure function of `(seed, sample id)`: sample 7 is the same
whatever the dataset size or the block size used to write it. Samples are made
in fixed generation blocks of `GENERATION_BLOCK` ids with one random stream per
block, which keeps generation vectorised and fast.
"""

from __future__ import annotations

import numpy as np

from course_lib.config import CLASS_NAMES

GENERATION_BLOCK = 256
FEATURES_VERSION = 2  # bump when `features` changes, so built feature files are rebuilt
SIGNAL_FRACTION = 0.5  # share of feature vectors that carry the class
_LABELS, _IMAGES, _FEATURES = 0, 1, 2  # one random stream per kind of value


def _block_rng(seed, kind, block):
    return np.random.default_rng([seed, kind, block])


def _blocks(start, stop):
    """Yields `(block, lo, hi)`: block index and the slice of it in [start, stop)."""
    for block in range(start // GENERATION_BLOCK, -(-stop // GENERATION_BLOCK)):
        first = block * GENERATION_BLOCK
        yield block, max(start - first, 0), min(stop - first, GENERATION_BLOCK)


def _check_range(start, stop):
    if not 0 <= start <= stop:
        raise ValueError(
            f"Expected sample ids 0 <= start <= stop, received start={start}, "
            f"stop={stop}. Pass an increasing range of non-negative ids."
        )


def labels(start: int, stop: int, seed: int):
    """Class labels of samples `start..stop-1`, as int64.

    First used in lesson 00 (setup_and_data).

    Args:
        start: first sample id.
        stop: one past the last sample id.
        seed: the dataset seed.

    Raises:
        ValueError: if the range is not increasing and non-negative.

    Example:

    >>> labels(0, 5, seed=1).shape
    (5,)
    """
    _check_range(start, stop)
    parts = [
        _block_rng(seed, _LABELS, block).integers(0, len(CLASS_NAMES), GENERATION_BLOCK)[lo:hi]
        for block, lo, hi in _blocks(start, stop)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _draw_block(block_labels, rng, size):
    """Draws one generation block of images, as uint8 (n, size, size, 3)."""
    n = len(block_labels)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = grid[None, :, None], grid[None, None, :]

    def per_sample(values):
        return values.astype(np.float32)[:, None, None]

    radius = per_sample(rng.uniform(0.18, 0.38, n))
    cx = per_sample(rng.uniform(0.35, 0.65, n))
    cy = per_sample(rng.uniform(0.35, 0.65, n))
    angle = per_sample(rng.uniform(-0.05 * np.pi, 0.05 * np.pi, n))  # +-9 degrees
    u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / radius
    v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / radius

    circle = u * u + v * v <= 1.0
    square = np.maximum(np.abs(u), np.abs(v)) <= 0.8
    triangle = np.ones_like(circle)
    for theta in (np.pi / 2, np.pi * 7 / 6, np.pi * 11 / 6):
        triangle &= u * np.cos(theta) + v * np.sin(theta) <= 0.5
    shape_of = block_labels[:, None, None]
    mask = np.where(shape_of == 0, circle, np.where(shape_of == 1, square, triangle))

    background = rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32)
    foreground = rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32)
    contrast = rng.choice(np.float32([0.08, 1.0]), n, p=[0.2, 0.8])
    # Keep the shape visible when the two colours happen to be close.
    foreground = np.where(
        np.abs(foreground - background).sum(-1, keepdims=True) < 150, 255 - background, foreground
    )
    image = background + (
        mask[..., None] * (foreground - background) * contrast[:, None, None, None]
    )
    image += rng.normal(0, 16, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def images(start: int, stop: int, image_size: int, seed: int):
    """Images of samples `start..stop-1`, as uint8 `(n, size, size, 3)`.

    First used in lesson 00 (setup_and_data).

    Args:
        start: first sample id.
        stop: one past the last sample id.
        image_size: side of the square images, in pixels.
        seed: the dataset seed.

    Raises:
        ValueError: if the range is not increasing and non-negative.

    Example:

    >>> images(0, 4, image_size=32, seed=1).shape
    (4, 32, 32, 3)
    """
    _check_range(start, stop)
    parts = []
    for block, lo, hi in _blocks(start, stop):
        first = block * GENERATION_BLOCK
        block_labels = labels(first, first + GENERATION_BLOCK, seed)
        block_images = _draw_block(block_labels, _block_rng(seed, _IMAGES, block), image_size)
        parts.append(block_images[lo:hi])
    if not parts:
        return np.zeros((0, image_size, image_size, 3), np.uint8)
    return np.concatenate(parts)


def features(start: int, stop: int, n_features: int, seed: int):
    """Feature vectors of samples `start..stop-1`, as float32 `(n, n_features)`.

    First used in lesson 07 (merged_models_bcolz).

    A vector is a noisy sine curve whose frequency is `label + 1` cycles, so
    it tells the classes apart through the noise; for a random
    `1 - SIGNAL_FRACTION` of the samples it is the noise alone.

    Args:
        start: first sample id.
        stop: one past the last sample id.
        n_features: length of each vector.
        seed: the dataset seed.

    Raises:
        ValueError: if the range is not increasing and non-negative.

    Example:

    >>> features(0, 3, n_features=8, seed=1).dtype
    dtype('float32')
    """
    _check_range(start, stop)
    t = np.linspace(0.0, 1.0, n_features, dtype=np.float32)
    parts = []
    for block, lo, hi in _blocks(start, stop):
        first = block * GENERATION_BLOCK
        cycles = labels(first, first + GENERATION_BLOCK, seed)[lo:hi] + 1
        rng = _block_rng(seed, _FEATURES, block)
        phase = rng.uniform(0, 2 * np.pi, (GENERATION_BLOCK, 1))[lo:hi]
        noise = rng.normal(0, 1.0, (GENERATION_BLOCK, n_features))[lo:hi]
        signal = rng.random((GENERATION_BLOCK, 1))[lo:hi] < SIGNAL_FRACTION
        curve = signal * np.sin(2 * np.pi * cycles[:, None] * t + phase)
        parts.append((curve + noise).astype(np.float32))
    if not parts:
        return np.zeros((0, n_features), np.float32)
    return np.concatenate(parts)
