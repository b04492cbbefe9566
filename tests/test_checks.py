import math
import threading

import keras
import numpy as np
import pytest

from course_lib.checks import check_dataset, check_epoch_order
from course_lib.loading.loaders import HDF5Dataset

N, BATCH = 100, 32
IMAGES = np.arange(N * 4, dtype=np.float32).reshape(N, 2, 2, 1)  # every sample distinct
LABELS = np.arange(N) % 3


class ClassicGenerator(keras.utils.PyDataset):
    """The 2018 tutorial's Sequence, ported: floor in __len__, shuffle per epoch."""

    def __init__(
        self,
        batch_size=BATCH,
        length=math.floor,
        call_super=True,
        shuffle=True,
        labels=LABELS,
        **kwargs,
    ):
        if call_super:
            super().__init__(**kwargs)
        self.batch_size, self.length, self.shuffle, self.labels = (
            batch_size,
            length,
            shuffle,
            labels,
        )
        self.indexes = np.arange(N)
        self.on_epoch_end()

    def __len__(self):
        return int(self.length(N / self.batch_size))

    def __getitem__(self, index):
        ids = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        return IMAGES[ids], self.labels[ids]

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.indexes)


def problems(ds, **kwargs):
    return check_dataset(ds, n_samples=N, verbose=False, **kwargs).problems


def test_a_correct_dataset_passes(capsys):
    report = check_dataset(ClassicGenerator(length=math.ceil), n_samples=N, n_classes=3)
    assert report.ok
    assert "All checks passed" in capsys.readouterr().out


def test_the_kits_loader_passes(ci_data):
    ds = HDF5Dataset(ci_data["hdf5"], "valid/images", "valid/labels", batch_size=100, seed=0)
    assert check_dataset(ds, n_samples=512, n_classes=3, verbose=False).ok


def test_floor_len_drops_the_last_batch():
    [problem] = problems(ClassicGenerator())
    assert "4 of 100 samples never appear" in problem and "math.ceil" in problem


def test_floor_len_with_fewer_samples_than_a_batch_is_zero():
    [problem] = problems(ClassicGenerator(batch_size=128))
    assert "len(ds) is 0" in problem and "math.ceil" in problem


def test_missing_super_init(recwarn):
    found = problems(ClassicGenerator(length=math.ceil, call_super=False))
    assert any("super().__init__(**kwargs)" in p for p in found)


def test_same_order_every_epoch():
    [problem] = problems(ClassicGenerator(length=math.ceil, shuffle=False))
    assert "same order" in problem and "on_epoch_end" in problem
    assert not problems(ClassicGenerator(length=math.ceil, shuffle=False), shuffled=False)


def test_label_out_of_range():
    found = check_dataset(
        ClassicGenerator(length=math.ceil, labels=np.arange(N) % 4),
        n_samples=N,
        n_classes=3,
        verbose=False,
    ).problems
    assert any("label 3 but there are only 3 classes" in p for p in found)


class RepeatsFirstBatch(ClassicGenerator):
    def __getitem__(self, index):
        return super().__getitem__(0)


def test_duplicated_samples():
    found = problems(RepeatsFirstBatch(length=math.ceil))
    assert any("came twice in one epoch" in p for p in found)
    assert any("never appear" in p for p in found)


class LabelsByPosition(ClassicGenerator):
    """Shuffles the ids but takes the labels from the batch's position in the label array."""

    def __getitem__(self, index):
        ids = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        return IMAGES[ids], self.labels[
            index * self.batch_size : index * self.batch_size + len(ids)
        ]


class ShufflesLabelsApart(ClassicGenerator):
    """Shuffles the images' ids and, with another draw, a copy of the labels."""

    def on_epoch_end(self):
        super().on_epoch_end()
        self.labels = np.random.permutation(self.labels)


