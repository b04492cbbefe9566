"""The loaders on files the kit did not write, in the shapes users bring them.

Every file here is built by the test: a class-sorted PyTables EArray with one
split and one-hot labels, a food-101 style HDF5 file, a plain bcolz carray
with NaN rows, a per-sample .npy folder with a "validation" key and float
images in [0, 1], truncated files. Images carry their row number in two
pixels, so a test can tell exactly which samples a batch or a prediction holds.
"""

import json
import warnings

import bcolz
import h5py
import keras
import numpy as np
import pytest
import tables

from course_lib import models
from course_lib.checks import check_dataset
from course_lib.formats import ArrayRows, hdf5, image_files
from course_lib.formats.features import FeatureStore
from course_lib.formats.hdf5 import open_file
from course_lib.loading import labels
from course_lib.loading.loaders import HDF5Dataset, NpyDirectoryDataset, SourceDataset
from course_lib.loading.merged import HDF5Images, MergedDataset
from course_lib.loading.sampling import BatchSampler, mixing_distance
from data_scripts import images_to_hdf5

SHAPE = (8, 8, 3)
N_CLASSES = 3


def id_images(ids):
    """uint8 images whose first two pixels spell their id; the rest is noise."""
    ids = np.asarray(ids)
    images = np.random.default_rng(0).integers(0, 255, (len(ids), *SHAPE), np.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = ids // 256, ids % 256
    return images


def ids_of(images):
    images = np.asarray(images).reshape(len(images), *SHAPE).astype(int)
    return images[:, 0, 0, 0] * 256 + images[:, 0, 0, 1]


def reader_model():
    """A model whose prediction is its input, to see which samples it was given."""
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten()])


@pytest.fixture
def sorted_earray(tmp_path):
    """One split, class-sorted (one class appended after another), one-hot labels."""
    path = tmp_path / "sorted_earray.h5"
    per_class = 200
    with tables.open_file(path, "w") as file:
        images = file.create_earray("/", "images", tables.UInt8Atom(), (0, *SHAPE))
        onehot = file.create_earray("/", "labels", tables.Float32Atom(), (0, N_CLASSES))
        for label in range(N_CLASSES):
            ids = np.arange(label * per_class, (label + 1) * per_class)
            images.append(id_images(ids))
            onehot.append(np.eye(N_CLASSES, dtype=np.float32)[np.full(per_class, label)])
    return path, np.repeat(np.arange(N_CLASSES), per_class)


def write_h5(path, attrs=None, **datasets):
    with h5py.File(path, "w") as file:
        for name, values in datasets.items():
            file[name] = values
        file.attrs.update(attrs or {})
    return path


# 1. predict never returns shuffled rows without saying so ----------------------


@pytest.mark.backend
def test_a_loader_without_labels_predicts_in_file_order(sorted_earray):
    path, _ = sorted_earray
    ds = HDF5Dataset(path, "images", None, batch_size=64)
    assert ds.sampler.strategy == "none"
    model = reader_model()
    for _ in range(2):  # the same order on every call
        assert ids_of(model.predict(ds, verbose=0)).tolist() == list(range(600))


