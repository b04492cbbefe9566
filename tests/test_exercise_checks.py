"""Every exercise checker, on a correct answer, a blank stub and broken ones.

Each broken input is a mistake learners make; the test asserts the one
sentence that names it.
"""

import math
import sys

import cloudpickle
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import checks, config
from course_lib.course import resume, synthetic, workloads
from course_lib.measure import budget

# The answers here reach the checkers' child processes by value, as a notebook's functions do
# (by reference, each child would import this module, and TensorFlow with it: seconds apiece).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# --- an HDF5 loader with a block shuffle ----------------------------------------------


class BlockLoader(keras.utils.PyDataset):
    """A correct minimal answer: shuffled blocks, each read with one slice."""

    def __init__(self, path, batch_size, block_size, seed, order="block", **kwargs):
        super().__init__(**kwargs)
        self.path, self.batch_size, self.block_size = path, batch_size, block_size
        self.seed, self.order, self.epoch, self.file = seed, order, 0, None
        with h5py.File(path, "r") as file:
            self.n = len(file["labels"])

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def _positions(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.order == "full":
            return rng.permutation(self.n)
        starts = np.arange(0, self.n, self.block_size)
        if self.order in ("block", "fancy", "eager"):
            starts = rng.permutation(starts)
        else:  # "batches": whole batches in random order, one run each
            starts = np.arange(0, self.n, self.batch_size)
            rng.shuffle(starts)
            return np.concatenate([np.arange(s, min(s + self.batch_size, self.n)) for s in starts])
        return np.concatenate([np.arange(s, min(s + self.block_size, self.n)) for s in starts])

    def __getitem__(self, index):
        if self.file is None:
            self.file = h5py.File(self.path, "r")
        rows = np.sort(self._positions()[index * self.batch_size : (index + 1) * self.batch_size])
        if self.order == "fancy":  # the naive recipe: one sorted fancy index per batch
            return self.file["images"][rows], self.file["labels"][rows]
        runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
        return tuple(
            np.concatenate([self.file[name][run[0] : run[-1] + 1] for run in runs])
            for name in ("images", "labels")
        )

    def __getstate__(self):
        return {**self.__dict__, "file": None}

    def on_epoch_end(self):
        self.epoch += 1


def test_block_loader_checker():
    assert checks.check_block_loader(BlockLoader, verbose=False).ok
    scattered = checks.check_block_loader(
        lambda *a, **k: BlockLoader(*a, order="full", **k), verbose=False
    )
    assert "that is a full shuffle, one read per row" in scattered.problems[0]
    one_run = checks.check_block_loader(
        lambda *a, **k: BlockLoader(*a, order="batches", **k), verbose=False
    )
    assert "most batches hold a single class" in one_run.problems[0]
    fancy = checks.check_block_loader(
        lambda *a, **k: BlockLoader(*a, order="fancy", **k), verbose=False
    )
    assert "used a fancy index" in fancy.problems[0] and "images[start:stop]" in fancy.problems[0]

    class Eager(BlockLoader):  # opens the file in __init__ and keeps it
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.file = h5py.File(self.path, "r")

        def __getstate__(self):
            return self.__dict__

    eager = checks.check_block_loader(Eager, verbose=False)
    assert "cannot be pickled once it has read a batch" in eager.problems[0]

    class OwnLabelShuffle(BlockLoader):  # labels read at other rows than the images
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x, np.random.default_rng(index).permutation(y)

    class InMemory(BlockLoader):  # reads the whole split in __init__, serves from memory
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with h5py.File(self.path, "r") as file:
                self.images, self.labels = file["images"][:], file["labels"][:]

    held = checks.check_block_loader(InMemory, verbose=False)
    assert any("holds 1,000 of the 1,000 images in memory" in p for p in held.problems)
    shifted = checks.check_block_loader(OwnLabelShuffle, verbose=False)
    assert any("the labels no longer follow their images" in p for p in shifted.problems)

    class OffsetLabels(BlockLoader):  # each sample's label read one class off, every epoch
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x, (y + 1) % 3

    offset = checks.check_block_loader(OffsetLabels, verbose=False)
    assert any("labels do not belong to their images" in p for p in offset.problems)
    blank = checks.check_block_loader(lambda *a, **k: None, verbose=False)
    assert "returned None: it is not written yet" in blank.problems[0]


# --- generators ------------------------------------------------------------------------

X = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
Y = np.repeat(np.arange(4), 25)  # sorted by class
STEPS = math.ceil(100 / 16)


def forever(images, labels, batch_size, shuffle=True, loop=True):
    rng = np.random.default_rng(0)
    while True:
        ids = rng.permutation(len(images)) if shuffle else np.arange(len(images))
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            yield images[batch], labels[batch]
        if not loop:
            return


def test_generator_checker():
    assert checks.check_generator(forever, X, Y, 16, STEPS, verbose=False).ok
    once = checks.check_generator(
        lambda *a: forever(*a, loop=False), X, Y, 16, STEPS, verbose=False
    )
    assert "ran out after 7 batches (epoch 1, step 0)" in once.problems[0]
    assert "while True" in once.problems[0]
    in_order = checks.check_generator(
        lambda *a: forever(*a, shuffle=False), X, Y, 16, STEPS, verbose=False
    )
    assert any("holds class 0 only" in p for p in in_order.problems)
    assert any("same order" in p for p in in_order.problems)
    assert checks.check_generator(
        lambda *a: forever(*a, shuffle=False), X, Y, 16, STEPS, shuffled=False, verbose=False
    ).ok
    shuffled_validation = checks.check_generator(
        forever, X, Y, 16, STEPS, shuffled=False, verbose=False
    )
    assert "Epoch 0 came in another order than the file's" in shuffled_validation.problems[0]

    def each_shuffled(images, labels, batch_size):  # one permutation for x, another for y
        rng = np.random.default_rng(0)
        while True:
            xs, ys = rng.permutation(images), rng.permutation(labels)
            for start in range(0, len(xs), batch_size):
                yield xs[start : start + batch_size], ys[start : start + batch_size]

    apart = checks.check_generator(each_shuffled, X, Y, 16, STEPS, verbose=False)
    assert any("labels are not those of their images" in p for p in apart.problems)
    eager = checks.check_generator(lambda x, y, b: [(x[:b], y[:b])], X, Y, 16, STEPS, verbose=False)
    assert "not a generator: use `yield`" in eager.problems[0]
    assert (
        "not written yet"
        in checks.check_generator(lambda *a: None, X, Y, 16, STEPS, verbose=False).problems[0]
    )


# --- HDF5 files and writers -------------------------------------------------------------

SHAPE = (8, 8, 3)


def write_file(path, n=300, chunks=(64, *SHAPE), maxshape=(None, *SHAPE), labels=None):
    with h5py.File(path, "w") as file:
        file.create_dataset(
            "images", data=np.ones((n, *SHAPE), np.uint8), chunks=chunks, maxshape=maxshape
        )
        file["labels"] = np.arange(n) % 3 if labels is None else labels
    return path


@pytest.mark.parametrize(
    "options, problem",
    [
        ({}, None),
        ({"chunks": None, "maxshape": None}, "is contiguous"),
        ({"maxshape": None}, "cannot grow"),
        ({"chunks": (64, 4, 8, 3)}, "cut images apart"),
        ({"chunks": (1, *SHAPE)}, "chunks of 0 KiB; aim for 10 KiB to 1 MiB"),
        ({"labels": np.full(300, 3)}, "row 0 has label 3, outside [0, 3)"),
    ],
)
def test_hdf5_file_checker(tmp_path, options, problem):
    path = write_file(tmp_path / "mine.h5", **options)
    report = checks.check_hdf5_file(path, 300, SHAPE, 3, verbose=False)
    assert report.ok if problem is None else problem in " ".join(report.problems)


def test_hdf5_file_checker_names_missing_datasets_and_files(tmp_path):
    path = write_file(tmp_path / "mine.h5")
    report = checks.check_hdf5_file(path, 300, SHAPE, 3, images="x", verbose=False)
    assert "mine.h5 has no dataset 'x' (it has: images, labels)" in report.problems[0]
    missing = checks.check_hdf5_file(tmp_path / "none.h5", 300, SHAPE, 3, verbose=False)
    assert "none.h5" in missing.problems[0]


def block_writer(path, n_samples, block_size, offset=0):
    size = config.get_profile("ci").image_size
    with h5py.File(path, "w") as file:
        images = file.create_dataset(
            "images",
            (0, size, size, 3),
            np.uint8,
            maxshape=(None, size, size, 3),
            chunks=(64, size, size, 3),
        )
        labels = file.create_dataset("labels", (0,), np.int64, maxshape=(None,), chunks=(4096,))
        for start in range(0, n_samples, block_size):
            stop = min(start + block_size, n_samples)
            images.resize(stop, axis=0)
            labels.resize(stop, axis=0)
            images[start:stop] = synthetic.images(start + offset, stop + offset, size, config.SEED)
            labels[start:stop] = synthetic.labels(start + offset, stop + offset, config.SEED)


def test_hdf5_writer_checker():
    assert checks.check_hdf5_writer(block_writer, verbose=False).ok
    shifted = checks.check_hdf5_writer(
        lambda p, n, b: block_writer(p, n, b, offset=1), n_samples=1024, verbose=False
    )
    assert "Row 0 of written.h5 does not hold sample 0" in shifted.problems[0]
    whole = checks.check_hdf5_writer(lambda p, n, b: block_writer(p, n, n), verbose=False)
    assert (
        "for a writer that holds one block: hold one block in memory at a time" in whole.problems[0]
    )
    blank = checks.check_hdf5_writer(lambda p, n, b: None, n_samples=1024, verbose=False)
    assert "wrote no file at `path`: it is not written yet" in blank.problems[0]


# --- augmentation ------------------------------------------------------------------------

IMAGES = np.random.default_rng(0).integers(0, 255, (8, 6, 6, 3), dtype=np.uint8)
IDS = np.arange(100, 108)


def flip(images, ids, epoch, seed=7, key=None):
    keys = ids if key is None else key(ids, epoch)
    out = images.copy()
    for row, sample in enumerate(keys):
        rng = np.random.default_rng([seed, epoch, sample] if key is None else sample)
        if rng.random() < 0.5:
            out[row] = out[row, :, ::-1]
        out[row] = np.roll(out[row], rng.integers(1, 3), axis=0)
    return out


def test_augmentation_checker():
    assert checks.check_augmentation(flip, IMAGES, IDS, verbose=False).ok
    cases = {
        "different images: draw from np.random.default_rng": lambda x, i, e: flip(
            x, i, e, key=lambda ids, epoch: [np.random.randint(1 << 30) for _ in ids]
        ),
        "changes with the batch it is in": lambda x, i, e: flip(
            x, i, e, key=lambda ids, epoch: [[epoch, row] for row in range(len(ids))]
        ),
        "Epoch 1 gave the same images": lambda x, i, e: flip(
            x, i, e, key=lambda ids, epoch: [[int(s)] for s in ids]
        ),
        "one random draw serves the whole batch": lambda x, i, e: flip(
            x, i, e, key=lambda ids, epoch: [[epoch, int(ids.sum())]] * len(ids)
        ),
        "keep the batch's shape": lambda x, i, e: x[:, :4],
        "unchanged: it is not written yet": lambda x, i, e: x,
        "a seed such as SEED + epoch + sample_id": lambda x, i, e: flip(
            x, i, e, key=lambda ids, epoch: [7 + epoch + int(s) for s in ids]
        ),
        "is not its input flipped and shifted by at most 3 pixels": noise,
    }
    for problem, transform in cases.items():
        report = checks.check_augmentation(transform, IMAGES, IDS, max_shift=3, verbose=False)
        assert problem in " ".join(report.problems), problem
    assert checks.check_augmentation(flip, IMAGES, IDS, max_shift=3, verbose=False).ok
    assert checks.check_augmentation(noise, IMAGES, IDS, verbose=False).ok  # any transform


def noise(images, ids, epoch):
    """Seeded per sample, but Gaussian noise rather than a flip and a shift."""
    out = np.empty_like(images)
    for row, sample in enumerate(ids):
        jitter = np.random.default_rng([7, epoch, sample]).normal(0, 8, images[row].shape)
        out[row] = np.clip(images[row] + jitter, 0, 255)
    return out


def classic_random_transform(images, ids, epoch):
    """The classic loop's draws: ImageDataGenerator.get_random_transform uses np.random's
    global state (apply_transform itself needs scipy, which the kit does not install)."""
    out = np.empty_like(images)
    for row, image in enumerate(images):
        if np.random.random() < 0.5:
            image = image[:, ::-1]
        out[row] = np.roll(image, (np.random.randint(-3, 4), np.random.randint(-3, 4)), (0, 1))
    return out


def test_augmentation_checker_on_the_classic_random_transform_loop():
    report = checks.check_augmentation(
        classic_random_transform, IMAGES, IDS, max_shift=3, verbose=False
    )
    assert "Two calls with the same ids and epoch gave different images" in report.problems[0]


class Augmented(keras.utils.PyDataset):
    """Exercise 6.2's wrapper; each flag is a mistake learners make."""

    def __init__(self, loader, augment, positions=False, forward=True, counts=True, **kwargs):
        super().__init__(**kwargs)
        self.loader, self.augment, self.epoch = loader, augment, 0
        self.positions, self.forward, self.counts = positions, forward, counts

    def __len__(self):
        return len(self.loader)

    def __getitem__(self, index):
        images, labels = self.loader[index]
        ids = np.arange(len(labels)) if self.positions else self.loader.sample_keys(index)
        return self.augment(images, ids, self.epoch), labels

    def on_epoch_end(self):
        self.epoch += self.counts
        if self.forward:
            self.loader.on_epoch_end()


def augmented_fit(
    path, valid_side=False, valid_order="none", validate=True, augment=None, **wrapper
):
    """Exercise 6.2's fit, right by default; each flag is a mistake learners make."""
    from course_lib.loading.loaders import HDF5Dataset

    def fit(model, checkers_augment):
        used = augment or checkers_augment
        train = Augmented(HDF5Dataset(path, batch_size=256, seed=0), used, **wrapper)
        valid = HDF5Dataset(
            path, "valid/images", "valid/labels", batch_size=256, shuffle=valid_order, seed=0
        )
        if valid_side:
            valid = Augmented(valid, used)
        return model.fit(
            train, validation_data=valid if validate else None, epochs=2, shuffle=False, verbose=0
        )

    return fit


@pytest.mark.backend
def test_augmented_fit_checker(ci_data):
    path = ci_data["hdf5"]
    report = checks.check_augmented_fit(augmented_fit(path), path, verbose=False)
    assert report.ok, report
    cases = {
        "augment only the training loader": augmented_fit(path, valid_side=True),
        "apply augment to the images": augmented_fit(path, augment=lambda x, ids, epoch: x),
        "sample ids (loader.sample_keys(index))": augmented_fit(path, positions=True),
        "Count epochs in your wrapper": augmented_fit(path, counts=False),
        "must call the wrapped loader's": augmented_fit(path, forward=False),
        "another order than the file's": augmented_fit(path, valid_order="full"),
        "pass validation_data=valid_loader": augmented_fit(path, validate=False),
    }
    for problem, fit in cases.items():
        report = checks.check_augmented_fit(fit, path, verbose=False)
        assert problem in " ".join(report.problems), (problem, report.problems)


# --- alignment ------------------------------------------------------------------------------

FRAME = checks.id_coded_frame(300)
MATRIX = checks.id_coded_matrix(300)


def test_feature_rows_checker():
    assert checks.check_feature_rows(
        lambda f, m: m[f["id"].to_numpy()], FRAME, MATRIX, verbose=False
    ).ok
    cases = {
        "sorted by id": lambda f, m: m[np.sort(f["id"].to_numpy())],
        "by the frame's index": lambda f, m: m[f.index.to_numpy()],
        "frame row 0 is sample": lambda f, m: m[f["id"].to_numpy()[::-1]],
        "expected (200, 4)": lambda f, m: m[:10],
        "not written yet": lambda f, m: None,
    }
    for problem, rows_for in cases.items():
        report = checks.check_feature_rows(rows_for, FRAME, MATRIX, verbose=False)
        assert problem in " ".join(report.problems), problem


class Merged(keras.utils.PyDataset):
    """30 id-coded samples in batches of 10 (the last two of 8 and 7 with `n=25`)."""

    def __init__(self, shift=0, n=30, length=math.ceil, first_batch_only=False, call_super=True):
        if call_super:
            super().__init__()
        self.shift, self.n, self.length, self.first_batch_only = shift, n, length, first_batch_only

    def __len__(self):
        return int(self.length(self.n / 10))

    def __getitem__(self, index):
        index = 0 if self.first_batch_only else index
        ids = np.arange(index * 10, min(index * 10 + 10, self.n))
        images = np.broadcast_to(ids[:, None, None, None], (len(ids), 2, 2, 1))
        return (images, MATRIX[(ids + self.shift) % 300]), ids % 3


def test_alignment_checker():
    assert checks.check_alignment(Merged(), verbose=False).ok
    report = checks.check_alignment(Merged(shift=1), verbose=False)
    assert (
        "Batch 0, row 0: the image is sample 0 but the feature row is sample 1"
        in report.problems[0]
    )
    assert checks.check_alignment(Merged(n=25), n_samples=25, verbose=False).ok
    cases = {
        "never appear in an epoch. __len__ rounds down": Merged(n=25, length=math.floor),
        "came twice in one epoch": Merged(first_batch_only=True),
        "does not call super().__init__(**kwargs)": Merged(call_super=False),
    }
    for problem, loader in cases.items():
        report = checks.check_alignment(loader, n_samples=loader.n, verbose=False)
        assert problem in " ".join(report.problems), (problem, report.problems)


# --- tf.data pipelines ----------------------------------------------------------------------

N = 64
DATA = np.arange(N * 2, dtype=np.float32).reshape(N, 2)


def read(i):
    """Sample i's input, DATA[i], computed as a read from a file would give it: no copy of the
    data in the pipeline's graph."""
    return tf.cast(tf.stack([2 * i, 2 * i + 1], axis=-1), tf.float32), i % 3


def pipeline(
    shuffle=True, parallel=True, prefetch=True, repeat=False, generator=False, drop_remainder=False
):
    if generator:
        ds = tf.data.Dataset.from_generator(
            lambda: iter(range(N)), output_signature=tf.TensorSpec((), tf.int64)
        )
    else:
        ds = tf.data.Dataset.range(N)
    if shuffle:
        ds = ds.shuffle(N, seed=0, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(10, drop_remainder=drop_remainder)
    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE if parallel else None)
    return ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds


def batches_shuffled():
    """The near miss: batch, then shuffle the batches (every sample once, a new order)."""
    return (
        tf.data.Dataset.range(N)
        .batch(10)
        .shuffle(8, seed=0, reshuffle_each_iteration=True)
        .map(read, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def whole_split_in_the_graph():
    """The tf.data guide's first pipeline on training data: from_tensor_slices of the arrays."""
    return (
        tf.data.Dataset.from_tensor_slices((DATA, np.arange(N) % 3))
        .shuffle(N, seed=0, reshuffle_each_iteration=True)
        .batch(10)
        .map(lambda x, y: (x, y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def cached_reads():
    """The tf.data guide's pattern applied to training data: read, cache, then shuffle."""
    return (
        tf.data.Dataset.range(N)
        .map(read, num_parallel_calls=tf.data.AUTOTUNE)
        .cache()
        .shuffle(N, seed=0, reshuffle_each_iteration=True)
        .batch(10)
        .prefetch(tf.data.AUTOTUNE)
    )


def missing_files():
    """A pipeline whose reads fail: the learner's paths name no file."""
    paths = tf.data.Dataset.range(N).map(lambda i: tf.strings.format("missing/{}.npy", [i]))
    return (
        paths.map(lambda path: (tf.io.read_file(path), 0), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(10)
        .prefetch(tf.data.AUTOTUNE)
    )


def test_pipeline_checker():
    assert checks.check_pipeline(pipeline(), N, verbose=False).ok
    cases = {
        "same order": pipeline(shuffle=False),
        "Reads run one at a time": pipeline(parallel=False),
        "end the pipeline with .prefetch": pipeline(prefetch=False),
        "repeats forever": pipeline(repeat=True),
        "cardinality is unknown": pipeline(generator=True),
        "Epoch 0 served 60 samples (60 distinct) for 64": pipeline(drop_remainder=True),
        "Expected a tf.data.Dataset": None,
        "calls .cache()": cached_reads(),
        "shuffles whole batches": batches_shuffled(),
        "Reading epoch 0 of the pipeline raised NotFoundError": missing_files(),
        "from_tensor_slices of the images": whole_split_in_the_graph(),
    }
    for problem, dataset in cases.items():
        report = checks.check_pipeline(dataset, N, verbose=False)
        assert problem in " ".join(report.problems), problem


# --- each training worker's TF_CONFIG and loader ---------------------------------------------


def worker_setup(worker, ports, seeds=(0, 0), index=None, addresses=None, as_json=True):
    import json
    import types as pytypes

    from course_lib.loading.sampling import BatchSampler
    from course_lib.scale_out import distributed

    config = json.loads(distributed.tf_config(ports, worker if index is None else index))
    if addresses is not None:
        config["cluster"]["worker"] = addresses
    sampler = BatchSampler(100, 10, "block", seed=seeds[worker], shard=(worker, len(ports)))
    return (json.dumps(config) if as_json else config), pytypes.SimpleNamespace(sampler=sampler)


def test_worker_setup_checker():
    ports = [4001, 4002]
    assert checks.check_worker_setup(worker_setup, ports, 100, verbose=False).ok
    cases = {
        "task {'type': 'worker', 'index': 0}; it must say which": lambda w, p: worker_setup(
            w, p, index=0
        ),
        "every worker must list the same addresses": lambda w, p: worker_setup(
            w, p, addresses=[f"localhost:{p[w]}"]
        ),
        "not JSON text: the environment holds strings": lambda w, p: worker_setup(
            w, p, as_json=False
        ),
        "go to more than one worker": lambda w, p: worker_setup(w, p, seeds=(0, 1)),
        "not written yet": lambda w, p: None,
    }
    for problem, setup in cases.items():
        report = checks.check_worker_setup(setup, ports, 100, verbose=False)
        assert problem in " ".join(report.problems), (problem, report.problems)


# --- shards -----------------------------------------------------------------------------------


def shard(epoch, worker, workers, n=100, seed=0):
    return np.random.default_rng([seed, epoch]).permutation(n)[worker::workers]


def test_shards_checker():
    assert checks.check_shards(shard, 100, verbose=False).ok
    cases = {
        "go to more than one worker": lambda e, w, k: shard(e, 0, k),
        "go to no worker": lambda e, w, k: shard(e, w, k)[:-1],
        "unbalanced": lambda e, w, k: np.arange(100)[:90] if w == 0 else np.arange(90, 100),
        "same order every epoch": lambda e, w, k: shard(0, w, k),
        "cut before the shuffle": lambda e, w, k: np.random.default_rng([0, e]).permutation(
            np.arange(100)[w::k]
        ),
        "changed between two calls": lambda e, w, k: shard(np.random.randint(1 << 20), w, k),
        "must lie in [0, 100)": lambda e, w, k: shard(e, w, k) + 1,
        "not written yet": lambda e, w, k: None,
    }
    for problem, fn in cases.items():
        report = checks.check_shards(fn, 100, verbose=False)
        assert problem in " ".join(report.problems), problem


# --- memory budgets -----------------------------------------------------------------------------


def train_on_everything(path, model):
    """The near miss of exercise 1.2: the whole uint8 split in memory, then train_on_batch."""
    with h5py.File(path, "r") as file:
        x, y = file["train/images"][:], file["train/labels"][:]
    for first in range(0, len(x), 64):
        model.train_on_batch(x[first : first + 64], y[first : first + 64])


def count_only(path, model):
    """The other near miss: trains nothing, returns the number of samples."""
    with h5py.File(path, "r") as file:
        return len(file["train/labels"])


@pytest.fixture(scope="module")
def check_blocks(tmp_path_factory):
    """`check_block_trainer` on 9 MiB of 16x16 images (a one-block trainer holds about 1.5 MiB):
    small images, so each training takes few seconds, and many rows, so the two are told apart.
    Each check trains in its own process (TensorFlow only: on JAX each compiles for 14 s)."""
    path = tmp_path_factory.mktemp("blocks") / "blocks.h5"
    with h5py.File(path, "w") as file:
        file["train/images"] = np.random.default_rng(0).integers(
            0, 255, (12288, 16, 16, 3), dtype=np.uint8
        )
        file["train/labels"] = np.arange(12288) % 3
    return lambda fn: checks.check_block_trainer(
        fn, path, budget_mib=4000, image_shape=(16, 16, 3), n_classes=3, verbose=False
    )


def test_block_trainer_checker_passes_the_one_block_trainer(check_blocks):
    from course_lib.checks.budget import _one_block_at_a_time

    assert check_blocks(_one_block_at_a_time).ok


def test_block_trainer_checker_names_the_whole_split_in_memory(check_blocks):
    problems = check_blocks(train_on_everything).problems
    assert "the whole split was in memory at once" in problems[0]


def test_block_trainer_checker_names_a_trainer_that_trains_nothing(check_blocks):
    assert (
        "took 0 training steps, but one epoch of 12,288 samples in batches of 64 takes 192"
        in check_blocks(count_only).problems[0]
    )


def test_conversion_checker(tmp_path):
    import tables

    from course_lib.checks.files import _copy_in_blocks

    source = tmp_path / "own.h5"  # a user's file: PyTables EArrays, class-sorted, one-hot
    with tables.open_file(source, "w") as file:
        file.create_earray(
            "/",
            "images",
            obj=np.random.default_rng(0).integers(0, 255, (8192, 32, 32, 3), dtype=np.uint8),
        )
        file.create_earray(
            "/", "labels", obj=np.eye(3)[np.repeat(np.arange(3), [3000, 3000, 2192])]
        )

    def whole(source, target, block_size):  # reads everything, then writes it in one go
        with h5py.File(source, "r") as src:
            x, y = src["images"][:], src["labels"][:]
        with h5py.File(target, "w") as dst:
            dst.create_dataset("images", data=x, maxshape=(None, 32, 32, 3), chunks=(64, 32, 32, 3))
            dst.create_dataset("labels", data=y.argmax(1), maxshape=(None,))

    def broken(fill):
        def convert(source, target, block_size):
            _copy_in_blocks(source, target, block_size)
            with h5py.File(target, "r+") as dst:
                dst[fill][...] = np.zeros(dst[fill].shape, dst[fill].dtype)  # all zeros

        return convert

    assert checks.check_conversion(_copy_in_blocks, source, 3, verbose=False).ok
    cases = {
        "for a converter that holds one block": whole,
        "Row 3000 of converted.h5:/labels is 0, but the source's one-hot row says class 1": broken(
            "labels"
        ),
        "Row 0 of converted.h5:/images differs from the source's image": broken("images"),
        "wrote no file at `target`": lambda s, t, b: 1,
    }
    for problem, convert in cases.items():
        report = checks.check_conversion(convert, source, 3, verbose=False)
        assert problem in " ".join(report.problems), (problem, report.problems)


def lean_fit(path):
    """Exercise 1.1's answer: the split as uint8 (the model rescales), one epoch of fit."""
    from course_lib import models

    with h5py.File(path, "r") as file:
        x, y = file["train/images"][:], file["train/labels"][:]
    history = models.small_convnet(x.shape[1:], 3).fit(x, y, batch_size=64, verbose=0)
    return {"samples": len(x), "loss": history.history["loss"][-1]}


def streamed_fit(path):
    """A near miss: the right answer, but streamed, so no split is held."""
    return workloads.fit_streaming(path)


def subset_fit(path):
    """A near miss: the classic recipe on as many samples as fit, not the whole split."""
    return workloads.fit_in_memory(path, limit=1024)


@pytest.fixture(scope="module")
def check_lean(tmp_path_factory):
    """`check_in_memory_fit` on lesson 01's ci demonstration file (8,192 images of 32x32, 24 MiB
    as uint8), under the budget of its cell: the streamed fit's peak plus 5 times the data (the
    classic recipe needs about 10 times)."""
    path = tmp_path_factory.mktemp("lean") / "demo.h5"
    with h5py.File(path, "w") as file:
        file["train/images"] = np.random.default_rng(0).integers(
            0, 255, (8192, 32, 32, 3), dtype=np.uint8
        )
        file["train/labels"] = np.arange(8192) % 3
    baseline = budget.run_function(streamed_fit, str(path), budget_mib=8000).peak_mib
    limit = baseline + 5 * 24
    return lambda fn: checks.check_in_memory_fit(
        fn, path, budget_mib=limit, baseline_mib=baseline, verbose=False
    )


def test_in_memory_fit_checker_passes_a_fit_on_uint8(check_lean):
    report = check_lean(lean_fit)
    assert report.ok, report


@pytest.mark.parametrize(
    "answer, said",
    [
        (workloads.fit_in_memory, "passed the budget"),  # the classic recipe: float32
        (subset_fit, "1,024 of the split's 8,192 samples"),
        (streamed_fit, "did not hold them"),
        (lambda path: None, "returned None: it is not written yet"),
        (lambda path: 0.5, 'return {"samples"'),
    ],
    ids=["the classic recipe", "a subset", "streamed", "blank", "only the loss"],
)
def test_in_memory_fit_checker_names_each_mistake(check_lean, answer, said):
    report = check_lean(answer)
    assert said in " ".join(report.problems), report.problems


# --- resuming ---------------------------------------------------------------------------------


class SavesOnlyAtEpochEnd(resume.PositionSaver):
    """The classic recipe: BackupAndRestore's position, the epoch only."""

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)


class SavesMidEpoch(SavesOnlyAtEpochEnd):
    """The right answer, written as a learner would."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.save(self.epoch, self.first_batch + batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self.first_batch = 0
        self.save(epoch + 1, 0)


class SavesBeforeTheBatch(SavesMidEpoch):
    """Names a batch as done before it is trained: a resume skips it."""

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        pass


class SavesKerasBatchIndex(SavesMidEpoch):
    """Keras's batch index instead of batches done: a resume trains a batch twice."""

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self.save(self.epoch, self.first_batch + batch)


class ForgetsFirstBatch(SavesMidEpoch):
    """Counts from the resumed fit's start: the second resume replays batches."""

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.save(self.epoch, batch + 1)


class CountsItsOwnEpochs(SavesMidEpoch):
    """Its own epoch counter, from 0 in every fit: a resume reshuffles the epoch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epochs_done = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epochs_done

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done += 1
        self.first_batch = 0
        self.save(self.epochs_done, 0)


class NeverSavesAtEpochEnd(SavesMidEpoch):
    def on_epoch_end(self, epoch, logs=None):
        self.first_batch = 0


@pytest.mark.parametrize(
    "saver, problem",
    [
        (resume.PositionSaver, "No position was saved before the crash after batch 4 of epoch 1"),
        (SavesOnlyAtEpochEnd, "a resume replays epoch 1 from its start, as BackupAndRestore"),
        (SavesBeforeTheBatch, "its weights are those after 2: a resume skips batch 2."),
        (SavesKerasBatchIndex, "its weights are those after 4: a resume trains batch 3 twice"),
        (ForgetsFirstBatch, "said 3 batches of epoch 1 done, but its weights are those after 6"),
        (CountsItsOwnEpochs, "a resume would serve epoch 0's order where epoch 1's belongs"),
        (NeverSavesAtEpochEnd, "When batch 0 of epoch 2 was trained, the last save said 6"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[:30],
)
@pytest.mark.backend
def test_position_saver_checker_fails_each_broken_answer(saver, problem):
    report = checks.check_position_saver(saver, verbose=False)
    assert not report.ok and problem in report.problems[0], report.problems


@pytest.mark.backend
def test_position_saver_checker_passes_right_answers_and_names_bad_input():
    assert checks.check_position_saver(SavesMidEpoch, verbose=False).ok
    assert checks.check_position_saver(resume.PositionBackup, verbose=False).ok
    wrong = checks.check_position_saver(SavesMidEpoch(".", 2), verbose=False)
    assert "Pass the class itself, a subclass of resume.PositionSaver" in wrong.problems[0]


# --- lesson 00: the three layouts -----------------------------------------------------------


def sample_reader(paths, global_rows=False):
    """Reads one sample from the three ci layouts; `global_rows` forgets the split offset."""
    from course_lib.course import course_data
    from course_lib.formats import npy

    features = course_data.open_features("ci")

    def read_sample(sample_id):
        split, ids = next(
            (name, ids) for name, ids in course_data.split_ranges("ci").items() if sample_id in ids
        )
        row = sample_id if global_rows else sample_id - ids.start
        with h5py.File(paths["hdf5"], "r") as file:
            images, labels = file[f"{split}/images"], file[f"{split}/labels"]
            row = min(row, len(images) - 1)
            image, label = images[row], labels[row]
        from_npy = np.load(paths["npy"] / f"{npy.sample_name(sample_id)}.npy")
        return image, from_npy, features[sample_id], label

    return read_sample


def test_sample_reader_checker(ci_data):
    assert checks.check_sample_reader(sample_reader(ci_data), "ci", verbose=False).ok
    shifted = checks.check_sample_reader(
        sample_reader(ci_data, global_rows=True), "ci", verbose=False
    )
    assert (
        "sample 2048 (in the valid split, from id 2048): the HDF5 image is another "
        "sample's" in shifted.problems[0]
    )
    assert "its row in /valid/images is 2048 - 2048" in shifted.problems[0]
    honest = sample_reader(ci_data)

    def npy_twice(sample_id):  # never opens the HDF5 file
        _, npy, row, label = honest(sample_id)
        return npy, npy, row, label

    twice = checks.check_sample_reader(npy_twice, "ci", verbose=False)
    assert "never read /train/images from the HDF5 file" in twice.problems[0]
    pairs = checks.check_sample_reader(lambda i: (1, 2), "ci", verbose=False)
    assert "expected a tuple (hdf5_image, npy_image, feature_row, label)" in pairs.problems[0]


def test_disk_estimate_checker(ci_data):
    def estimate(layout, profile, blocks=True):
        image = int(np.prod(profile.image_shape))
        if layout == "hdf5":
            return profile.n_samples * image
        if layout == "npy":
            per_file = 4096 * -(-(image + 128) // 4096) if blocks else image + 128
            return profile.n_samples * per_file
        return profile.n_samples * (profile.n_features * 4 + 40)

    assert checks.check_disk_estimate(estimate, "ci", verbose=False).ok
    report = checks.check_disk_estimate(
        lambda l, p: estimate(l, p, blocks=False), "ci", verbose=False
    )
    [problem] = report.problems
    assert problem.startswith("npy: estimated 9.4 MiB, but it uses 12.") and "4 KiB" in problem


def _to_record(image_bytes, label, sample_id, keys=("image", "label", "id"), shift=0):
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_bytes])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label + shift])),
        "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[sample_id])),
    }
    return tf.train.Example(
        features=tf.train.Features(feature={key: feature[key] for key in keys})
    ).SerializeToString()


def test_record_codec_checker():
    from course_lib.formats import records

    def as_dict(record):
        return records.parse(record)

    assert checks.check_record_codec(_to_record, as_dict, verbose=False).ok
    cases = [
        (lambda *a: None, as_dict, "returned None"),
        (lambda *a: "text", as_dict, "returned str"),
        (lambda i, l, s: _to_record(i, l, s, ("image", "label")), as_dict, "no 'id' feature"),
        (lambda i, l, s: _to_record(i, l, s, shift=1), as_dict, "'label' reads back as 3"),
        (_to_record, lambda record: None, "from_record(record) returned None"),
        (_to_record, lambda record: {"image": record}, "must return a dict with 'image', "),
        (
            _to_record,
            lambda record: {**as_dict(record), "id": tf.constant(0)},
            "does not give back what the record holds",
        ),
    ]
    for to_record, from_record, problem in cases:
        report = checks.check_record_codec(to_record, from_record, verbose=False)
        assert not report.ok and any(problem in p for p in report.problems), (problem, report)


def test_record_pipeline_checker():
    from course_lib.formats import records

    def pipeline(
        files, batch_size, seed, cycle=4, parallel=True, reshuffle=True, drop=False, seeded=True
    ):
        return (
            tf.data.Dataset.from_tensor_slices(files)
            .shuffle(len(files), seed=seed if seeded else None, reshuffle_each_iteration=reshuffle)
            .interleave(
                tf.data.TFRecordDataset,
                cycle_length=cycle,
                num_parallel_calls=tf.data.AUTOTUNE if parallel else None,
                deterministic=True,
            )
            .shuffle(64, seed=seed if seeded else None, reshuffle_each_iteration=reshuffle)
            .map(records.parse)
            .batch(batch_size, drop_remainder=drop)
        )

    assert checks.check_record_pipeline(pipeline, verbose=False).ok
    cases = [
        (lambda f, b, s: None, "seed=1) returned None"),
        (lambda f, b, s: pipeline(f, b, s).map(lambda d: d["image"]), "batches are "),
        (lambda f, b, s: pipeline(f, 30, s, drop=True), "distinct) of 320"),
        (lambda f, b, s: pipeline(f, b, s, reshuffle=False), "same order"),
        (lambda f, b, s: pipeline(f, b, s, seeded=False), "different orders"),
        (
            lambda f, b, s: tf.data.TFRecordDataset(f).map(records.parse).batch(b),
            "records of 1.0 shards",
        ),
        (lambda f, b, s: pipeline(f, b, s, parallel=False), "one at a time"),
        (
            lambda f, b, s: (
                tf.data.Dataset.from_tensor_slices(f)
                .shuffle(len(f), seed=s)
                .flat_map(tf.data.TFRecordDataset)
                .shuffle(1024, seed=s)
                .map(records.parse, num_parallel_calls=4)
                .batch(b)
            ),
            "reads the shards one after another (no interleave)",
        ),
    ]
    for make, problem in cases:
        report = checks.check_record_pipeline(make, verbose=False)
        assert not report.ok and any(problem in p for p in report.problems), (problem, report)


def _counted(batches, samples, batch_size, say_count=True):
    """Fails once the samples that arrived fall behind what the batches so far should hold."""

    def count(state, batch):
        arrived, steps = state
        arrived, steps = arrived + tf.shape(batch[0], out_type=tf.int64)[0], steps + 1
        due = tf.minimum(steps * batch_size, samples)
        said = [tf.strings.format("only {} samples arrived", arrived)] if say_count else ["short"]
        with tf.control_dependencies([tf.debugging.Assert(arrived == due, said)]):
            return (arrived, steps), tf.nest.map_structure(tf.identity, batch)

    return batches.scan((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), count)


def _fit_ready(batches, samples, batch_size, rebatch=True, declare=True, drop=False, count=True):
    if rebatch:
        batches = batches.rebatch(batch_size, drop_remainder=drop)
    if count:
        batches = _counted(batches, samples, batch_size)
    if declare:
        batches = batches.apply(tf.data.experimental.assert_cardinality(-(-samples // batch_size)))
    return batches


@pytest.mark.backend
def test_fit_ready_checker():
    assert checks.check_fit_ready(_fit_ready, verbose=False).ok
    cases = [
        (lambda b, n, s: None, "returned None"),
        (lambda b, n, s: [1, 2], "returned list"),
        (lambda b, n, s: _fit_ready(b, n, s, declare=False), "length is unknown"),
        (lambda b, n, s: _fit_ready(b, n, s, rebatch=False), "Reading one epoch failed"),
        (lambda b, n, s: _fit_ready(b, n, s, drop=True), "Reading one epoch failed"),
        (
            lambda b, n, s: b.unbatch().batch(s).apply(tf.data.experimental.assert_cardinality(12)),
            "declared length is 12",
        ),
        (
            lambda b, n, s: (
                b.unbatch().take(n - 3).batch(s).apply(tf.data.experimental.assert_cardinality(13))
            ),
            "200 samples",
        ),
        # Right length and batches, nothing counted: a lost worker's samples pass unnoticed.
        (lambda b, n, s: _fit_ready(b, n, s, count=False), "read through without an error"),
        # Counted, but the error says only that something is wrong.
        (
            lambda b, n, s: _fit_ready(b, n, s, count=False).apply(
                lambda d: _counted(d, n, s, say_count=False)
            ),
            "does not say how many",
        ),
    ]
    for make, problem in cases:
        report = checks.check_fit_ready(make, verbose=False)
        assert not report.ok and any(problem in p for p in report.problems), (problem, report)


# --- the classic recipes each lesson starts from, as learners paste them --------------------


class StanfordDataGenerator(keras.utils.PyDataset):
    """The 2018 blog's Sequence, ported only as far as Keras 3 requires (the base class)."""

    def __init__(self, list_ids, labels, batch_size=32, dim=(2, 2), n_channels=1, shuffle=True):
        self.dim, self.batch_size, self.labels = dim, batch_size, labels
        self.list_ids, self.n_channels, self.shuffle = list_ids, n_channels, shuffle
        self.on_epoch_end()

    def __len__(self):
        return int(np.floor(len(self.list_ids) / self.batch_size))

    def __getitem__(self, index):
        indexes = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        return self.__data_generation([self.list_ids[k] for k in indexes])

    def on_epoch_end(self):
        self.indexes = np.arange(len(self.list_ids))
        if self.shuffle:
            np.random.shuffle(self.indexes)

    def __data_generation(self, list_ids_temp):
        x = np.empty((self.batch_size, *self.dim, self.n_channels))
        y = np.empty(self.batch_size, dtype=int)
        for i, sample_id in enumerate(list_ids_temp):
            x[i] = np.full((*self.dim, self.n_channels), sample_id)
            y[i] = self.labels[sample_id]
        return x, y


def test_the_stanford_data_generator_fails_on_what_lesson_03_teaches():
    ids = list(range(100))
    report = checks.check_dataset(
        StanfordDataGenerator(ids, {i: i % 3 for i in ids}), 100, verbose=False
    )
    said = " ".join(report.problems)
    assert "does not call super().__init__(**kwargs)" in said and "__len__ rounds down" in said
    order = checks.check_epoch_order(
        lambda seed: StanfordDataGenerator(ids, {i: i % 3 for i in ids}, batch_size=25),
        100,
        verbose=False,
    )
    assert "no set_epoch(epoch) method" in order.problems[0]


def test_a_check_cell_run_twice_rewrites_its_file_while_the_first_is_open(tmp_path):
    """Lesson 07's check keeps `h5py.File(id_coded_file(...))` open; rerunning the cell
    must not fail with HDF5's "unable to truncate a file which is already open"."""
    first = h5py.File(checks.id_coded_file(tmp_path, 300), "r")["images"]
    again = h5py.File(checks.id_coded_file(tmp_path, 400), "r")["images"]
    assert (len(first), len(again)) == (300, 400)
    assert again[399, 0, 0, 0] == 399 and sorted(p.name for p in tmp_path.iterdir()) == ["ids.h5"]


def test_the_file_order_hdf5_generator_fails_on_what_lesson_02_teaches(tmp_path):
    """The PyTables/h5py recipe: start:end slices in file order, forever."""
    path = checks.id_coded_file(tmp_path, 300)

    def generate(images, labels, batch_size):
        with h5py.File(path, "r") as file:
            while True:
                for start in range(0, len(file["labels"]), batch_size):
                    end = start + batch_size
                    yield file["images"][start:end], file["labels"][start:end]

    with h5py.File(path, "r") as file:
        images, labels = file["images"][:], file["labels"][:]
    report = checks.check_generator(
        generate, images, labels, 32, math.ceil(300 / 32), verbose=False
    )
    said = " ".join(report.problems)
    assert "holds class 0 only: shuffle the sample ids" in said and "same order" in said


def test_the_sorted_fancy_index_loader_fails_on_what_lesson_05_teaches():
    """The naive recipe: a random batch of rows, sorted, one h5py fancy index."""
    report = checks.check_block_loader(
        lambda *a, **k: BlockLoader(*a, order="full", **k), verbose=False
    )
    said = " ".join(report.problems)
    assert "that is a full shuffle, one read per row" in said  # random rows, one run each
    naive = BlockLoader.__getitem__

    class Naive(BlockLoader):
        def __getitem__(self, index):
            self.order = "fancy"
            return naive(self, index)

    fancy = checks.check_block_loader(Naive, verbose=False)
    assert "used a fancy index" in " ".join(fancy.problems)


def test_the_bcolz_merged_generator_fails_on_what_lesson_06_teaches():
    """The classic merged-model generator indexes the carray with the filtered frame's index."""
    import bcolz

    matrix = bcolz.carray(MATRIX)
    frame = FRAME.copy()  # filtered and shuffled, index reset, as real tables are
    report = checks.check_feature_rows(
        lambda f, m: m[f.index.to_numpy()], frame, matrix, verbose=False
    )
    assert "looked up by the frame's index" in report.problems[0]


# --- lesson 05: a validation split of row numbers ----------------------------------------


def stratified_rows(labels, valid_fraction, seed, sort=True, by_class=True, seeded=True):
    """Exercise 5.2's answer, right by default; each flag is a mistake learners make."""
    rng = np.random.default_rng(seed if seeded else 0)
    groups = (
        [np.flatnonzero(labels == c) for c in np.unique(labels)]
        if by_class
        else [np.arange(len(labels))]
    )
    valid = np.concatenate(
        [rng.choice(g, round(valid_fraction * len(g)), replace=False) for g in groups]
    )
    train = np.setdiff1d(np.arange(len(labels)), valid)
    return train, (np.sort(valid) if sort else valid)


def test_split_rows_checker():
    assert checks.check_split_rows(stratified_rows, verbose=False).ok

    def last_rows(labels, valid_fraction, seed):  # the classic recipe: Keras's validation_split
        cut = round(len(labels) * (1 - valid_fraction))
        return np.arange(cut), np.arange(cut, len(labels))

    def overlapping(labels, valid_fraction, seed):
        return np.arange(len(labels)), stratified_rows(labels, valid_fraction, seed)[1]

    def global_state(labels, valid_fraction, seed):
        valid = np.sort(np.random.choice(len(labels), round(valid_fraction * len(labels)), False))
        return np.setdiff1d(np.arange(len(labels)), valid), valid

    def window_per_class(labels, valid_fraction, seed):  # a random window in each class
        rng, valid = np.random.default_rng(seed), []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            size = round(valid_fraction * len(rows))
            start = rng.integers(len(rows) - size + 1)
            valid.append(rows[start : start + size])
        valid = np.concatenate(valid)
        return np.setdiff1d(np.arange(len(labels)), valid), valid

    cases = {
        "hold class 2 only: on a file sorted by class the last rows are one class": last_rows,
        "Each class gave validation one run of consecutive rows": window_per_class,
        "is in both parts (300 rows are)": overlapping,
        "rows to validation, not 140: draw round(valid_fraction * size) rows from each class": (
            lambda l, f, s: stratified_rows(l, f, s, by_class=False)
        ),
        "The valid rows are not sorted": lambda l, f, s: stratified_rows(l, f, s, sort=False),
        "Seeds 0 and 1 gave the same validation rows": lambda l, f, s: stratified_rows(
            l, f, s, seeded=False
        ),
        "Seed 0 gave two different splits": global_state,
        "return the pair (train_rows, valid_rows)": lambda l, f, s: np.arange(len(l)),
        "returned None": lambda l, f, s: None,
    }
    for problem, split_rows in cases.items():
        report = checks.check_split_rows(split_rows, verbose=False)
        assert problem in " ".join(report.problems), (problem, report.problems)