@pytest.mark.parametrize("misaligned", [LabelsByPosition, ShufflesLabelsApart])
def test_labels_that_leave_their_images(misaligned):
    [problem] = problems(misaligned(length=math.ceil))
    assert "came with another label in the second epoch" in problem
    assert "with the same ids" in problem


class ReturnsAList(ClassicGenerator):
    def __getitem__(self, index):
        return list(super().__getitem__(index))


def test_batches_must_be_tuples():
    [problem] = problems(ReturnsAList(length=math.ceil))
    assert "expects a tuple (inputs, labels)" in problem


@pytest.mark.parametrize("bad", [ClassicGenerator(), ClassicGenerator(shuffle=False)])
def test_report_lists_one_sentence_per_problem(bad, capsys):
    check_dataset(bad, n_samples=N)
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header == "Not done yet:"
    assert lines and all(line.startswith("- ") for line in lines)


class Stub(keras.utils.PyDataset):
    """What a learner's cell holds before they write anything."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        pass  # YOUR CODE HERE

    def __getitem__(self, index):
        pass  # YOUR CODE HERE


def test_a_blank_exercise_is_not_done_yet_and_nothing_raises(capsys):
    report = check_dataset(Stub(), n_samples=N)
    assert not report.ok and "len(ds) raised TypeError" in report.problems[0]
    assert capsys.readouterr().out.startswith("Not done yet:")


class Seeded(ClassicGenerator):
    """The order of each epoch from (seed, epoch), as worker processes need."""

    def __init__(self, **kwargs):
        self.epoch = 0
        super().__init__(length=math.ceil, **kwargs)

    def on_epoch_end(self):
        self.epoch += 1
        self.indexes = np.random.default_rng([0, self.epoch]).permutation(N)


def test_workers_need_the_setting_and_a_picklable_loader():
    assert check_dataset(
        Seeded(workers=2, use_multiprocessing=True), n_samples=N, workers=2, verbose=False
    ).ok
    [problem] = problems(Seeded(), workers=2)
    assert "ds.workers is 1, expected 2" in problem

    class HoldsALock(Seeded):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lock = threading.Lock()

    [problem] = problems(HoldsALock(workers=2), workers=2)
    assert "cannot be pickled" in problem and "open files lazily" in problem


def test_a_global_shuffle_is_fine_for_process_workers():
    """Keras reshuffles in the main process and sends that dataset to its workers (lesson 03)."""
    assert check_dataset(
        ClassicGenerator(length=math.ceil, workers=2), n_samples=N, workers=2, verbose=False
    ).ok


class PaddedBatches(ClassicGenerator):
    """The data-generator tutorial's `__data_generation`: an empty array of a full batch, filled
    with the batch's samples; `__len__` already corrected to `math.ceil`."""

    def __getitem__(self, index):
        ids = self.indexes[index * self.batch_size : (index + 1) * self.batch_size]
        x = np.empty((self.batch_size, *IMAGES.shape[1:]), np.float32)
        y = np.zeros(self.batch_size, int)
        for row, sample in enumerate(ids):
            x[row], y[row] = IMAGES[sample], self.labels[sample]
        return x, y


def test_a_last_batch_padded_to_a_full_one_is_named_as_such():
    found = problems(PaddedBatches(length=math.ceil))
    assert any("The last batch has 32 rows, but only 4 samples are left" in p for p in found)
    assert not any("came twice" in p for p in found)


class Float64Images(ClassicGenerator):
    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x.astype("float64") / 255, y


def test_float64_batches_are_flagged_with_their_cost():
    [problem] = problems(Float64Images(length=math.ceil))
    assert "float64" in problem and "8 times the uint8" in problem


class WithOrder(ClassicGenerator):
    """Exercise 3.1's answer: the epoch's order in self.order, the seed in self.seed."""

    def __init__(self, seed=0, follows_order=True, **kwargs):
        self.seed, self.follows_order = seed, follows_order
        super().__init__(length=math.ceil, **kwargs)

    def on_epoch_end(self):
        self.order = np.random.default_rng(self.seed).permutation(N)
        self.indexes = self.order.copy()  # what __getitem__ reads unless it follows the order

    def __getitem__(self, index):
        if self.follows_order:
            self.indexes = self.order
        return super().__getitem__(index)