@pytest.mark.backend
def test_a_shuffled_loader_warns_in_predict_but_not_in_fit_or_evaluate(sorted_earray):
    """`_inside_keras_predict` against each Keras entry point that reads a loader."""
    path, _ = sorted_earray
    model = models.small_convnet(SHAPE, N_CLASSES)
    for workers in (1, 2):
        ds = HDF5Dataset(path, "images", "labels", batch_size=64, seed=0, workers=workers)
        with pytest.warns(
            UserWarning,
            match=r"sorted_earray.h5.*shuffles.*predict on a loader "
            r"built with shuffle='none'",
        ):
            model.predict(ds, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(ds, epochs=1, verbose=0, shuffle=False)
        model.evaluate(ds, verbose=0)
        model.predict(
            HDF5Dataset(path, "images", "labels", batch_size=64, shuffle="none"), verbose=0
        )


def test_every_loader_predicts_in_order_without_labels(tmp_path, sorted_earray):
    path, _ = sorted_earray
    store = tmp_path / "f.npy"
    np.save(store, np.arange(600, dtype=np.float32)[:, None])
    merged = MergedDataset(
        HDF5Images(path, "images", ids=None), store, np.arange(600)[::-1], batch_size=50
    )
    assert merged.sampler.strategy == "none"
    ((images, features),) = merged[1]
    assert ids_of(images).tolist() == features[:, 0].astype(int).tolist() == list(range(50, 100))
    folder = tmp_path / "npy"
    folder.mkdir()
    for i in range(5):
        np.save(folder / f"s{i}.npy", id_images([i])[0])
    npy = NpyDirectoryDataset(folder, [f"s{i}" for i in (4, 2, 0)], batch_size=2)
    assert npy.sampler.strategy == "none" and ids_of(npy[0][0]).tolist() == [4, 2]


# 2. the default shuffle mixes a class-sorted file ---------------------------------


@pytest.fixture(params=[64, 1], ids=["chunks of 64 rows", "chunks of 1 row"])
def sorted_one_hot(tmp_path, request):
    """A user's file: 3,000 images, PyTables EArrays appended class by class, one-hot."""
    from course_lib.course import user_files

    path = tmp_path / "own.h5"
    classes = user_files.write_class_sorted(
        path,
        id_images(np.arange(3000)),
        np.repeat(np.arange(N_CLASSES), 1000),
        N_CLASSES,
        chunk_rows=request.param,
    )
    with tables.open_file(path) as file:
        assert file.root.images.chunkshape[0] == request.param
    return path, classes


def served_epochs(ds, epochs=3):
    """`(ids, labels)` of each batch of each epoch, read as Keras reads a loader."""
    seen = []
    for epoch in range(epochs):
        ds.epoch = epoch
        seen.append([(ids_of(x), y) for x, y in (ds[i] for i in range(len(ds)))])
    return seen


@pytest.mark.parametrize("batch_size", [32, 64, 100])
def test_default_order_gives_every_batch_the_class_mix_of_a_sorted_file(sorted_one_hot, batch_size):
    path, classes = sorted_one_hot
    ds = HDF5Dataset(path, "images", "labels", batch_size=batch_size, seed=0)
    assert ds.sampler.strategy == "stratified"
    block = HDF5Dataset(path, "images", "labels", batch_size=batch_size, seed=0, shuffle="block")
    full = BatchSampler(len(classes), batch_size, "full", seed=0)
    for epoch, batches in enumerate(served_epochs(ds)):
        ids = np.concatenate([i for i, _ in batches])
        assert sorted(ids) == list(range(3000))  # each sample once
        assert all(np.array_equal(y, classes[i]) for i, y in batches)  # with its own label
        assert all(len(np.unique(y)) == N_CLASSES for _, y in batches[:-1])
        assert max(np.bincount(y).max() / len(y) for _, y in batches[:-1]) <= 0.55
        distance = mixing_distance(classes, [i for i, _ in batches])
        assert distance < 1.5 * mixing_distance(classes, full.batches(epoch))
        assert 1.8 * distance < mixing_distance(classes, block.sampler.batches(epoch))


@pytest.mark.parametrize(
    "workers",
    [
        {"workers": 2},
        {"workers": 2, "use_multiprocessing": True},
    ],
    ids=["threads", "processes"],
)
@pytest.mark.backend
def test_default_order_is_the_same_with_workers(sorted_one_hot, workers):
    path, _ = sorted_one_hot

    def epochs_seen(**kwargs):
        ds = HDF5Dataset(path, "images", "labels", batch_size=64, seed=4, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # predict on a shuffled loader
            return [ids_of(reader_model().predict(ds, verbose=0)) for _ in range(2)]

    alone, together = epochs_seen(), epochs_seen(**workers)
    for mine, theirs in zip(together, alone):
        assert sorted(mine) == list(range(3000)) and np.array_equal(mine, theirs)
    assert not np.array_equal(together[0], together[1])


# 3. labels and value ranges are checked where they enter ---------------------------


def test_a_label_out_of_range_names_file_dataset_and_row(tmp_path):
    y = np.arange(300) % 3
    y[217] = 9
    path = write_h5(
        tmp_path / "mine.h5",
        {"class_names": json.dumps(["a", "b", "c"])},
        x=id_images(range(300)),
        y=y,
    )
    with pytest.raises(
        ValueError,
        match=r"mine.h5:/y: row 217 has label 9, expected a class "
        r"index in \[0, 3\)",
    ):
        HDF5Dataset(path, "x", "y")
    plain = write_h5(tmp_path / "plain.h5", x=id_images(range(300)), y=y)
    HDF5Dataset(plain, "x", "y")  # no class count known: 9 is a valid index
    with pytest.raises(ValueError, match=r"plain.h5:/y: row 217 has label 9"):
        HDF5Dataset(plain, "x", "y", n_classes=3)
    assert HDF5Dataset(plain, "x", "y", label_mode=None, shuffle="none")[6][1][25] == 9


def test_broken_one_hot_rows_and_fractional_labels_are_named(tmp_path):
    onehot = np.eye(3, dtype=np.float32)[np.arange(90) % 3]
    onehot[41] = [1, 1, 0]
    with pytest.raises(
        ValueError,
        match=r"onehot.h5:/labels: row 41 is \[1.0, 1.0, 0.0\], "
        r"not a one-hot vector",
    ):
        HDF5Dataset(
            write_h5(tmp_path / "onehot.h5", images=id_images(range(90)), labels=onehot),
            "images",
            "labels",
        )
    with pytest.raises(ValueError, match=r"frac.h5:/labels: row 1 holds 0.5, not a class index"):
        HDF5Dataset(
            write_h5(
                tmp_path / "frac.h5", images=id_images(range(3)), labels=np.array([0, 0.5, 1])
            ),
            "images",
            "labels",
        )
    with pytest.raises(
        ValueError, match=r"masks.h5:/labels has shape \(3, 8, 8\).*label_mode=None"
    ):
        HDF5Dataset(
            write_h5(tmp_path / "masks.h5", images=id_images(range(3)), labels=np.zeros((3, 8, 8))),
            "images",
            "labels",
        )


@pytest.mark.parametrize("stored", ["fixed", "variable"])
def test_labels_stored_as_class_names_are_named_with_the_mapping_to_indices(tmp_path, stored):
    names = np.array(["circle", "square", "star"])[np.arange(30) % 3]
    path = tmp_path / "named.h5"
    with h5py.File(path, "w") as file:
        file["images"] = id_images(range(30))
        if stored == "fixed":  # bytes of a fixed width: dtype S6
            file["labels"] = names.astype("S6")
        else:  # variable-length UTF-8 strings, as pandas and h5py's string_dtype write them
            file.create_dataset("labels", data=names.astype(object), dtype=h5py.string_dtype())
    with pytest.raises(ValueError) as error:
        HDF5Dataset(path, "images", "labels")
    said = str(error.value)
    assert said.startswith(f"{path}:/labels: the labels are class names")
    assert "['circle', 'square', 'star']" in said and "np.searchsorted(class_names" in said
    # the advice works: indices written beside the names train as usual
    class_names = np.unique(names)
    with h5py.File(path, "a") as file:
        file["indices"] = np.searchsorted(class_names, names)
    _, y = HDF5Dataset(path, "images", "indices", batch_size=30, shuffle="none")[0]
    assert list(class_names[y[:3]]) == ["circle", "square", "star"]


def test_an_empty_split_is_named_as_empty(tmp_path):
    path = write_h5(tmp_path / "empty.h5", images=np.zeros((0, *SHAPE), np.uint8), labels=[0][:0])
    with pytest.raises(ValueError, match=r"empty.h5: images and labels are empty \(0 rows\)"):
        HDF5Dataset(path, "images", "labels")
    path = write_h5(tmp_path / "half.h5", images=id_images(range(4)), labels=np.zeros(0, int))
    with pytest.raises(ValueError, match=r"half.h5: labels is empty \(0 rows\)"):
        HDF5Dataset(path, "images", "labels")
    with pytest.raises(ValueError, match=r"expected images and labels of the same length"):
        HDF5Dataset(
            write_h5(tmp_path / "odd.h5", images=id_images(range(4)), labels=[0, 1]),
            "images",
            "labels",
        )
    with pytest.raises(ValueError, match=r"ArrayRows\(.*0 rows\) has no rows"):
        SourceDataset(ArrayRows(np.zeros((0, *SHAPE), np.uint8)), np.zeros(0, int))


@pytest.mark.backend
def test_one_hot_file_trains_the_kits_model_and_converts_either_way(sorted_earray):
    path, sorted_labels = sorted_earray
    sparse = HDF5Dataset(path, "images", "labels", batch_size=64, seed=0)
    x, y = sparse[0]
    assert y.ndim == 1 and sparse.n_classes == 3
    assert (y == sorted_labels[ids_of(x)]).all()
    model = models.small_convnet(SHAPE, N_CLASSES)
    history = model.fit(sparse, epochs=1, shuffle=False, verbose=0)  # no rank error
    assert np.isfinite(history.history["loss"][0])
    one_hot = HDF5Dataset(path, "images", "labels", batch_size=64, seed=0, label_mode="one_hot")
    assert one_hot[0][1].shape == (64, 3)
    models.small_convnet(SHAPE, N_CLASSES, label_mode="one_hot").fit(
        one_hot, epochs=1, shuffle=False, verbose=0
    )


@pytest.fixture
def float_npy_folder(tmp_path):
    """The classic per-sample layout with a "validation" key and float images in [0, 1]."""
    folder = tmp_path / "npy"
    folder.mkdir()
    rng = np.random.default_rng(1)
    names = [f"img_{i}" for i in range(96)]
    for name in names:
        np.save(folder / f"{name}.npy", rng.random(SHAPE, np.float32))
    partition = {"train": names[:64], "validation": names[64:]}
    label_of = {name: i % 3 for i, name in enumerate(names)}
    return folder, partition, label_of


@pytest.mark.backend
def test_float_images_in_unit_range_warn_and_preprocess_fixes_them(float_npy_folder):
    folder, partition, label_of = float_npy_folder
    train = NpyDirectoryDataset(folder, partition["train"], label_of, batch_size=32, seed=0)
    valid = NpyDirectoryDataset(folder, partition["validation"], label_of, batch_size=32)
    model = models.small_convnet(SHAPE, N_CLASSES)
    with pytest.warns(
        UserWarning,
        match=r"small_convnet.fit: the first batch's images are "
        r"floats in \[0, 1\].*max_pixel=1.0",
    ):
        model.fit(train, validation_data=valid, epochs=1, shuffle=False, verbose=0)
    scaled = NpyDirectoryDataset(
        folder, partition["train"], label_of, batch_size=32, seed=0, preprocess=lambda x: x * 255
    )
    assert scaled[0][0].max() > 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(scaled, epochs=1, shuffle=False, verbose=0)
        models.small_convnet(SHAPE, N_CLASSES, max_pixel=1.0).fit(train, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match=r"values up to .*max_pixel=255"):
        models.small_convnet(SHAPE, N_CLASSES, max_pixel=1.0).evaluate(scaled, verbose=0)


# 4. validation from a file with one split ------------------------------------------


def test_split_gives_disjoint_stratified_loaders_without_copying(sorted_earray):
    path, sorted_labels = sorted_earray
    loader = HDF5Dataset(path, "images", "labels", batch_size=32, seed=7)
    train, valid = loader.split(0.25)
    assert train.path == valid.path == path
    assert train.sampler.strategy == "stratified" and valid.sampler.strategy == "none"
    train_ids = np.concatenate([ids_of(train[i][0]) for i in range(len(train))])
    valid_ids = np.concatenate([ids_of(valid[i][0]) for i in range(len(valid))])
    assert len(train_ids) == 450 and len(valid_ids) == 150
    assert not set(train_ids) & set(valid_ids)
    assert sorted(np.concatenate([train_ids, valid_ids])) == list(range(600))
    assert np.bincount(sorted_labels[valid_ids]).tolist() == [50, 50, 50]
    assert valid_ids.tolist() == sorted(valid_ids)  # file order
    for i in range(len(train)):  # labels still belong to their images
        x, y = train[i]
        assert (y == sorted_labels[ids_of(x)]).all()
    again, _ = HDF5Dataset(path, "images", "labels", batch_size=32, seed=7).split(0.25)
    assert np.array_equal(again.rows, train.rows)
    other, _ = loader.split(0.25, seed=8)
    assert not np.array_equal(other.rows, train.rows)
    unlabelled, rest = HDF5Dataset(path, "images", None, batch_size=32, seed=1).split(0.5)
    assert len(unlabelled.rows) == len(rest.rows) == 300


@pytest.mark.backend
def test_split_loaders_train_with_validation(sorted_earray):
    path, _ = sorted_earray
    keras.utils.set_random_seed(0)
    train, valid = HDF5Dataset(path, "images", "labels", batch_size=32, seed=1).split(0.2)
    model = models.small_convnet(SHAPE, N_CLASSES)
    history = model.fit(train, validation_data=valid, epochs=2, shuffle=False, verbose=0)
    assert len(history.history["val_loss"]) == 2


# 5. errors that name the file and give a fix that works ----------------------------


def test_a_truncated_file_is_named_and_called_truncated(tmp_path, ci_data):
    whole = write_h5(tmp_path / "whole.h5", images=id_images(range(500)), labels=np.arange(500) % 3)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    message = r"cut.h5 looks truncated: it has [\d,]+ bytes but its header says [\d,]+"
    with pytest.raises(ValueError, match=message + r".*Copy the file again"):
        HDF5Dataset(cut, "images", "labels")
    with pytest.raises(ValueError, match=message + r".*images_to_hdf5.py"):
        hdf5.check_hdf5(cut)
    with pytest.raises(ValueError, match=message):
        HDF5Images(cut, "images", None)
    with pytest.raises(FileNotFoundError) as missing:
        open_file(tmp_path / "gone.h5")
    assert "make data" not in str(missing.value)
    with pytest.raises(FileNotFoundError, match="make data"):
        open_file(ci_data["hdf5"].with_name("gone.h5"))


def test_nan_feature_rows_fail_only_their_batches_and_the_advice_works(tmp_path):
    n, width = 5000, 16
    values = np.tile(np.arange(n, dtype=np.float32)[:, None], (1, width))
    values[[3, 4000], 5] = np.nan
    carray = bcolz.carray(values, rootdir=str(tmp_path / "plain.bcolz"), mode="w", chunklen=512)
    carray.flush()
    images = write_h5(tmp_path / "img.h5", images=id_images(range(n)))
    source = HDF5Images(images, "images", ids=None)
    clean = MergedDataset(source, carray, np.arange(8, 12), np.zeros(4, int), batch_size=4)
    (_, features), _ = clean[0]  # rows 8-11 share a chunk with row 3, and are fine
    assert features[:, 0].tolist() == [8, 9, 10, 11]
    ds = MergedDataset(
        source, carray, np.arange(n), np.zeros(n, int), batch_size=50, shuffle="none"
    )
    with pytest.raises(
        ValueError,
        match=r"plain.bcolz holds NaN in feature row\(s\) \[3\] "
        r"of this batch.*nan_rows\(\)",
    ):
        ds[0]
    ds[1]
    bad = FeatureStore(carray).nan_rows()
    assert bad.tolist() == [3, 4000]
    ids = np.setdiff1d(np.arange(n), bad)
    kept = MergedDataset(source, carray, ids, np.zeros(len(ids), int), batch_size=500, seed=0)
    served = np.concatenate([kept[i][0][1][:, 0] for i in range(len(kept))])
    assert sorted(served.astype(int)) == ids.tolist()


@pytest.mark.parametrize("size", [2.5, 0, -3, "64"])
def test_bad_batch_sizes_name_the_loader(sorted_earray, size):
    path, _ = sorted_earray
    with pytest.raises(
        ValueError,
        match=r"HDF5Dataset\(.*sorted_earray.h5\): batch_size must "
        r"be a whole number >= 1",
    ):
        HDF5Dataset(path, "images", "labels", batch_size=size)


def test_images_without_ids_list_the_datasets_and_offer_row_numbers(tmp_path):
    path = write_h5(
        tmp_path / "noids.h5", train_img=id_images(range(20)), train_labels=np.arange(20) % 3
    )
    with pytest.raises(
        ValueError,
        match=r"noids.h5 has no dataset 'train/ids'. Datasets in "
        r"the file: train_img, train_labels.*pass ids=None",
    ):
        HDF5Images(path, "train_img")
    source = HDF5Images(path, "train_img", ids=None)
    assert ids_of(source.read(np.array([3, 17]))).tolist() == [3, 17]


def test_converter_lists_every_file_left_out_one_line_each(tmp_path):
    from PIL import Image

    source = tmp_path / "photos"
    for name in ("cat", "dog"):
        (source / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(id_images([i])[0]).save(source / name / f"{i}.png")
    (source / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (source / "cat" / "notes.txt").write_text("taken in 2019")
    out = tmp_path / "pets.h5"
    sizes, skipped = images_to_hdf5.convert(source, out, size=8, on_error="skip", progress=False)
    assert sum(sizes.values()) == 10 and len(skipped) == 1
    listing = (tmp_path / "pets.h5.skipped.txt").read_text()
    assert listing.endswith("\n") and len(listing.splitlines()) == 2
    assert "broken.jpg\t" in listing and "notes.txt\tnot converted" in listing
    image_files.write_left_out(out, [("a.jpg", "line one\nline two\tend")])
    assert (tmp_path / "pets.h5.skipped.txt").read_text() == "a.jpg\tline one line two end\n"


# 6. check_dataset is right about the edge cases -----------------------------------


class Slicer(keras.utils.PyDataset):
    """A learner's loader over distinct samples, with configurable mistakes."""

    def __init__(self, n, batch_size, length, drop=(), **kwargs):
        super().__init__(**kwargs)
        self.ids = np.setdiff1d(np.arange(n), drop)
        self.images = id_images(np.arange(n))
        self.batch_size, self.length = batch_size, length
        self.order = np.random.default_rng(0).permutation(self.ids)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        ids = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.images[ids], ids % 3

    def on_epoch_end(self):
        self.order = np.random.default_rng(len(self.order) + 1).permutation(self.ids)


def test_checker_finds_an_empty_last_batch():
    [problem] = check_dataset(Slicer(96, 48, length=3), n_samples=96, verbose=False).problems
    assert "ds[2] is empty" in problem and "math.ceil" in problem


def test_checker_explains_missing_samples_only_with_causes_that_fit():
    one_lost = check_dataset(Slicer(100, 48, length=3, drop=[40]), n_samples=100, verbose=False)
    [problem] = one_lost.problems
    assert "1 of 100 samples never appear" in problem and "rounds down" not in problem
    assert "batches of these sizes: 2 of 48, 1 of 3" in problem
    floor = check_dataset(Slicer(100, 48, length=2), n_samples=100, verbose=False)
    [problem] = floor.problems
    assert "4 of 100 samples never appear" in problem
    assert "rounds down (2 full batches of 48)" in problem


def test_label_helpers_convert_both_ways():
    assert labels.convert(np.array([[0, 1], [1, 0]]), "sparse").tolist() == [1, 0]
    assert labels.convert(np.array([[1], [0]]), "sparse").tolist() == [1, 0]
    with pytest.raises(ValueError, match="needs n_classes"):
        labels.convert(np.array([1]), "one_hot")


# the helper lessons 04 and 05 and the tests use to make such a file ----------------------


def test_write_class_sorted_appends_one_class_after_another(tmp_path):
    from course_lib.course import user_files

    labels = np.array([2, 0, 1, 0, 2, 2, 1])
    path = tmp_path / "own.h5"
    written = user_files.write_class_sorted(
        path, id_images(np.arange(7)), labels, N_CLASSES, block_size=3
    )
    assert written.tolist() == [0, 0, 1, 1, 2, 2, 2]
    with tables.open_file(path) as file:  # PyTables EArrays, growable along the rows
        assert file.root.images.extdim == 0 and file.root.labels.shape == (7, N_CLASSES)
        assert ids_of(file.root.images[:]).tolist() == [1, 3, 2, 6, 0, 4, 5]  # stable
    loader = HDF5Dataset(path, "images", "labels", batch_size=7, shuffle="none")
    assert loader[0][1].tolist() == written.tolist()  # one-hot read back as classes
    sparse = tmp_path / "sparse.h5"
    user_files.write_class_sorted(sparse, id_images(np.arange(7)), labels, N_CLASSES, one_hot=False)
    with h5py.File(sparse) as file:
        assert file["labels"].dtype == np.int64 and file["labels"][:].tolist() == written.tolist()


def test_write_class_sorted_names_the_file_for_bad_labels(tmp_path):
    from course_lib.course import user_files

    path = tmp_path / "own.h5"
    with pytest.raises(ValueError, match=r"3 images but 2 labels for .*own\.h5"):
        user_files.write_class_sorted(path, id_images(np.arange(3)), [0, 1], N_CLASSES)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\); found 0\.\.3"):
        user_files.write_class_sorted(path, id_images(np.arange(2)), [0, 3], N_CLASSES)
