"""One contract where a format plugs in (a row source), one loader for any source, and the
sampler's options as one checked bundle."""

import pickle

import numpy as np
import pytest
from PIL import Image

from course_lib.formats import ArrayRows, HDF5Rows, ImageFiles, NpyFiles, RowSource, check_source
from course_lib.loading import HDF5Dataset, SamplerOptions, SourceDataset


class Squares:
    """A format of one's own: row i is i squared, in a (1,) array."""

    def __len__(self):
        return 50

    def read(self, positions):
        return (np.asarray(positions) ** 2)[:, None]

    def __repr__(self):
        return "Squares(50)"


def test_every_source_of_the_kit_meets_the_contract(ci_data, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 2, 3), np.uint8))
    sources = [
        HDF5Rows(ci_data["hdf5"], "train/images"),
        NpyFiles(tmp_path, ["a"]),
        ImageFiles([tmp_path / "x.png"], (2, 2, 3)),
        ArrayRows(np.arange(3), "ids"),
    ]
    for source in sources:
        assert isinstance(source, RowSource)
        assert type(source).__name__ in repr(source)
        assert repr(pickle.loads(pickle.dumps(source))) == repr(source)


def test_a_new_format_needs_a_source_not_a_loader():
    loader = SourceDataset(Squares(), np.arange(50) % 2, batch_size=16, seed=3)
    seen = np.concatenate([loader[i][0][:, 0] for i in range(len(loader))])
    assert sorted(seen) == [i * i for i in range(50)]  # each row once per epoch
    x, y = loader[0]
    assert np.array_equal(y, np.sqrt(x[:, 0]).astype(int) % 2)  # each row with its label
    assert loader.sampler.strategy == "full"
    assert SourceDataset(Squares(), batch_size=16).sampler.strategy == "none"  # predict


def test_image_files_train_through_the_same_loader(tmp_path):
    paths = []
    for i in range(6):
        Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    loader = SourceDataset(ImageFiles(paths, (4, 4, 3)), np.arange(6) % 3, batch_size=4, seed=0)
    x, y = loader[0]
    assert x.shape == (4, 4, 4, 3) and np.array_equal(x[:, 0, 0, 0] // 40 % 3, y)


def test_what_is_not_a_source_or_not_aligned_is_named():
    with pytest.raises(TypeError, match="inputs must be a row source.*ndarray, which lacks read"):
        SourceDataset(np.zeros((5, 2)), batch_size=2)
    with pytest.raises(ValueError, match="Squares\\(50\\) has 50 rows but the targets have 49"):
        SourceDataset(Squares(), ArrayRows(np.arange(49)), batch_size=2)
    with pytest.raises(ValueError, match="labels of Squares\\(50\\)"):
        SourceDataset(Squares(), np.full(50, -1), batch_size=2)
    check_source(Squares())


def test_options_travel_as_one_checked_bundle(ci_data):
    options = SamplerOptions(shuffle="block", seed=4, block_size=8)
    by_bundle = HDF5Dataset(ci_data["hdf5"], batch_size=32, options=options)
    by_keyword = HDF5Dataset(ci_data["hdf5"], batch_size=32, shuffle="block", seed=4, block_size=8)
    assert by_bundle.options == by_keyword.options == options
    assert all(
        np.array_equal(a, b)
        for a, b in zip(by_bundle.sampler.batches(1), by_keyword.sampler.batches(1))
    )
    overridden = HDF5Dataset(ci_data["hdf5"], batch_size=32, options=options, seed=5)
    assert overridden.sampler.seed == 5 and overridden.sampler.block_size == 8
    train, valid = by_bundle.split(0.25)
    assert train.options == options and valid.options.shuffle == "none"
    assert "shuffle='block'" in repr(options)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"shuffle": "random"}, "Unknown shuffle strategy 'random'"),
        ({"block_size": 2.5}, "block_size must be a whole number"),
        ({"shard": (2, 2)}, "shard must be"),
    ],
)
def test_a_wrong_option_is_named_before_any_file_is_opened(settings, message):
    with pytest.raises(ValueError, match=message):
        SamplerOptions(**settings)
    with pytest.raises(ValueError, match=f"SourceDataset\\(Squares\\(50\\)\\): {message}"):
        SourceDataset(Squares(), batch_size=4, **settings)


def test_one_epoch_counter_whoever_advances_it(ci_data):
    from course_lib.loading import AugmentedDataset, FollowEpochs, RandomFlip
    from course_lib.loading.tfdata import AdvanceEpoch

    loader = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=1)
    wrapped = AugmentedDataset(loader, RandomFlip(), seed=1)
    wrapped.on_epoch_end()  # Keras, through the wrapper
    AdvanceEpoch(loader).on_epoch_end(0)  # a tf.data pipeline's callback
    assert loader.epoch == wrapped.epoch == 2
    FollowEpochs(wrapped).on_epoch_begin(7)  # a resumed run
    assert loader.epoch == wrapped.epoch == 7
    wrapped.set_epoch(3)
    assert loader.epoch == 3
    for wrong in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="epoch must be a whole number >= 0"):
            loader.set_epoch(wrong)
    assert np.array_equal(loader.sample_keys(0), loader.sampler.batches(3)[0])