def test_the_attributes_the_next_exercise_builds_on_are_checked():
    attributes = ("order", "seed")
    assert not problems(WithOrder(), attributes=attributes, shuffled=False)
    [problem] = problems(ClassicGenerator(length=math.ceil), attributes=attributes)
    assert "no attribute self.order, self.seed" in problem
    [problem] = problems(WithOrder(follows_order=False), attributes=attributes, shuffled=False)
    assert "whatever self.order held" in problem


# --- check_epoch_order: an order that is a pure function of (seed, epoch) ---------------


class Resumable(ClassicGenerator):
    """The answer: epoch e's order from (seed, e), and set_epoch."""

    def __init__(self, seed, entropy="seed and epoch", **kwargs):
        self.seed, self.entropy = seed, entropy
        super().__init__(length=math.ceil, **kwargs)
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = epoch
        entropy = {
            "seed and epoch": [self.seed, epoch],
            "seed": self.seed,
            "epoch": epoch,
            "seed + epoch": self.seed + epoch,
        }[self.entropy]
        self.indexes = np.random.default_rng(entropy).permutation(N)

    def on_epoch_end(self):
        if hasattr(self, "epoch"):
            self.set_epoch(self.epoch + 1)


def order_problems(make_loader):
    return check_epoch_order(make_loader, n_samples=N, verbose=False).problems


def test_epoch_order_passes_a_seed_and_epoch_order(capsys):
    assert check_epoch_order(Resumable, n_samples=N).ok
    assert "matches a loader that went through 3 epochs" in capsys.readouterr().out


def test_epoch_order_fails_the_classic_global_shuffle():
    [problem] = order_problems(lambda seed: ClassicGenerator(length=math.ceil))
    assert "no set_epoch(epoch)" in problem

    class GlobalShuffle(ClassicGenerator):  # np.random.seed(seed) once, then np.random.shuffle
        def __init__(self, seed):
            np.random.seed(seed)
            super().__init__(length=math.ceil)

        def set_epoch(self, epoch):
            self.epoch = epoch

    found = order_problems(GlobalShuffle)
    assert any("would not continue where it stopped" in p for p in found)
    assert any("Two loaders with seed 7 served different orders in epoch" in p for p in found)


def test_epoch_order_fails_the_usual_near_misses():
    found = order_problems(lambda seed: Resumable(seed, "seed"))
    assert any("came in the same order as the first" in p for p in found)
    found = order_problems(lambda seed: Resumable(seed, "epoch"))
    assert any("Seeds 7 and 8 gave the same order" in p for p in found)
    [problem] = order_problems(lambda seed: Resumable(seed, "seed + epoch"))
    assert "Seed 8's epoch 0 is seed 7's epoch 1" in problem

    class Chained(Resumable):  # each epoch drawn from the one before: replays only by walking
        def on_epoch_end(self):
            if not hasattr(self, "epoch"):
                return
            self.epoch += 1
            self.indexes = np.random.default_rng(self.indexes).permutation(self.indexes)

    found = order_problems(Chained)
    assert any("would not continue where it stopped" in p for p in found)
    assert "returned None: it is not written yet" in order_problems(lambda seed: None)[0]


def test_a_reference_is_measured_once_per_key_and_a_changed_file_is_measured_again(tmp_path):
    from course_lib.checks.report import file_key, reference_run

    runs = []
    path = tmp_path / "source.h5"
    path.write_bytes(b"one")
    measure = lambda: runs.append(1) or len(runs)
    assert reference_run(("test", *file_key(path)), measure) == 1
    assert reference_run(("test", *file_key(path)), measure) == 1
    path.write_bytes(b"three")  # another size: another key
    assert reference_run(("test", *file_key(path)), measure) == 2
