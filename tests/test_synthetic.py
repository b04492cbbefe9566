import numpy as np
import pytest

from course_lib.course import synthetic


def test_same_seed_same_data_different_seed_different_data():
    first = synthetic.images(0, 300, 32, seed=7)
    assert np.array_equal(first, synthetic.images(0, 300, 32, seed=7))
    assert not np.array_equal(first, synthetic.images(0, 300, 32, seed=8))


def test_a_sample_does_not_depend_on_the_range_it_is_made_in():
    whole = synthetic.images(0, 700, 16, seed=3)
    assert np.array_equal(synthetic.images(250, 530, 16, seed=3), whole[250:530])
    labels = synthetic.labels(0, 700, seed=3)
    assert np.array_equal(synthetic.labels(255, 257, seed=3), labels[255:257])
    features = synthetic.features(0, 700, 8, seed=3)
    assert np.array_equal(synthetic.features(600, 700, 8, seed=3), features[600:])


def test_shapes_dtypes_and_balanced_classes():
    images = synthetic.images(0, 3000, 24, seed=1)
    labels = synthetic.labels(0, 3000, seed=1)
    assert images.shape == (3000, 24, 24, 3) and images.dtype == np.uint8
    counts = np.bincount(labels, minlength=3)
    assert counts.min() > 900, counts
    assert synthetic.features(0, 10, 5, seed=1).shape == (10, 5)


def test_half_the_features_carry_the_label():
    labels = synthetic.labels(0, 1500, seed=2)
    features = synthetic.features(0, 1500, 128, seed=2)
    t = np.linspace(0, 1, 128)
    power = np.stack(
        [np.abs(features @ np.exp(-2j * np.pi * (k + 1) * t)) for k in range(3)], axis=1
    )
    # A sine of amplitude 1 over 128 points has power ~64 at its frequency;
    # noise alone has ~11 on average.
    signal = power.max(1) > 35
    assert abs(signal.mean() - synthetic.SIGNAL_FRACTION) < 0.05
    # Where there is a signal, the strongest frequency is the class.
    assert (power[signal].argmax(1) == labels[signal]).mean() > 0.95
    # Where there is none, the features say nothing about the class.
    assert (power[~signal].argmax(1) == labels[~signal]).mean() < 0.45


def test_empty_and_invalid_ranges():
    assert synthetic.images(5, 5, 8, seed=0).shape == (0, 8, 8, 3)
    with pytest.raises(ValueError, match="start <= stop"):
        synthetic.labels(10, 5, seed=0)
