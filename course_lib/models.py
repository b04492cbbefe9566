"""The models used across the lessons."""

import keras
from keras import layers


def small_convnet(input_shape, n_classes, learning_rate=1e-3, name="small_convnet"):
    """Builds and compiles the small convnet every lesson trains.

    Three convolution blocks and a dense head: small enough to train at about a
    thousand samples per second on a laptop CPU, big enough to learn the course
    shapes. It takes uint8 or float images in [0, 255] and rescales them
    itself, so loaders can hand it raw uint8 batches, and it expects integer
    (sparse) labels.

    Args:
        input_shape: image shape, e.g. `(64, 64, 3)`.
        n_classes: number of classes.
        learning_rate: Adam learning rate.
        name: model name.

    Raises:
        ValueError: if `input_shape` is not `(height, width, channels)` or
            `n_classes` is below 2.

    Example:

    >>> model = small_convnet((32, 32, 3), n_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"Expected input_shape (height, width, channels), received "
            f"{str(input_shape)[:100]}. Pass the shape of one image, without "
            f"the batch dimension.")
    if n_classes < 2:
        raise ValueError(
            f"Expected at least 2 classes, received n_classes={n_classes}.")
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name=name,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
