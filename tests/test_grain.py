"""Grain: the kit's sources and loaders behind Grain, ArrayRecord files, and the lesson's
checkers on right and wrong answers. Runs on both backends (`make test` runs it on JAX too)."""

import math
import pickle
import subprocess
import sys

import grain
import h5py
import keras
import numpy as np
import pytest

from course_lib import checks, models
from course_lib.formats import array_records, hdf5
from course_lib.loading import HDF5Dataset, grain_data

# Runs on both backends: Grain feeds fit on either; its worker processes start after the backend.
pytestmark = pytest.mark.backend

# --- the kit's sources behind Grain ----------------------------------------------------------


def test_grain_rows_serves_each_row_with_its_label(ci_data):
    path = ci_data["hdf5"]
    images, labels = hdf5.load_split(path, "train")
    rows = grain_data.GrainRows(hdf5.HDF5Rows(path, "train/images"), labels, n_classes=3)
    assert len(rows) == len(images)
    image, label = rows[17]
    assert np.array_equal(image, images[17]) and label == labels[17]
    batch = grain.MapDataset.source(rows).shuffle(seed=0).batch(64)[0]
    assert batch[0].shape == (64, *images.shape[1:]) and batch[1].shape == (64,)
    assert pickle.loads(pickle.dumps(rows))[3][1] == labels[3]


def test_grain_rows_refuses_labels_that_do_not_fit(ci_data):
    source = hdf5.HDF5Rows(ci_data["hdf5"], "train/images")
    with pytest.raises(ValueError, match="rows but .* labels"):
        grain_data.GrainRows(source, np.zeros(3, np.int64))
    bad = np.zeros(len(source), np.int64)
    bad[5] = 7
    with pytest.raises(ValueError, match="row 5"):
        grain_data.GrainRows(source, bad, n_classes=3)
    with pytest.raises(TypeError, match="row source"):
        grain_data.GrainRows(np.zeros((4, 2)), np.zeros(4))


