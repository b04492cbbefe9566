"""Augmentation: correct transforms, reproducible in any worker mode, train split only."""

import h5py
import keras
import numpy as np
import pytest

from course_lib import config
from course_lib.loading import augment
from course_lib.loading.augment import (
    AugmentedDataset,
    Compose,
    KerasLayer,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomShift,
    RandomZoom,
)
from course_lib.loading.loaders import HDF5Dataset

CI = config.get_profile("ci")
IMAGES = np.random.default_rng(0).uniform(0, 255, (16, 9, 11, 3)).astype(np.float32)


def rngs(n=16, epoch=0):
    return augment.sample_rngs(7, epoch, range(n))


def test_flip_is_exact_and_half_the_samples_flip():
    out = RandomFlip()(IMAGES, rngs())
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, IMAGES)]
    kept = [np.array_equal(o, i) for o, i in zip(out, IMAGES)]
    assert all(a or b for a, b in zip(flipped, kept)) and 0 < sum(flipped) < 16


def test_identity_settings_change_nothing_and_every_transform_keeps_shape():
    for transform in (
        RandomRotation(0),
        RandomShift(0),
        RandomZoom(0),
        RandomBrightness(0),
        RandomContrast(0),
        Compose([RandomRotation(0), RandomZoom(0)]),
    ):
        assert np.allclose(transform(IMAGES, rngs()), IMAGES, atol=1e-3)
    for transform in (
        RandomRotation(30),
        RandomShift(0.2),
        RandomZoom(0.3),
        RandomBrightness(0.2),
        RandomContrast(0.5),
    ):
        out = transform(IMAGES, rngs())
        assert out.shape == IMAGES.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 255 and not np.allclose(out, IMAGES)


def test_shift_moves_pixels_by_whole_steps():
    image = np.zeros((1, 9, 9, 1), np.float32)
    image[0, 4, 4] = 1
    matrix = np.eye(3, dtype=np.float32)[None].copy()
    matrix[0, 0, 2] = 2  # sample from two pixels to the right
    assert augment.warp(image, matrix)[0, 4, 2, 0] == 1


def test_compose_warps_once():
    geometric = Compose([RandomRotation(20), RandomZoom(0.2)])
    shared = rngs()  # the transforms draw from each sample's generator in turn
    product = RandomRotation(20).matrices(shared, (9, 11)) @ RandomZoom(0.2).matrices(
        shared, (9, 11)
    )
    assert np.allclose(geometric(IMAGES, rngs()), augment.warp(IMAGES, product))


def test_same_sample_same_epoch_same_augmentation_whatever_the_batch():
    transform = Compose([RandomFlip(), RandomRotation(15), RandomBrightness(0.1)])
    whole = transform(IMAGES, rngs())
    part = transform(IMAGES[5:9], augment.sample_rngs(7, 0, range(5, 9)))
    assert np.allclose(whole[5:9], part)
    assert not np.allclose(whole, transform(IMAGES, rngs(epoch=1)))


@pytest.mark.backend
def test_keras_layers_as_transforms_are_seeded():
    transform = KerasLayer(keras.layers.RandomRotation(0.1))
    first, again = transform(IMAGES, rngs()), transform(IMAGES, rngs())
    assert np.allclose(first, again) and not np.allclose(first, IMAGES)


@pytest.fixture
def id_file(tmp_path):
    path = tmp_path / "x.h5"
    images = np.random.default_rng(1).uniform(0, 255, (300, 8, 8, 3)).astype(np.float32)
    with h5py.File(path, "w") as file:
        file["images"], file["labels"] = images, np.arange(300)
    return path


def _epochs(path, epochs=2, **workers):
    inner = HDF5Dataset(path, "images", "labels", batch_size=32, seed=3)
    ds = AugmentedDataset(inner, Compose([RandomFlip(), RandomRotation(20)]), seed=5, **workers)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])
    return [model.predict(ds, verbose=0) for _ in range(epochs)]


@pytest.mark.parametrize(
    "workers",
    [
        {"workers": 3},
        {"workers": 2, "use_multiprocessing": True},
    ],
    ids=["threads", "processes"],
)
def test_augmentation_is_reproducible_across_worker_modes(id_file, workers):
    expected = _epochs(id_file)
    got = _epochs(id_file, **workers)
    for mine, theirs in zip(got, expected):
        assert np.allclose(mine, theirs)
    assert not np.allclose(got[0], got[1])


@pytest.mark.backend
def test_validation_data_is_never_augmented(id_file):
    """fit() evaluates the plain validation loader: its loss equals evaluate() on raw arrays."""
    keras.utils.set_random_seed(0)
    train = AugmentedDataset(
        HDF5Dataset(id_file, "images", "labels", batch_size=32, seed=3),
        Compose([RandomRotation(30), RandomBrightness(0.3)]),
        seed=1,
    )
    valid = HDF5Dataset(id_file, "images", "labels", batch_size=32, shuffle="none")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Dense(300),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(train, validation_data=valid, epochs=3, shuffle=False, verbose=0)
    with h5py.File(id_file, "r") as file:
        raw = model.evaluate(file["images"][:], file["labels"][:], batch_size=32, verbose=0)
    augmented = model.evaluate(train, verbose=0)
    assert np.isclose(history.history["val_loss"][-1], raw, rtol=1e-5)
    assert abs(augmented - raw) > 0.01 * raw


@pytest.mark.backend
def test_augments_only_the_images_of_merged_batches_and_checks_shapes(id_file):
    class Merged(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return (IMAGES[:4].copy(), np.ones((4, 5))), np.zeros(4)

    (x, f), y = AugmentedDataset(Merged(), RandomBrightness(0.5), seed=0)[1]
    assert x.shape == IMAGES[:4].shape and not np.allclose(x, IMAGES[:4])
    assert np.array_equal(f, np.ones((4, 5)))
    crop = AugmentedDataset(Merged(), lambda images, rngs: images[:, 1:], seed=0)
    with pytest.raises(ValueError, match="returned shape .4, 8, 11, 3. for a batch of shape"):
        crop[0]
