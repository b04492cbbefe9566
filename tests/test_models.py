import keras
import pytest

from course_lib import config, models
from course_lib.formats import hdf5

# Runs on both backends: the models train on the backend.
pytestmark = pytest.mark.backend


def test_small_convnet_shapes_and_errors():
    model = models.small_convnet((20, 24, 3), n_classes=4)
    assert model.input_shape == (None, 20, 24, 3)
    assert model.output_shape == (None, 4)
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        models.small_convnet((32, 32), 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        models.small_convnet((8, 8, 3), 1)


def test_the_ci_data_is_learnable(ci_data):
    """The small convnet clearly beats chance (1/3) in the ci profile."""
    profile = config.get_profile("ci")
    keras.utils.set_random_seed(config.SEED)
    x, y = hdf5.load_split(ci_data["hdf5"], "train")
    x_valid, y_valid = hdf5.load_split(ci_data["hdf5"], "valid")
    model = models.small_convnet(profile.image_shape, profile.n_classes)
    model.fit(x, y, batch_size=profile.batch_size, epochs=profile.epochs, verbose=0)
    _, accuracy = model.evaluate(x_valid, y_valid, verbose=0)
    print(f"ci validation accuracy after {profile.epochs} epochs: {accuracy:.3f}")
    assert accuracy > 0.6