def test_sampler_batches_follow_the_loader_epoch_after_epoch(ci_data):
    train = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=3)
    source = grain_data.SamplerBatches(train, epochs=3)
    n = len(train)
    assert len(source) == 3 * n
    for k in (0, n - 1, n, 2 * n + 5):
        expected = train.read(train.sampler.batches(k // n)[k % n])
        assert all(np.array_equal(a, b) for a, b in zip(source[k], expected))
    later = grain_data.SamplerBatches(train, epochs=1, first_epoch=2)
    assert np.array_equal(later[5][1], source[2 * n + 5][1])
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        grain_data.SamplerBatches(train, epochs=0)
    with pytest.raises(IndexError):
        source[3 * n]


@pytest.mark.parametrize("threads, processes", [(2, 0), (1, 2)])
def test_batch_dataset_gives_the_same_batches_with_threads_or_processes(
    ci_data, threads, processes
):
    train = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=3)
    dataset = grain_data.batch_dataset(train, epochs=2, threads=threads, processes=processes)
    labels = [batch[1] for batch in dataset]
    source = grain_data.SamplerBatches(train, epochs=2)
    assert len(labels) == len(source)
    assert all(np.array_equal(got, source[k][1]) for k, got in enumerate(labels))


def test_fit_reads_each_epoch_of_a_batch_dataset_once(ci_data):
    """With steps_per_epoch, fit runs one iterator through all the epochs: epoch e
    trains on the sampler's epoch e (Keras peeks at two batches first, on its own iterator)."""
    train = HDF5Dataset(ci_data["hdf5"], batch_size=64, seed=3)
    read = []
    original = train.read

    def recording(positions):
        read.append(np.asarray(positions).copy())
        return original(positions)

    train.read = recording
    model = models.small_convnet(train[0][0].shape[1:], 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    dataset = grain_data.batch_dataset(train, epochs=2, threads=1, prefetch=1)
    model.fit(dataset, epochs=2, steps_per_epoch=len(train), shuffle=False, verbose=0)
    served = {tuple(p) for p in read}
    for epoch in (0, 1):
        assert all(tuple(b) in served for b in train.sampler.batches(epoch))
    assert len(read) <= 2 * len(train) + 2 + 4  # the peek, and what was read ahead


# --- ArrayRecord ----------------------------------------------------------------------------


@pytest.fixture
def record_folder(tmp_path):
    """A small ArrayRecord folder: 40 train samples, labels 0-2, ids 100+."""
    from course_lib.formats import encoded

    image = np.zeros((8, 8, 3), np.uint8)
    with array_records.ArrayRecordWriter(
        tmp_path / "ar", {"class_names": ["a", "b", "c"], "image_shape": [8, 8, 3]}
    ) as writer:
        for i in range(40):
            writer.write("train", array_records.pack(encoded.encode(image + i), i % 3, 100 + i))
    return tmp_path / "ar"


def test_array_record_file_reads_any_record_and_pickles_as_its_path(record_folder):
    source = array_records.ArrayRecordFile(record_folder, "train")
    assert len(source) == 40
    image, label = source[31]
    assert image.shape == (8, 8, 3) and label == 31 % 3
    assert abs(int(image.mean()) - 31) <= 2  # JPEG, nearly the written value
    assert source.read([2, 5]).shape == (2, 8, 8, 3)
    assert len(pickle.dumps(source)) < 1000
    assert pickle.loads(pickle.dumps(source))[4][1] == 1
    order = np.concatenate([b[1] for b in grain.MapDataset.source(source).shuffle(seed=1).batch(8)])
    assert sorted(order.tolist()) == sorted([i % 3 for i in range(40)])


def test_shuffled_batches_read_a_new_permutation_each_epoch(record_folder):
    source = array_records.ArrayRecordFile(record_folder, "train")
    batches = grain_data.global_shuffle_batches(source, 8, seed=1, epochs=2)
    assert len(batches) == 10
    images, labels = batches[0]
    assert images.shape == (8, 8, 8, 3) and labels.shape == (8,)
    values = [b[0].mean(axis=(1, 2, 3)) for b in batches]  # record i holds i (JPEG: about)
    epochs = [np.concatenate(values[:5]), np.concatenate(values[5:])]
    for epoch in epochs:  # every record once
        assert np.abs(np.sort(epoch) - np.arange(40)).max() <= 2
    assert not np.allclose(epochs[0], epochs[1])


def test_array_record_missing_files_are_named(record_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="valid.array_record is missing"):
        array_records.ArrayRecordFile(record_folder, "valid")
    with pytest.raises(FileNotFoundError, match="array_records.json is missing"):
        array_records.ArrayRecordFile(tmp_path / "nowhere", "train")


def test_a_truncated_array_record_file_is_named_before_reading(record_folder):
    path = array_records.split_path(record_folder, "train")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"train\.array_record .*truncated"):
        array_records.ArrayRecordFile(record_folder, "train")


def test_a_label_out_of_range_names_file_and_record(record_folder, tmp_path):
    info = array_records.read_info(record_folder)
    with array_records.ArrayRecordWriter(tmp_path / "bad", info) as writer:
        for i in range(5):
            writer.write("train", array_records.pack(b"", 7 if i == 3 else 0, i))
    source = array_records.ArrayRecordFile(tmp_path / "bad", "train")
    with pytest.raises(ValueError, match=r"train\.array_record record 3 has label 7"):
        source[3]


def test_course_array_records_hold_every_split(ci_data):
    from course_lib import config
    from course_lib.course import course_data

    folder = course_data.ensure_layout("array_record", "ci")
    profile = config.get_profile("ci")
    for split, size in profile.split_sizes.items():
        assert len(array_records.ArrayRecordFile(folder, split)) == size
    _, labels = hdf5.load_split(ci_data["hdf5"], "valid")
    source = array_records.ArrayRecordFile(folder, "valid")
    assert [int(source[i][1]) for i in range(10)] == labels[:10].tolist()


# --- workers: the absl flag -----------------------------------------------------------------

WORKERS = """
import grain
{fix}
dataset = grain.MapDataset.range(8).batch(4).to_iter_dataset().mp_prefetch(
    grain.MultiprocessingOptions(num_workers=2))
print(sum(int(b.sum()) for b in dataset))
"""


@pytest.mark.parametrize("fixed", [False, True])
def test_grain_workers_need_the_absl_flags_parsed(fixed):
    """Claim (lesson 11): outside an absl program, Grain's worker processes fail with
    UnparsedFlagAccessError; `grain_data.allow_worker_processes()` makes them work."""
    fix = "from course_lib.loading import grain_data; grain_data.allow_worker_processes()"
    run = subprocess.run(
        [sys.executable, "-c", WORKERS.format(fix=fix if fixed else "")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if fixed:
        assert run.returncode == 0 and run.stdout.split()[-1] == "28", run.stderr[-2000:]
    else:
        assert run.returncode != 0 and "UnparsedFlagAccessError" in run.stderr


# --- the checkers, on right and wrong answers -----------------------------------------------


def _fit_args(source, batch_size):
    """The keyword arguments a right answer gives fit."""
    return {"steps_per_epoch": math.ceil(len(source) / batch_size), "shuffle": False}


EPOCH_ANSWERS = {
    "shuffle, batch, repeat": lambda s, b, seed: (
        grain.MapDataset.source(s).shuffle(seed=seed).batch(b).repeat(),
        _fit_args(s, b),
    ),
    "the same, as an IterDataset with threads": lambda s, b, seed: (
        grain.MapDataset.source(s)
        .shuffle(seed=seed)
        .batch(b)
        .repeat()
        .to_iter_dataset(grain.ReadOptions(num_threads=4)),
        {**_fit_args(s, b), "verbose": 0},
    ),
}
EPOCH_MISTAKES = {
    # The classic recipe: fit on it gives the same order every epoch.
    "the classic recipe (no repeat)": (
        lambda s, b, seed: (grain.MapDataset.source(s).shuffle(seed=seed).batch(b), {}),
        "ended after",
    ),
    "no shuffle": (
        lambda s, b, seed: (grain.MapDataset.source(s).batch(b).repeat(), _fit_args(s, b)),
        "file order",
    ),
    "repeat before shuffle": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).repeat().shuffle(seed=seed).batch(b),
            _fit_args(s, b),
        ),
        "more than once",
    ),
    # The pipeline the lesson shows first: right while batches divide the samples.
    "batch after repeat": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).shuffle(seed=seed).repeat().batch(b),
            _fit_args(s, b),
        ),
        "last batch is full",
    ),
    "shuffled batches": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).batch(b).shuffle(seed=seed).repeat(),
            _fit_args(s, b),
        ),
        "same batches",
    ),
    "one permutation for every epoch": (
        lambda s, b, seed: (
            grain.MapDataset.source(
                [s[int(i)] for i in np.random.default_rng(seed).permutation(len(s))]
            )
            .batch(b)
            .repeat(),
            _fit_args(s, b),
        ),
        "same order",
    ),
    "unseeded": (
        lambda s, b, seed: (
            grain.MapDataset.source(s)
            .shuffle(seed=int(np.random.randint(1 << 30)))
            .batch(b)
            .repeat(),
            _fit_args(s, b),
        ),
        "same seed gave another",
    ),
    "seed ignored": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).shuffle(seed=0).batch(b).repeat(),
            _fit_args(s, b),
        ),
        "the seed argument is ignored",
    ),
    "no steps_per_epoch": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).shuffle(seed=seed).batch(b).repeat(),
            {"shuffle": False},
        ),
        "no steps_per_epoch",
    ),
    "steps rounded down": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).shuffle(seed=seed).batch(b).repeat(),
            {"steps_per_epoch": len(s) // b, "shuffle": False},
        ),
        "round up",
    ),
    "fit left to shuffle": (
        lambda s, b, seed: (
            grain.MapDataset.source(s).shuffle(seed=seed).batch(b).repeat(),
            {"steps_per_epoch": math.ceil(len(s) / b)},
        ),
        "shuffle=False",
    ),
    "only the dataset": (
        lambda s, b, seed: grain.MapDataset.source(s).shuffle(seed=seed).batch(b).repeat(),
        "not (dataset, fit_kwargs)",
    ),
    "not a Grain dataset": (lambda s, b, seed: ([s[i] for i in range(len(s))], {}), "not a Grain"),
    "blank": (lambda s, b, seed: None, "returned None"),
}


