"""The models used across the lessons.

Both models rescale their image input themselves (`max_pixel`: 255 for uint8
pixels, the kit's convention) and look at the first batch `fit`, `evaluate`
or `predict` is given: images of another range (floats in [0, 1] fed to a
model that divides by 255 train at exactly chance, silently) get a warning
that says what to change.
"""

import sys
import warnings

import keras
import numpy as np
from keras import layers

from course_lib.loading import labels as class_labels


@keras.saving.register_keras_serializable(package="course_lib")
class CourseModel(keras.Model):
    """A functional Keras model that checks the pixel range of its first batch.

    Used by the kit, not by a lesson.

    Attributes:
        max_pixel: the largest pixel value the model expects (it rescales by
            `1 / max_pixel`).
    """

    max_pixel = 255.0

    def get_config(self):
        return {**super().get_config(), "max_pixel": self.max_pixel}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        max_pixel = config.pop("max_pixel", cls.max_pixel)
        model = super().from_config(config, custom_objects)
        model.max_pixel = max_pixel
        return model

    def fit(self, x: object = None, *args, **kwargs):
        self._check_pixels(x, "fit")
        if kwargs.get("validation_data") is not None:
            self._check_pixels(kwargs["validation_data"], "fit (validation_data)")
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x: object = None, *args, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset"):  # fit's own epoch-end evaluation:
            self._check_pixels(x, "evaluate")  # checked once when fit started
        return super().evaluate(x, *args, **kwargs)

    def predict(self, x: object, *args, **kwargs):
        self._check_pixels(x, "predict")
        return super().predict(x, *args, **kwargs)

    def _check_pixels(self, x, method):
        images = first_images(x)
        if images is None or not np.issubdtype(images.dtype, np.floating) or not images.size:
            return
        top = float(np.nanmax(images))
        if self.max_pixel > 1.5 and 0 < top <= 1.0:
            got, fix = (
                "floats in [0, 1]",
                (
                    "Feed pixels in [0, 255] (drop the /255 or to_float32 from your loader), "
                    "or build the model with max_pixel=1.0"
                ),
            )
        elif self.max_pixel <= 1.5 and top > 1.5:
            got, fix = (
                f"values up to {top:g}",
                ("Scale them to [0, 1] in the loader, or build the model with max_pixel=255"),
            )
        else:
            return
        warnings.warn(
            f"{self.name}.{method}: the first batch's images are {got}, but this model "
            f"rescales pixels by 1/{self.max_pixel:g}, so it sees nearly constant inputs "
            f"and will not learn. {fix}.",
            stacklevel=3,
        )


class BatchRecorder(keras.Model):
    """A model that learns nothing and keeps the inputs of every batch it is fed.

    First used in lesson 03 (pydataset).

    It has no weights and is built from the start, so `fit` and `evaluate` feed
    it straight away on either backend. Compile it with `run_eagerly=True`: its
    steps turn each batch's first input into numpy.

    Attributes:
        trained: the first input of every batch `fit` trained on, as numpy arrays.
        evaluated: the same for `evaluate` and `fit`'s validation.

    Example:

    ```python
    recorder = BatchRecorder()
    recorder.compile(run_eagerly=True)
    recorder.fit(loader, epochs=2, shuffle=False, verbose=0)
    served = np.concatenate(recorder.trained)  # in the order fit read them
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trained, self.evaluated = [], []
        self.built = True

    def _keep(self, kept, step):
        *state, data = step  # (data,) on TensorFlow, (state, data) on JAX
        kept.append(keras.ops.convert_to_numpy(data[0]))
        logs = {"rows": keras.ops.shape(data[0])[0]}
        return (logs, state[0]) if state else logs

    def train_step(self, *step):
        return self._keep(self.trained, step)

    def test_step(self, *step):
        return self._keep(self.evaluated, step)


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and Keras, and TensorFlow only if it is loaded.

    First used in lesson 05 (hdf5_reading). The kit's child processes seed with it
    (a lesson's Setup calls `keras.utils.set_random_seed`, which this follows).
    Keras's function imports TensorFlow to seed it whenever TensorFlow is
    installed, on every backend: about 3 s in a fresh JAX process that never
    uses it. Here, a process that has not imported TensorFlow is seeded
    without it; nothing else differs.

    Args:
        seed: the seed, an integer.

    Example:

    >>> set_seed(0)
    """
    from keras.src.utils import module_utils

    lazy_tensorflow = module_utils.tensorflow
    skip = "tensorflow" not in sys.modules and lazy_tensorflow._available is None
    if skip:
        lazy_tensorflow._available = False
    try:
        keras.utils.set_random_seed(seed)
    finally:
        if skip:
            lazy_tensorflow._available = None


