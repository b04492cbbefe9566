"""tf.data pipelines over the loaders: same batches, every sample once, new order per epoch."""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib.loading import tfdata
from course_lib.loading.loaders import HDF5Dataset


@pytest.fixture
def id_file(tmp_path):
    path = tmp_path / "ids.h5"
    with h5py.File(path, "w") as file:
        file["x"] = np.arange(500, dtype=np.float32)[:, None]
        file["y"] = np.arange(500) % 3
    return path


@pytest.mark.parametrize("build", [tfdata.from_generator, tfdata.parallel_reads])
def test_pipelines_serve_the_loaders_batches(id_file, build):
    loader = HDF5Dataset(id_file, "x", "y", batch_size=64, seed=2)
    pipeline = build(loader).prefetch(2)
    batches = list(pipeline.as_numpy_iterator())
    assert len(batches) == len(loader)
    for (x, y), index in zip(batches, range(len(loader))):
        expected_x, expected_y = loader[index]
        assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)
    assert pipeline.element_spec[0].shape.as_list() == [None, 1]


def test_fit_on_parallel_reads_sees_every_sample_once_and_a_new_order_each_epoch(id_file):
    loader = HDF5Dataset(id_file, "x", "y", batch_size=64, seed=2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3)])
    model.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    pipeline = tfdata.parallel_reads(loader, parallel_calls=4).prefetch(tf.data.AUTOTUNE)
    orders = []
    for _ in range(2):
        orders.append(np.concatenate([x[:, 0] for x, _ in pipeline.as_numpy_iterator()]))
        loader.on_epoch_end()
    for order in orders:
        assert sorted(order.astype(int)) == list(range(500))
    assert not np.array_equal(orders[0], orders[1])
    history = model.fit(
        pipeline, epochs=2, shuffle=False, verbose=0, callbacks=[tfdata.AdvanceEpoch(loader)]
    )
    assert len(history.history["loss"]) == 2 and loader.epoch == 4


def test_flip_and_shift_moves_each_image_by_a_fraction_of_its_size():
    height, width, n = 32, 64, 512  # not square: each axis has its own limit (2 and 4 pixels)
    images = np.zeros((n, height, width, 3), np.uint8)
    images[:, 10, 20] = 255  # one bright pixel, away from the edges
    moved = tfdata.flip_and_shift(tf.constant(images)).numpy()
    assert moved.shape == images.shape and moved.dtype == np.uint8
    rows, cols = [], []
    for image in moved:
        (row,), (col,) = np.nonzero(image[..., 0])  # still exactly one bright pixel
        rows.append(row - 10)
        cols.append(col)
    cols = np.array(cols)
    flipped = np.abs(cols - (width - 1 - 20)) <= 4
    shifts = np.where(flipped, cols - (width - 1 - 20), cols - 20)
    assert set(rows) == set(range(-2, 3)) and set(shifts) == set(range(-4, 5))
    assert 0.4 < flipped.mean() < 0.6  # half of them flipped, each image its own draw