@pytest.mark.parametrize("answer", EPOCH_ANSWERS.values(), ids=EPOCH_ANSWERS)
def test_check_grain_epochs_passes_right_answers(answer):
    assert checks.check_grain_epochs(answer, verbose=False).ok


@pytest.mark.parametrize("mistake", EPOCH_MISTAKES.values(), ids=EPOCH_MISTAKES)
def test_check_grain_epochs_fails_each_mistake(mistake):
    answer, said = mistake
    report = checks.check_grain_epochs(answer, verbose=False)
    assert not report.ok and said in " ".join(report.problems), report.problems


class LazySource(grain.sources.RandomAccessDataSource):
    def __init__(self, path, split):
        self.path, self.split, self._file = path, split, None

    def __len__(self):
        with h5py.File(self.path, "r") as file:
            return len(file[f"{self.split}/labels"])

    def __getitem__(self, index):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file[f"{self.split}/images"][index], self._file[f"{self.split}/labels"][index]

    def __getstate__(self):
        return {"path": self.path, "split": self.split, "_file": None}


class OpensInInit(LazySource):
    """The classic recipe: the handle is opened once, in the constructor."""

    def __init__(self, path, split):
        super().__init__(path, split)
        self._file = h5py.File(path, "r")

    __getstate__ = object.__getstate__


