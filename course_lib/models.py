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
    input_shape = _checked(input_shape, n_classes)
    model = keras.Sequential(
        [keras.Input(shape=input_shape), *_image_branch(),
         layers.Dense(64, activation="relu"),
         layers.Dense(n_classes, activation="softmax")],
        name=name,
    )
    return _compiled(model, learning_rate)


def _checked(input_shape, n_classes):
    """The image shape as a tuple, after checking it and the class count."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"Expected input_shape (height, width, channels), received "
            f"{str(input_shape)[:100]}. Pass the shape of one image, without "
            f"the batch dimension.")
    if n_classes < 2:
        raise ValueError(
            f"Expected at least 2 classes, received n_classes={n_classes}.")
    return input_shape


def _image_branch():
    """The convolution layers of the small convnet, from uint8 pixels to a flat vector."""
    return [
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Flatten(),
    ]


def _compiled(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def merged_model(image_shape, n_features, n_classes, learning_rate=1e-3,
                 input_names=("images", "features"), name="merged_model"):
    """Builds and compiles a two-input model: a convnet on images, a dense branch on features.

    The two branches are concatenated and share one dense head. Feed it
    `(images, features)` tuples, or dicts keyed by `input_names`
    (`merged.MergedDataset` yields either).

    Args:
        image_shape: image shape, e.g. `(64, 64, 3)`.
        n_features: length of each feature vector.
        n_classes: number of classes.
        learning_rate: Adam learning rate.
        input_names: names of the image and feature inputs.
        name: model name.

    Raises:
        ValueError: if `n_features` is not positive, and as `small_convnet`.

    Example:

    >>> model = merged_model((32, 32, 3), n_features=64, n_classes=3)
    >>> [tuple(i.shape) for i in model.inputs]
    [(None, 32, 32, 3), (None, 64)]
    """
    image_shape = _checked(image_shape, n_classes)
    if int(n_features) < 1:
        raise ValueError(f"Expected n_features >= 1, received {n_features}.")
    images = keras.Input(shape=image_shape, name=input_names[0])
    features = keras.Input(shape=(int(n_features),), name=input_names[1])
    x = images
    for layer in _image_branch():
        x = layer(x)
    f = layers.Dense(64, activation="relu")(features)
    f = layers.Dense(32, activation="relu")(f)
    merged = layers.Concatenate()([x, f])
    merged = layers.Dense(64, activation="relu")(merged)
    outputs = layers.Dense(n_classes, activation="softmax")(merged)
    return _compiled(keras.Model([images, features], outputs, name=name), learning_rate)