def first_images(x: object) -> np.ndarray:
    """The image array a model input starts with, read cheaply; `None` if unknown.

    Used by the kit, not by a lesson.

    A `PyDataset`'s first batch, a numpy array's first 256 rows, or the first
    input of a tuple or dict of them. Generators and `tf.data` datasets are
    not read (that would consume them).
    """
    if isinstance(x, keras.utils.PyDataset):
        if len(x) == 0:
            return None
        x = x[0][0]
    if isinstance(x, dict):
        x = next(iter(x.values()), None)
    elif isinstance(x, (tuple, list)):
        x = x[0] if x else None
    return np.asarray(x[:256]) if isinstance(x, np.ndarray) else None


def small_convnet(
    input_shape: tuple[int, int, int],
    n_classes: int,
    learning_rate: float = 1e-3,
    name: str = "small_convnet",
    max_pixel: float = 255.0,
    label_mode: str = "sparse",
) -> keras.Model:
    """Builds and compiles the small convnet every lesson trains.

    First used in lesson 00 (setup_and_data).

    Three convolution blocks and a dense head: small enough to train at about a
    thousand samples per second on a laptop CPU, big enough to learn the course
    shapes. It takes images in [0, `max_pixel`] and rescales them itself, so
    loaders can hand it raw uint8 batches.

    Args:
        input_shape: image shape, e.g. `(64, 64, 3)`.
        n_classes: number of classes.
        learning_rate: Adam learning rate.
        name: model name.
        max_pixel: the largest pixel value: 255 for uint8 pixels (the
            default), 1.0 for floats in [0, 1].
        label_mode: `"sparse"` (class indices, the default) or `"one_hot"`.

    Raises:
        ValueError: if `input_shape` is not `(height, width, channels)`,
            `n_classes` is below 2 or `label_mode` is unknown.

    Example:

    >>> model = small_convnet((32, 32, 3), n_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    input_shape = _checked(input_shape, n_classes)
    images = keras.Input(shape=input_shape)
    x = images
    for layer in [
        *_image_branch(max_pixel),
        layers.Dense(64, activation="relu"),
        layers.Dense(n_classes, activation="softmax"),
    ]:
        x = layer(x)
    model = CourseModel(images, x, name=name)
    return _compiled(model, learning_rate, max_pixel, label_mode)


def _checked(input_shape, n_classes):
    """The image shape as a tuple, after checking it and the class count."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"Expected input_shape (height, width, channels), received "
            f"{str(input_shape)[:100]}. Pass the shape of one image, without "
            f"the batch dimension."
        )
    if n_classes < 2:
        raise ValueError(f"Expected at least 2 classes, received n_classes={n_classes}.")
    return input_shape


def _image_branch(max_pixel):
    """The convolution layers of the small convnet, from pixels to a flat vector."""
    return [
        layers.Rescaling(1.0 / max_pixel),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Flatten(),
    ]


def _compiled(model, learning_rate, max_pixel, label_mode):
    class_labels.check_mode(label_mode, targets=False)
    model.max_pixel = float(max_pixel)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=(
            "sparse_categorical_crossentropy"
            if label_mode == "sparse"
            else "categorical_crossentropy"
        ),
        metrics=["accuracy"],
    )
    return model


def merged_model(
    image_shape: tuple[int, int, int],
    n_features: int,
    n_classes: int,
    learning_rate: float = 1e-3,
    input_names: tuple[str, str] = ("images", "features"),
    name: str = "merged_model",
    max_pixel: float = 255.0,
    label_mode: str = "sparse",
) -> keras.Model:
    """Builds and compiles a two-input model: a convnet on images, a dense branch on features.

    First used in lesson 07 (merged_models_bcolz).

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
        max_pixel, label_mode: as in `small_convnet`.

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
    for layer in _image_branch(max_pixel):
        x = layer(x)
    f = layers.Dense(64, activation="relu")(features)
    f = layers.Dense(32, activation="relu")(f)
    merged = layers.Concatenate()([x, f])
    merged = layers.Dense(64, activation="relu")(merged)
    outputs = layers.Dense(n_classes, activation="softmax")(merged)
    model = CourseModel([images, features], outputs, name=name)
    return _compiled(model, learning_rate, max_pixel, label_mode)