class PicklesItsHandle(LazySource):
    """Lazy, but the open handle goes into the pickle."""

    __getstate__ = object.__getstate__


class LoadsEverything(LazySource):
    def __init__(self, path, split):
        super().__init__(path, split)
        with h5py.File(path, "r") as file:
            self.images = file[f"{split}/images"][:]
            self.labels = file[f"{split}/labels"][:]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    __getstate__ = object.__getstate__


class OffByOne(LazySource):
    def __getitem__(self, index):
        return super().__getitem__(min(index + 1, len(self) - 1))


MODULE_HANDLES = {}


class ModuleLevelHandle(LazySource):
    """Opens the file once for the whole module, before any worker starts, and reads through
    it (what a notebook's `FILE = h5py.File(path)` above the class does)."""

    def __init__(self, path, split):
        super().__init__(path, split)
        global SHARED_FILE
        SHARED_FILE = MODULE_HANDLES[path] = h5py.File(path, "r")

    def __getitem__(self, index):
        return SHARED_FILE[f"{self.split}/images"][index], SHARED_FILE[f"{self.split}/labels"][
            index
        ]


def test_check_grain_source_passes_a_lazy_source():
    assert checks.check_grain_source(LazySource, verbose=False).ok


@pytest.mark.parametrize(
    "answer, said",
    [
        (OpensInInit, "keeps an open h5py object"),
        (PicklesItsHandle, "cannot be pickled"),
        (LoadsEverything, "holds the data itself"),
        (OffByOne, "is not row"),
        (ModuleLevelHandle, "an h5py object opened at module level"),
    ],
    ids=[
        "opens in __init__ (the classic recipe)",
        "pickles its handle",
        "loads all",
        "off by one",
        "a module-level handle",
    ],
)
def test_check_grain_source_fails_each_mistake(answer, said):
    report = checks.check_grain_source(answer, verbose=False)
    for handle in MODULE_HANDLES.values():
        handle.close()
    assert not report.ok and said in " ".join(report.problems), report.problems


def test_the_backend_is_the_one_asked_for():
    import os

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


def test_grains_worker_processes_unpickle_a_row_source_without_keras():
    """A Grain worker imports the module of the source it unpickles: `grain_data` imports no
    Keras, so `GrainRows` workers start without TensorFlow (seconds each, and its start-up
    notes in the notebook)."""
    code = (
        "import sys; import course_lib.loading.grain_data; "
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
