"""`tf.data` pipelines over the kit's loaders.

Two ways to put a `PyDataset`-style loader behind `tf.data`:

- `from_generator`: one Python generator yields the batches in order. Simple,
  but a single thread does all the reading.
- `parallel_reads`: a range of batch indices mapped to reads with
  `num_parallel_calls`, so several TensorFlow threads read at once. The
  loader opens its files lazily once per process, so the threads share one
  handle (the kit's direct HDF5 reads are thread-safe `preadv` calls).

Either way the loader's epoch must advance between epochs, as Keras does for
a `PyDataset`: pass `AdvanceEpoch(loader)` to `fit`.
"""

import keras
import numpy as np
import tensorflow as tf


def output_signature(loader: keras.utils.PyDataset):
    """The `tf.TensorSpec` structure of the loader's batches, batch size left open.

    First used in lesson 08 (tf_data).

    Example:

    ```python
    output_signature(HDF5Dataset(path, batch_size=64))
    # -> (TensorSpec(shape=(None, 64, 64, 3), dtype=tf.uint8, name=None),
    #     TensorSpec(shape=(None,), dtype=tf.int64, name=None))
    ```
    """
    return tf.nest.map_structure(
        lambda array: tf.TensorSpec(
            (None, *np.shape(array)[1:]), tf.as_dtype(np.asarray(array).dtype)
        ),
        loader[0],
    )


def from_generator(loader: keras.utils.PyDataset):
    """`Dataset.from_generator` over one epoch of the loader, in batch order.

    First used in lesson 08 (tf_data).

    The number of batches is declared (`assert_cardinality`), so Keras knows
    the epoch length instead of finding it by running out of data.
    """
    return tf.data.Dataset.from_generator(
        lambda: (loader[index] for index in range(len(loader))),
        output_signature=output_signature(loader),
    ).apply(tf.data.experimental.assert_cardinality(len(loader)))


def parallel_reads(
    loader: keras.utils.PyDataset,
    parallel_calls: int = tf.data.AUTOTUNE,
    deterministic: bool = True,
):
    """Batch indices mapped to `loader[index]` reads, `parallel_calls` at a time.

    First used in lesson 08 (tf_data).

    Args:
        loader: a kit loader (or any object with `__len__` and `__getitem__`
            returning batches of numpy arrays).
        parallel_calls: how many reads run at once (`tf.data.AUTOTUNE`: let
            TensorFlow choose).
        deterministic: keep the batch order; `False` lets a fast read overtake
            a slow one.

    Returns:
        A `tf.data.Dataset` of one epoch of batches; add `.prefetch(...)`.
    """
    signature = output_signature(loader)
    specs = tf.nest.flatten(signature)

    def read(index):
        return [np.asarray(array) for array in tf.nest.flatten(loader[int(index)])]

    def read_tensors(index):
        tensors = tf.numpy_function(read, [index], [spec.dtype for spec in specs])
        for tensor, spec in zip(tensors, specs):
            tensor.set_shape(spec.shape)
        return tf.nest.pack_sequence_as(signature, tensors)

    return tf.data.Dataset.range(len(loader)).map(
        read_tensors, num_parallel_calls=parallel_calls, deterministic=deterministic
    )


class AdvanceEpoch(keras.callbacks.Callback):
    """Calls `loader.on_epoch_end()` after every epoch, so a `tf.data` pipeline
    over the loader reads a new order each epoch, as a `PyDataset` would.

    First used in lesson 08 (tf_data).
    """

    def __init__(self, loader: keras.utils.PyDataset):
        super().__init__()
        self.loader = loader

    def on_epoch_end(self, epoch: int, logs: dict | None = None):
        self.loader.on_epoch_end()


def flip_and_shift(images: tf.Tensor, shift_fraction: float = 1 / 16):
    """Random horizontal flips and shifts of a uint8 batch, in graph ops only.

    First used in lesson 06 (augmentation).

    Each image gets its own flip (half of them) and shift (a whole number of
    pixels, up to `shift_fraction` of its width and height each way; the edge
    pixels fill the gap), in one vectorised projective transform: it runs in
    `tf.data` and on the tf.data service, where Python functions cannot. The
    shift is a fraction of the size, as `augment.RandomShift`'s: 4 pixels would be
    a sixteenth of a 64x64 image but an eighth of a 32x32 one, too much for
    the small convnet to learn the ci profile's shapes in a few epochs.

    Args:
        images: a `(n, height, width, channels)` batch.
        shift_fraction: the largest shift, as a fraction of the image's
            width (x) and height (y), rounded down to whole pixels.

    Returns:
        The augmented batch, same shape and dtype.

    Example:

    >>> batch = tf.zeros((2, 8, 8, 3), tf.uint8)
    >>> flip_and_shift(batch).shape
    TensorShape([2, 8, 8, 3])
    """
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1:3], tf.float32)  # height, width
    width = size[1]
    flip = tf.cast(tf.random.uniform([n], seed=1) < 0.5, tf.float32)
    limit = tf.floor(size[::-1] * shift_fraction)  # whole pixels along x, y
    shift = tf.floor(tf.random.uniform([n, 2], seed=2) * (2 * limit + 1)) - limit
    sign = 1.0 - 2.0 * flip  # output x reads input x' = sign * x + offset
    zeros, ones = tf.zeros([n]), tf.ones([n])
    transforms = tf.stack(
        [sign, zeros, flip * (width - 1.0) + shift[:, 0], zeros, ones, shift[:, 1], zeros, zeros],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="NEAREST",
    )
