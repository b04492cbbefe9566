"""What the lessons say about libraries, checked against the installed versions.

One test per claim, named after it; its docstring cites the lesson and the cell
(`notebooks/solutions/NN_topic.ipynb`, cell id) that makes it. When an upgrade
changes a behaviour, the failing test names the sentence that is now wrong.
"""

import inspect
import json
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.utils import image_dataset_utils

from course_lib import models
from course_lib.course import workloads
from course_lib.loading import loaders
from course_lib.scale_out import child

# --- helpers -------------------------------------------------------------------------------


def tiny_model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def batches(n_batches=4, size=8, forever=False):
    while True:
        for _ in range(n_batches):
            yield np.zeros((size, 1), "float32"), np.zeros(size, "int32")
        if not forever:
            return


class Positions(keras.utils.PyDataset):
    """Serves positions 0..n-1 as inputs; `np.random.shuffle` in `on_epoch_end` (classic)."""

    def __init__(self, n=40, batch_size=10, **kwargs):
        super().__init__(**kwargs)
        self.order, self.batch_size, self.calls = np.arange(n), batch_size, []
        self.requested = []

    def __len__(self):
        return len(self.order) // self.batch_size

    def __getitem__(self, index):
        self.requested.append(index)
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return rows[:, None].astype("float32"), np.zeros(len(rows), "int32")

    def on_epoch_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self):
        self.calls.append("end")
        np.random.shuffle(self.order)


def printed_json(script, backend, *args):
    """Runs `script` (with `args`) in a fresh Python on `backend`; the JSON of its last line."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def caught_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


# --- every lesson's Setup cell ----------------------------------------------------------------

PRE_ABSL = "All log messages before absl::InitializeLog() is called are written to STDERR"


def test_tensorflow_logs_its_start_up_before_absl_whatever_tf_cpp_min_log_level():
    """Every Setup cell (`course.startup`): importing TensorFlow writes absl's pre-init warning
    and the CUDA probe's line to stderr even with `TF_CPP_MIN_LOG_LEVEL=3`, and the first look
    for a GPU its cuInit line; the kit's `import_backend` keeps them all off stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    plain = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True
    )
    assert PRE_ABSL in plain.stderr and "Could not find cuda drivers" in plain.stderr
    setup = (
        "from course_lib.course import startup; keras = startup.import_backend(); "
        "import numpy as np; keras.ops.convert_to_tensor(np.zeros(3))"  # a first op on a device
    )
    quiet = subprocess.run([sys.executable, "-c", setup], env=env, capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-2000:]


SEEDED_WEIGHTS = """
import json, sys
import keras
from course_lib import models
seed = models.set_seed if sys.argv[1] == "kit" else keras.utils.set_random_seed
weights = []
for _ in range(2):
    seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    weights.append(float(keras.ops.sum(model.weights[0])))
print(json.dumps({"tensorflow loaded": "tensorflow" in sys.modules, "weights": weights}))
"""


def test_keras_seeding_imports_tensorflow_on_jax_and_the_kits_seeding_does_not():
    """The kit's children seed with `models.set_seed`: `keras.utils.set_random_seed` imports
    TensorFlow (seconds) on every backend whenever it is installed; both make weights repeat."""
    kerass = printed_json(SEEDED_WEIGHTS, "jax", "keras")
    kits = printed_json(SEEDED_WEIGHTS, "jax", "kit")
    assert kerass["tensorflow loaded"] and not kits["tensorflow loaded"]
    for seeded in (kerass, kits):
        assert seeded["weights"][0] == seeded["weights"][1]
    assert kits["weights"] == kerass["weights"]


# --- lesson 01: memory ----------------------------------------------------------------------


def test_uint8_divided_by_a_python_float_is_float64():
    """01 `799ca464`, `a8ba02b7`: `x / 255.0` on uint8 gives float64, 8 bytes per value."""
    assert (np.zeros(4, np.uint8) / 255.0).dtype == np.float64


def test_astype_float32_takes_four_bytes_per_value():
    """01 `799ca464`: a float32 value takes 4 bytes instead of 1."""
    x = np.zeros((10, 8, 8, 3), np.uint8)
    assert x.astype("float32").nbytes == 4 * x.nbytes


def test_a_child_process_starts_with_its_own_peak_not_its_parents():
    """DESIGN, `child.py`: a child's VmHWM is its own after exec, while `ru_maxrss` may not be."""
    ballast = np.ones(300 * 2**20, np.uint8)  # the parent's peak grows by 300 MiB
    result = child.run(workloads.allocate, 1, hold_s=0.0)
    assert result.ok and result.peak_mib < 300
    del ballast


# --- lesson 02: generators -----------------------------------------------------------------


def test_fit_generator_is_gone():
    """02 `08ff530a`, `2aaf7a85`: `fit_generator` does not exist in Keras 3."""
    assert not hasattr(keras.Model, "fit_generator")
    assert not hasattr(keras.Model, "evaluate_generator")


def test_fit_has_no_workers_argument():
    """02 `2aaf7a85`, 03 `2c7a5dbf`: `fit(workers=...)` is a TypeError in Keras 3."""
    with pytest.raises(TypeError, match="workers"):
        tiny_model().fit(batches(), epochs=1, workers=2, verbose=0)


def test_fit_rejects_the_thread_safe_wrapper():
    """02 `c274fa5e`: fit accepts only real generator objects; a lock wrapper is refused."""
    with pytest.raises(ValueError, match="Unrecognized data type"):
        tiny_model().fit(loaders.ThreadSafeIterator(batches()), steps_per_epoch=2, verbose=0)


def test_a_generator_shared_by_threads_fails_already_executing():
    """02 `af0b5fbb`: a second `next` while the generator runs raises ValueError."""
    started, release, errors = threading.Event(), threading.Event(), []

    def slow():
        started.set()
        release.wait(5)
        yield 1

    generator = slow()
    first = threading.Thread(target=lambda: next(generator))
    first.start()
    started.wait(5)
    try:
        next(generator)
    except ValueError as error:
        errors.append(str(error))
    release.set()
    first.join()
    assert errors and "already executing" in errors[0]


def test_shuffle_true_is_ignored_for_generators_with_a_warning():
    """02 `f9d7d73c`: `fit(shuffle=True)` is ignored for generators, with Keras's warning."""
    said = caught_warnings(
        lambda: tiny_model().fit(batches(forever=True), steps_per_epoch=2, shuffle=True, verbose=0)
    )
    assert any("is expected to yield already-shuffled data" in s for s in said)


def test_class_weight_is_refused_for_generators():
    """02 (caveats): `class_weight` cannot be given with a Python generator."""
    with pytest.raises(ValueError, match="class_weight.*not supported for Python generator"):
        tiny_model().fit(batches(), steps_per_epoch=2, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_a_finite_generator_runs_out_of_data_with_a_warning():
    """02 `3c2dd4a5`, `5febd576`: too few batches for steps x epochs warns, fit goes on."""
    model = tiny_model()
    said = caught_warnings(lambda: model.fit(batches(4), steps_per_epoch=4, epochs=3, verbose=0))
    assert any("Your input ran out of data" in s for s in said)
    assert len(model.history.epoch) == 3


def batches_then_error(n_batches, message):
    """A generator that gives `n_batches` and then raises: reading past them shows up."""
    for _ in range(n_batches):
        yield np.zeros((4, 1), "float32"), np.zeros(4, "int32")
    raise RuntimeError(message)


def test_an_infinite_generator_without_steps_per_epoch_never_ends_an_epoch():
    """02 (caveats): without `steps_per_epoch`, fit reads a generator until it stops."""
    with pytest.raises(Exception, match="still in epoch 0"):  # TensorFlow wraps it
        tiny_model().fit(
            batches_then_error(50, "still in epoch 0 after 50 batches"), epochs=1, verbose=0
        )


def test_validation_generator_without_validation_steps_is_read_until_it_stops():
    """02 `5b250f75` (caveats): validation reads the generator until it ends, or forever."""
    with pytest.raises(Exception, match="asked for more"):  # TensorFlow wraps it
        tiny_model().fit(
            batches(forever=True),
            steps_per_epoch=2,
            verbose=0,
            validation_data=batches_then_error(20, "validation asked for more"),
        )


# --- lesson 03: PyDataset -------------------------------------------------------------------


def test_fit_waits_for_a_process_workers_batch_with_no_time_limit():
    """03 `3365092c`, `loading.processes`: Keras's `OrderedEnqueuer.get` waits on each batch's
    `AsyncResult.get()` without a timeout, so workers that die leave `fit` waiting."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import OrderedEnqueuer

    source = inspect.getsource(OrderedEnqueuer.get)
    assert "inputs = value.get()" in source and "value.get(timeout" not in source


def test_a_spawned_worker_cannot_load_a_class_defined_in_main_without_a_file():
    """03 `3365092c`, README: under `spawn`, a class of a `__main__` that is no file (a notebook,
    `python -c`) fails in the worker with "Can't get attribute ... on <module '__main__'>"."""
    code = (
        "import multiprocessing, pickle\n"
        "class Positions:\n    pass\n"
        "if __name__ == '__main__':\n"
        "    blob = pickle.dumps(Positions())\n"
        "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
        "        try:\n            pool.apply(pickle.loads, (blob,))\n"
        "        except AttributeError as error:\n            print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Can't get attribute 'Positions' on <module '__main__'" in done.stdout, done.stderr


def test_sequence_is_pydataset():
    """03 `32b31446`, `97a2252e`: `keras.utils.Sequence` is another name for `PyDataset`."""
    assert keras.utils.Sequence is keras.utils.PyDataset


def test_forgetting_super_init_warns_and_loses_workers():
    """03 `beb161a4`, `20209057`: no `super().__init__` means a warning and one worker."""

    class Forgot(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            pass

        def __len__(self):
            return 1

    said = caught_warnings(lambda: Forgot(workers=4).workers)
    assert Forgot(workers=4).workers == 1
    assert any("super().__init__" in s for s in said)


def test_fit_calls_on_epoch_end_once_before_the_first_epoch():
    """03 `136ac2c5`, 12 `c9760f07`: fit ends an epoch before epoch 0 (Keras >= 3.8)."""
    data = Positions()
    tiny_model().fit(data, epochs=2, shuffle=False, verbose=0)
    assert data.calls == ["end", "begin", "end", "begin", "end"]


CALLS_DATASET = """
import json, keras, numpy as np
class Calls(keras.utils.PyDataset):
    def __init__(self):
        super().__init__()
        self.calls = []
    def __len__(self):
        return 2
    def __getitem__(self, index):
        return np.zeros((4, 1), "float32"), np.zeros(4, "int32")
    def on_epoch_begin(self):
        self.calls.append("begin")
    def on_epoch_end(self):
        self.calls.append("end")
"""
"""A script's start: a `PyDataset` that notes Keras's epoch calls, for a fresh process."""

EPOCH_CALLS_ON_JAX = (
    CALLS_DATASET
    + """
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
model.compile("sgd", "sparse_categorical_crossentropy")
first, later = Calls(), Calls()
model.fit(first, epochs=2, shuffle=False, verbose=0)
model.fit(later, epochs=1, shuffle=False, verbose=0)
print(json.dumps([first.calls, later.calls]))
"""
)


def test_on_jax_a_models_first_fit_reads_one_batch_between_begin_and_end():
    """03 `136ac2c5`: on JAX, a model's first `fit` builds it from one batch, read between an
    `on_epoch_begin` and the `on_epoch_end` before epoch 0; a later `fit` does as on TF."""
    first, later = printed_json(EPOCH_CALLS_ON_JAX, "jax")
    assert first == ["begin", "end", "begin", "end", "begin", "end"]
    assert later == ["end", "begin", "end"]


def test_on_epoch_begin_is_part_of_pydataset():
    """03 `4b6fa3bf`: Keras calls `on_epoch_begin` before each epoch (added in 3.5)."""
    assert callable(keras.utils.PyDataset.on_epoch_begin)


def test_num_batches_defaults_to_len():
    """03 `4b6fa3bf`: `num_batches` is `len(ds)` unless overridden."""
    assert Positions(n=40, batch_size=10).num_batches == 4


def test_process_workers_serve_each_sample_once_with_a_global_shuffle():
    """03 `de4ef12c`: on_epoch_end runs in the main process; workers get its dataset."""
    model = models.BatchRecorder()
    model.compile(run_eagerly=True)
    model.fit(Positions(workers=2, use_multiprocessing=True), epochs=3, shuffle=False, verbose=0)
    for epoch in np.split(np.concatenate(model.trained).ravel().astype(int), 3):
        assert sorted(epoch) == list(range(40))


def test_on_epoch_end_is_called_in_the_main_process_only():
    """03 `de4ef12c`: `PyDatasetAdapter.on_epoch_end` calls the dataset's in the parent."""
    from keras.src.trainers.data_adapters import py_dataset_adapter

    source = inspect.getsource(py_dataset_adapter.OrderedEnqueuer._run)
    assert "self._send_py_dataset()" in source  # each epoch sends the main process's dataset


def test_fit_shuffle_true_reorders_a_finite_pydatasets_batches():
    """03 `a0a7b50e`: fit's default `shuffle=True` reorders the batch indices of a PyDataset."""
    keras.utils.set_random_seed(0)
    data = Positions(n=200, batch_size=10)
    tiny_model().fit(data, epochs=1, verbose=0)
    asked = [i for i in data.requested if i != 0][:19]
    assert sorted(set(data.requested)) == list(range(20)) and asked != sorted(asked)
    in_order = Positions(n=200, batch_size=10)
    tiny_model().fit(in_order, epochs=1, shuffle=False, verbose=0)
    assert in_order.requested[-20:] == list(range(20))


# --- lessons 04 and 05: HDF5 ----------------------------------------------------------------------


@pytest.fixture
def h5(tmp_path):
    path = tmp_path / "claims.h5"
    with h5py.File(path, "w") as file:
        file["contiguous"] = np.arange(100 * 12, dtype=np.uint8).reshape(100, 12)
        file.create_dataset("chunked", data=np.zeros((100, 12), np.uint8), chunks=(10, 12))
    return path


def test_h5py_fancy_indices_must_increase(h5):
    """05 (naive recipe), 08 `651fc0db`: h5py wants fancy indices in increasing order."""
    with h5py.File(h5, "r") as file, pytest.raises(TypeError, match="increasing order"):
        file["contiguous"][[5, 2]]


def test_h5py_refuses_repeated_fancy_indices(h5):
    """04: a fancy index may not name a row twice."""
    with h5py.File(h5, "r") as file, pytest.raises(TypeError):
        file["contiguous"][[2, 2]]


def test_an_open_h5py_file_cannot_be_pickled(h5):
    """05 `adb21bba` / `41d10634`: pickling an open h5py File fails."""
    with h5py.File(h5, "r") as file, pytest.raises(TypeError):
        pickle.dumps(file)


def test_the_default_chunk_cache_is_one_mib(h5):
    """04 `67f299e1`, checks.files: HDF5's default chunk cache is 1 MiB per dataset."""
    with h5py.File(h5, "r") as file:
        _, _, cache_bytes, _ = file.id.get_access_plist().get_cache()
    assert cache_bytes == 2**20


def test_maxshape_none_makes_a_chunked_dataset(tmp_path):
    """04 `378d4e23`: a resizable dataset is chunked (h5py picks chunks if you give none)."""
    with h5py.File(tmp_path / "grow.h5", "w") as file:
        grows = file.create_dataset("x", shape=(0, 4), maxshape=(None, 4), dtype="uint8")
        grows.resize(10, axis=0)
        assert grows.chunks is not None and grows.shape == (10, 4)


def test_a_contiguous_dataset_has_a_byte_offset_readable_with_preadv(h5):
    """05 `f1d12dee`: an uncompressed contiguous dataset's rows sit at a fixed byte offset."""
    with h5py.File(h5, "r") as file:
        offset, chunked = file["contiguous"].id.get_offset(), file["chunked"].id.get_offset()
        expected = file["contiguous"][7:9]
    assert chunked is None
    buffer = bytearray(2 * 12)
    fd = os.open(h5, os.O_RDONLY)
    try:
        os.preadv(fd, [buffer], offset + 7 * 12)
    finally:
        os.close(fd)
    assert np.array_equal(np.frombuffer(buffer, np.uint8).reshape(2, 12), expected)


def test_hdf5_file_locking_can_be_switched_off(h5):
    """04 (caveats): network file systems: `HDF5_USE_FILE_LOCKING=FALSE` or `locking=False`."""
    with h5py.File(h5, "r", locking=False) as file:
        assert len(file["contiguous"]) == 100
    code = "import h5py, sys; h5py.File(sys.argv[1], 'r').close(); print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code, str(h5)],
        capture_output=True,
        text=True,
        env={**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"},
        timeout=60,
    )
    assert done.stdout.strip() == "ok"


def test_pytables_earrays_append_class_by_class(tmp_path):
    """04 `f6a9fec9`: PyTables EArrays grow along their first axis, one append at a time."""
    import tables

    with tables.open_file(tmp_path / "earray.h5", "w") as file:
        images = file.create_earray("/", "images", tables.UInt8Atom(), (0, 4, 4, 3))
        for label in range(3):
            images.append(np.full((5, 4, 4, 3), label, np.uint8))
    with h5py.File(tmp_path / "earray.h5", "r") as file:  # and h5py reads them
        assert file["images"].shape == (15, 4, 4, 3) and file["images"][14, 0, 0, 0] == 2


def test_validation_split_takes_the_last_rows_and_only_of_arrays():
    """05 `4d4080a6`: `validation_split` takes the last rows, and is refused for a `PyDataset`."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    sorted_labels = np.repeat(np.arange(3), 10)
    _, valid = train_validation_split(sorted_labels, validation_split=0.2)
    assert valid.tolist() == [2] * 6  # one class: the last one
    with pytest.raises(ValueError, match="only supported"):
        tiny_model().fit(Positions(), validation_split=0.2, epochs=1, verbose=0)


# --- lesson 06: augmentation ----------------------------------------------------------------


def test_image_data_generator_is_gone_from_keras():
    """06 `de805f68`: `keras.preprocessing.image.ImageDataGenerator` does not exist."""
    assert not hasattr(keras.preprocessing.image, "ImageDataGenerator")


def test_tf_keras_is_keras_3s_legacy_namespace():
    """06 `e01c1aaa`: `tf.keras` is `keras._tf_keras.keras`; the class is Keras's legacy one."""
    assert tf.keras.__name__ == "keras._tf_keras.keras"
    cls = tf.keras.preprocessing.image.ImageDataGenerator
    assert cls.__module__ == "keras.src.legacy.preprocessing.image"


def test_mixup_and_cutmix_mix_samples_and_labels_in_tf_data():
    """06 `c589fdf5`: MixUp and CutMix are layers that mix images and labels in a map."""
    images = tf.random.uniform((8, 16, 16, 3), 0, 255, seed=1)
    labels = tf.one_hot(tf.range(8) % 3, 3)
    for layer in (keras.layers.MixUp(seed=1), keras.layers.CutMix(seed=1)):
        data = tf.data.Dataset.from_tensors((images, labels)).map(
            lambda x, y: layer({"images": x, "labels": y})
        )
        mixed = next(iter(data))
        assert mixed["images"].shape == images.shape
        assert np.allclose(np.sum(mixed["labels"], axis=1), 1.0, atol=1e-5)
        assert np.any((mixed["labels"].numpy() > 0) & (mixed["labels"].numpy() < 1))


# --- lesson 07: bcolz ---------------------------------------------------------------------


def test_bcolz_fancy_indexing_is_a_python_loop_over_rows():
    """07 `d0aaffde`: an integer-array index loops over rows, each from a cached Blosc block."""
    import bcolz

    source = Path(bcolz.__file__).with_name("carray_ext.pyx").read_text()
    assert "np.array([self[i] for i in key]" in source
    assert "It caches a complete block" in source
    matrix = bcolz.carray(np.arange(4000, dtype=np.float32).reshape(1000, 4))
    rows = np.array([3, 999, 17])
    assert np.array_equal(matrix[rows], np.stack([matrix[int(i)] for i in rows]))


# --- lesson 08: tf.data -------------------------------------------------------------------


def test_from_generator_has_unknown_cardinality_until_asserted():
    """08 `e42e4018`: `from_generator` has unknown size; `assert_cardinality` declares it."""
    data = tf.data.Dataset.from_generator(
        lambda: iter(range(5)), output_signature=tf.TensorSpec((), tf.int64)
    )
    assert int(data.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    declared = data.apply(tf.data.experimental.assert_cardinality(5))
    assert int(declared.cardinality()) == 5


def test_from_generator_output_types_is_deprecated():
    """08 `e42e4018`: `output_types`/`output_shapes` are deprecated for `output_signature`."""
    source = inspect.getsource(tf.data.Dataset.from_generator)
    assert "output_signature" in source and "deprecat" in source.lower()


def test_range_shuffle_batch_has_a_known_cardinality():
    """08 `24d09eaa`: `range(n).shuffle(n).batch(b)` knows its number of batches."""
    data = tf.data.Dataset.range(100).shuffle(100).batch(32)
    assert int(data.cardinality()) == 4


def test_shuffle_reshuffles_each_iteration_by_default():
    """08 `24d09eaa`: `shuffle` gives a new order every epoch unless told otherwise."""
    data = tf.data.Dataset.range(50).shuffle(50, seed=0)
    first, second = list(data.as_numpy_iterator()), list(data.as_numpy_iterator())
    assert sorted(first) == sorted(second) and first != second


def test_a_shuffle_buffer_costs_more_than_eight_bytes_per_index():
    """08 `62b5702f`: a tf.data buffer holds a tensor per element, not an 8-byte index."""
    per_element = child.run(workloads.shuffle_buffer_bytes, 500_000).value
    assert per_element["numpy permutation"] == 8
    assert per_element["tf.data buffer"] > 4 * 8


def test_cache_without_a_file_keeps_elements_in_memory():
    """08 `62b5702f`: `.cache()` replays the first epoch's elements: random steps freeze."""
    data = tf.data.Dataset.range(20).map(lambda i: tf.random.uniform(())).cache()
    assert list(data.as_numpy_iterator()) == list(data.as_numpy_iterator())


# --- lesson 09: files and records ---------------------------------------------------------


def test_a_tfrecord_is_length_crc_data_crc(tmp_path):
    """09 `df3b264e`: a record is 8-byte length, 4-byte CRC, the data, 4-byte CRC."""
    path = str(tmp_path / "one.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(b"x" * 100)
    raw = Path(path).read_bytes()
    assert len(raw) == 8 + 4 + 100 + 4
    assert struct.unpack("<Q", raw[:8])[0] == 100 and raw[12:112] == b"x" * 100


def test_image_dataset_from_directory_shuffles_within_eight_batches():
    """09 `0083595a` (caveats): after one shuffle of the file list, a buffer of 8 batches."""
    from keras.src.utils import image_dataset_utils

    source = inspect.getsource(image_dataset_utils.image_dataset_from_directory)
    assert "shuffle_buffer_size = batch_size * 8" in source


def test_tfrecord_dataset_with_parallel_reads_interleaves():
    """09 `7a5f9117`: `TFRecordDataset(files, num_parallel_reads=k)` interleaves the files."""
    from course_lib.checks.pipelines import _ops

    ops = _ops(tf.data.TFRecordDataset(["a", "b"], num_parallel_reads=2))
    assert any("Interleave" in op for op in ops)


def test_posix_fadvise_dontneed_needs_no_root(tmp_path):
    """09 `62c849c6`: `posix_fadvise(DONTNEED)` is an ordinary call, no privilege needed."""
    path = tmp_path / "pages.bin"
    path.write_bytes(b"\0" * 2**20)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED) is None
    finally:
        os.close(fd)


# --- lessons 10 and 11: service, resume, devices ------------------------------------------


def test_the_tf_data_service_servers_are_public_api():
    """10 `4b432f31`: `DispatchServer` and `WorkerServer` start a service in-process."""
    service = tf.data.experimental.service
    assert callable(service.DispatchServer) and callable(service.WorkerServer)
    policies = {policy.name for policy in service.ShardingPolicy}
    assert {"OFF", "DYNAMIC", "FILE", "DATA", "FILE_OR_DATA", "HINT"} <= policies


def test_a_worker_server_is_registered_when_its_constructor_returns():
    """10 `7205f7ad`: a `WorkerServer` is built only once the dispatcher answered it, and waits
    (retrying) while no dispatcher answers."""
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer()
    address = dispatcher.target.split("://")[1]
    workers = [
        service.WorkerServer(service.WorkerConfig(dispatcher_address=address)) for _ in range(2)
    ]
    each = tf.data.Dataset.range(3).apply(service.distribute("parallel_epochs", dispatcher.target))
    assert sorted(int(i) for i in each.as_numpy_iterator()) == [0, 0, 1, 1, 2, 2]
    for worker in workers:
        worker.stop()
    dispatcher.stop()
    no_dispatcher = (
        "import tensorflow as tf; s = tf.data.experimental.service; print('start', "
        "flush=True); s.WorkerServer(s.WorkerConfig(dispatcher_address="
        "'127.0.0.1:9')); print('built', flush=True)"
    )
    waiting = subprocess.Popen(
        [sys.executable, "-c", no_dispatcher],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert waiting.stdout.readline() == "start\n"
        time.sleep(3)  # several heartbeat retries
        assert waiting.poll() is None, "the worker gave up or was built without a dispatcher"
    finally:
        waiting.kill()
    assert "built" not in waiting.communicate()[0]


def test_backup_and_restore_is_a_keras_callback():
    """12 `0cef2c0a`: `keras.callbacks.BackupAndRestore` resumes fit from its last epoch."""
    assert issubclass(keras.callbacks.BackupAndRestore, keras.callbacks.Callback)
    assert "save_freq" in inspect.signature(keras.callbacks.BackupAndRestore).parameters


def test_backup_and_restore_saves_mid_epoch_but_resumes_at_the_epochs_start(tmp_path):
    """`course.resume`: `BackupAndRestore(save_freq=N)` saves after N batches, yet a rerun
    trains the interrupted epoch again from batch 0 (it restores only the epoch)."""

    class Stop(Exception):
        pass

    class Record(keras.callbacks.Callback):
        def __init__(self, stop_at=None):
            super().__init__()
            self.stop_at, self.trained = stop_at, []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.trained.append((self.epoch, batch))
            if (self.epoch, batch) == self.stop_at:
                raise Stop

    x, y = np.zeros((64, 2), "float32"), np.zeros((64, 1), "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    backup = keras.callbacks.BackupAndRestore(tmp_path, save_freq=2)
    with pytest.raises(Stop):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[backup, Record((1, 4))])
    saved = json.loads((tmp_path / "training_metadata.json").read_text())
    assert saved["epoch"] == 1 and saved["batch"] >= 3  # a save inside epoch 1
    rerun = Record()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[backup, rerun])
    assert rerun.trained == [(1, batch) for batch in range(8)]


def test_fork_warns_in_a_threaded_process_from_python_3_12():
    """05 `5dd8e432` (caveats): Python 3.12+ warns when a process with threads forks."""
    code = (
        "import os, threading, time, warnings; warnings.simplefilter('always');"
        "threading.Thread(target=time.sleep, args=(1,)).start();"
        "pid = os.fork()\nif pid == 0: os._exit(0)\nos.waitpid(pid, 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    warned = "multi-threaded, use of fork() may lead to deadlocks" in done.stderr
    assert warned == (sys.version_info >= (3, 12))


def test_generator_type_is_what_keras_accepts():
    """02 `c274fa5e`: Keras checks `isinstance(x, types.GeneratorType)`."""
    from keras.src.trainers import data_adapters

    assert "types.GeneratorType" in inspect.getsource(data_adapters.get_data_adapter)
    assert isinstance(batches(), types.GeneratorType)


def test_the_large_profile_is_thirty_gib():
    """12 `d998aad7`: 491,520 samples of 128x128x3 uint8 and 4,096 float32 features: 30.0 GiB."""
    from course_lib import config

    large = config.get_profile("large")
    total = large.n_samples * (np.prod(large.image_shape) + 4 * large.n_features)
    assert round(total / 2**30, 1) == 30.0


def test_h5py_serialises_every_call_behind_one_global_lock():
    """04 `29e479b2`, 08 `fc3ad94e`: h5py wraps its HDF5 calls in one reentrant lock, `phil`."""
    from h5py._objects import phil

    with phil:  # reentrant: h5py calls made while holding it still work
        assert hasattr(phil, "acquire") and h5py.h5.get_libversion() >= (1, 10, 0)


def test_class_weight_works_with_a_pydataset():
    """02 (after the class_weight cell): a `PyDataset` takes `class_weight`, a generator does
    not."""
    history = tiny_model().fit(Positions(), class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    assert len(history.epoch) == 1


def test_linux_forks_process_workers_up_to_python_3_13():
    """05 `adb21bba`: `fork` is Linux's default start method up to Python 3.13."""
    import multiprocessing

    if sys.platform.startswith("linux"):
        expected = "fork" if sys.version_info < (3, 14) else "forkserver"
        assert multiprocessing.get_start_method(allow_none=False) == expected


def test_an_order_from_seed_and_epoch_ignores_the_global_state():
    """03 `a9da2d25`: `default_rng([seed, epoch])` is the same whatever else drew numbers."""
    first = np.random.default_rng([7, 3]).permutation(100)
    np.random.seed(123)
    np.random.random(1000)
    assert np.array_equal(first, np.random.default_rng([7, 3]).permutation(100))
    assert not np.array_equal(first, np.random.default_rng([7, 4]).permutation(100))


def test_the_preprocessing_layers_that_replace_image_data_generator_exist():
    """06 `451fc073`: the table of Keras 3 layers that replace ImageDataGenerator's options."""
    for name in (
        "RandomRotation",
        "RandomFlip",
        "RandomZoom",
        "RandomTranslation",
        "RandomContrast",
        "RandomBrightness",
        "MixUp",
        "CutMix",
    ):
        assert issubclass(getattr(keras.layers, name), keras.layers.Layer), name


JIT_OF_AUTO = """
import json, keras
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
model.compile("sgd", "mse", jit_compile="auto")
print(json.dumps(model.jit_compile))
"""


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a claim about CPUs")
def test_auto_jit_compile_is_xla_on_jax_and_off_for_tensorflow_on_a_cpu():
    """11 `2ea1e6c3`: `jit_compile="auto"` compiles with XLA on JAX, not on TensorFlow
    when the machine has no GPU."""
    chosen = {backend: printed_json(JIT_OF_AUTO, backend) for backend in ("tensorflow", "jax")}
    assert chosen == {"tensorflow": False, "jax": True}


TRAINED_FIRST_IDS = """
import json, sys, keras, numpy as np
from course_lib.loading.loaders import build_before_fit

class Ids(keras.utils.PyDataset):  # batch i of epoch e holds the ids 100 * e + 4 * i + (0..3)
    def __init__(self):
        super().__init__(workers=2)
        self.epoch = 0
    def __len__(self):
        return 4
    def __getitem__(self, i):
        ids = np.arange(4 * i, 4 * i + 4) + 100 * self.epoch
        return ids[:, None].astype("float32"), np.zeros((4, 1), "float32")
    def on_epoch_end(self):
        self.epoch += 1

trained = []
class Recording(keras.Sequential):
    def train_step(self, *state_and_data):
        trained.append(int(state_and_data[-1][0][0, 0]))
        return super().train_step(*state_and_data)

model = Recording([keras.Input((1,)), keras.layers.Dense(1)])
model.compile("sgd", "mse", run_eagerly=True)
data = Ids()
if sys.argv[1] == "built":
    build_before_fit(model, data)
model.fit(data, epochs=2, shuffle=False, verbose=0)
print(json.dumps(trained))
"""


def test_on_jax_fit_trains_the_batches_prefetched_for_its_build_unless_built_first():
    """`loaders.build_before_fit`: on JAX, `fit` on an unbuilt model with `workers=2` trains
    first the batches its workers fetched ahead while it built the model, so each epoch
    starts with the last batches of the one before. Built first, each epoch is its own."""
    first_ids = {}
    for backend, built in [("jax", "unbuilt"), ("jax", "built"), ("tensorflow", "unbuilt")]:
        first_ids[backend, built] = printed_json(TRAINED_FIRST_IDS, backend, built)
    # The build's own epoch ends before training (the first trained epoch is numbered 1).
    in_order = [100, 104, 108, 112, 200, 204, 208, 212]
    assert first_ids["tensorflow", "unbuilt"] == first_ids["jax", "built"] == in_order
    assert first_ids["jax", "unbuilt"] == [4, 8, 12, 100, 104, 108, 112, 200]


def test_tensorflow_imports_jax_where_it_is_installed():
    """01 `4ac5c122`: with JAX installed, TensorFlow imports it too, for its TFLite converter."""
    code = "import sys, tensorflow; print('jax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True"
    from tensorflow.lite.python import util

    assert util._jit is not None  # `from jax import jit as _jit`, when jax imports


MIRRORED_STEP = """
import json, sys
import keras, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
with strategy.scope():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.Adam(1e-3)
    if sys.argv[1] == "built":
        optimizer.build(model.trainable_variables)
data = tf.data.Dataset.from_tensors((tf.ones((4, 3)), tf.zeros(4, "int32"))).repeat(2)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

@tf.function
def step(batch):
    def replica(x, y):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(loss_fn(y, model(x)), global_batch_size=8)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return strategy.reduce("SUM", strategy.run(replica, args=batch), axis=None)

try:
    for batch in strategy.experimental_distribute_dataset(data):
        step(batch)
    print(json.dumps({"error": None}))
except tf.errors.InvalidArgumentError as error:
    print(json.dumps({"error": error.message}))
"""


def test_a_keras_optimizer_first_built_inside_two_replicas_fails():
    """12 `9b0db3aa`: under `MirroredStrategy` with two replicas, a custom step whose Keras
    optimizer builds itself on its first `apply_gradients` fails (keras-team/keras#19246);
    built in the strategy's scope, the same step runs."""
    lazy = printed_json(MIRRORED_STEP, "tensorflow", "lazy")
    built = printed_json(MIRRORED_STEP, "tensorflow", "built")
    assert "You must feed a value for placeholder tensor" in lazy["error"]
    assert built["error"] is None


# --- lesson 10: the tf.data service -------------------------------------------------------


def test_under_a_global_seed_dataset_shuffle_cannot_take_a_seed_computed_in_the_graph():
    """10 `df7d449a`: with a global seed set, a seed drawn in the pipeline fails `shuffle`."""
    drawn = tf.data.Dataset.from_tensors(tf.constant(5, tf.int64))

    def shuffled(seed):
        return tf.data.Dataset.range(10).shuffle(10, seed=seed)

    tf.random.set_seed(None)
    drawn.flat_map(shuffled)  # no global seed: it builds
    tf.random.set_seed(0)
    try:
        with pytest.raises(TypeError, match="symbolic `tf.Tensor` as a Python `bool`"):
            drawn.flat_map(shuffled)
    finally:
        tf.random.set_seed(None)


# --- lesson 11: Grain -----------------------------------------------------------------------


def _grain_fit(dataset, **fit):
    """The ids of the last three epochs of 32 that `fit` read, and the warnings it gave."""
    import grain

    served = []

    def sample(index):
        served.append(int(index))
        return np.float32([index]), np.int64(index % 2)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny_model().fit(
            dataset.map(sample).batch(8).to_iter_dataset(grain.ReadOptions(num_threads=0)),
            epochs=3,
            verbose=0,
            **fit,
        )
    orders = np.array(served[-96:]).reshape(3, 32).tolist()  # one thread: fit's order
    return orders, " ".join(str(w.message) for w in caught)


def test_grain_in_fit_replays_one_order_and_warns_twice():
    """11 `bb7e4794`: a shuffled Grain `MapDataset` in `fit(epochs=3)` serves one order three
    times; Keras says the input ran out of data and that `shuffle=True` is ignored."""
    import grain

    orders, said = _grain_fit(grain.MapDataset.range(32).shuffle(seed=0))
    assert orders[0] == orders[1] == orders[2]
    assert "ran out of data" in said and "`shuffle=True` was passed, but will be ignored" in said


def test_grain_repeat_with_steps_per_epoch_gives_a_new_order_each_epoch():
    """11 `410ec8c2`: `.repeat()` after `.shuffle()`, `steps_per_epoch` and `shuffle=False`:
    a new permutation every epoch, and no warning."""
    import grain

    dataset = grain.MapDataset.range(32).shuffle(seed=0).repeat()
    orders, said = _grain_fit(dataset, steps_per_epoch=4, shuffle=False)
    assert orders[0] != orders[1] != orders[2] and not said


def test_grain_iterators_resume_exactly_and_keras_adapter_has_no_state():
    """11 `2f24be7a`: a Grain iterator's state restores the exact next batch; Keras's Grain
    adapter exposes no state, so `fit` cannot resume mid-epoch."""
    import grain
    from keras.src.trainers.data_adapters import grain_dataset_adapter

    dataset = grain.MapDataset.range(100).shuffle(seed=1).batch(10).to_iter_dataset()
    iterator = iter(dataset)
    next(iterator), next(iterator)
    state, expected = iterator.get_state(), next(iterator)
    resumed = iter(dataset)
    resumed.set_state(state)
    assert np.array_equal(next(resumed), expected)
    adapter = vars(grain_dataset_adapter.GrainDatasetAdapter)
    assert not any("state" in name for name in adapter)


def test_image_dataset_from_directory_in_grain_format_repeats_its_order(tmp_path):
    """11 `ade6ac26`: `format="grain"` fixes the shuffle when the dataset is made: every new
    iterator, so every epoch of `fit`, serves the same order."""
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(8):
            keras.utils.save_img(tmp_path / label / f"{i}.png", np.full((4, 4, 3), i, np.uint8))
    dataset = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(4, 4), batch_size=16, seed=3, format="grain", verbose=False
    )
    first, second = (np.asarray(next(iter(dataset))[0]) for _ in range(2))
    assert np.array_equal(first, second)


# --- issue 46: claims corrected ------------------------------------------------------------


def test_astype_then_a_python_int_divisor_holds_two_float32_copies():
    """01 `799ca464`, `5d0c7a31`: with NumPy 2, `x.astype("float32") / 255` peaks at two float32
    arrays (8x the uint8 data); a NumPy scalar divisor, or `/=`, divides in astype's buffer."""
    from course_lib.measure import memory

    x = np.zeros((64, 64, 64, 3), np.uint8)  # 768 KiB: above the 256 KiB of temporary elision
    times = x.nbytes / 2**20

    def divide_in_place():
        y = x.astype("float32")
        y /= 255
        return y

    assert round(memory.traced_peak_mib(lambda: x.astype("float32") / 255) / times) == 8
    assert round(memory.traced_peak_mib(lambda: x.astype("float32") / np.float32(255)) / times) == 4
    assert round(memory.traced_peak_mib(divide_in_place) / times) == 4


EPOCH_CALLS_OF_EVALUATE_AND_PREDICT = (
    CALLS_DATASET
    + """
def calls(method, built=True):
    model = keras.Sequential([*([keras.Input((1,))] if built else []), keras.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    data = Calls()
    getattr(model, method)(data, verbose=0)
    return data.calls
print(json.dumps([calls("evaluate"), calls("predict"), calls("predict", built=False)]))
"""
)


@pytest.mark.parametrize(
    "backend, expected",
    [
        ("tensorflow", [["end", "begin", "end"], ["begin", "end"], ["begin", "end"]]),
        ("jax", [["begin", "end", "begin", "end"], ["begin", "end"], ["begin", "end"] * 2]),
    ],
)
def test_evaluate_ends_an_epoch_before_its_own_and_predict_does_not(backend, expected):
    """03 `136ac2c5`, `d4e0f602`: `evaluate` makes fit's first call (on JAX, a model that has not
    trained reads one batch first); `predict` does not (TensorFlow's never resets its iterator;
    on JAX, a model with unbuilt layers reads a batch first)."""
    assert printed_json(EPOCH_CALLS_OF_EVALUATE_AND_PREDICT, backend) == expected


def test_class_weight_works_with_tf_data_but_not_with_grain():
    """02 `53aca658`: `class_weight` works with arrays, a `PyDataset` and a `tf.data.Dataset`;
    a generator, a Grain dataset or a torch DataLoader gets a `ValueError`."""
    import grain

    data = tf.data.Dataset.from_tensor_slices((np.zeros((8, 1), "float32"), np.zeros(8, "int32")))
    history = tiny_model().fit(data.batch(4), class_weight={0: 1.0, 1: 2.0}, verbose=0)
    assert len(history.epoch) == 1
    batches = grain.MapDataset.source([(np.zeros((4, 1), "float32"), np.zeros(4, "int32"))] * 2)
    with pytest.raises(ValueError, match="class_weight.*not supported for grain"):
        tiny_model().fit(batches, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_array_records_are_one_a_group_by_default_and_grain_logs_bigger_groups(tmp_path, caplog):
    """11 `2f24be7a`: a record is read alone when written with `group_size:1`, the writer's
    default in array_record 0.8 and the kit's setting; Grain logs an error for bigger groups."""
    import logging

    import grain
    from array_record.python import array_record_module

    from course_lib.formats import array_records

    def written(name, options=None):
        path = str(tmp_path / name)
        writer = array_record_module.ArrayRecordWriter(path, *([options] if options else []))
        for i in range(10):
            writer.write(b"record %d" % i)
        writer.close()
        return path

    default = array_record_module.ArrayRecordReader(written("default.array_record"))
    assert default.writer_options_string().startswith("group_size:1,")
    assert array_records.WRITER_OPTIONS == "group_size:1"
    grouped = written("grouped.array_record", "group_size:64")
    with caplog.at_level(logging.ERROR):
        source = grain.sources.ArrayRecordDataSource([grouped])
    assert source[3] == b"record 3"
    assert any("created with group size 64" in message for message in caplog.messages)


def test_image_dataset_from_directory_in_grain_format_runs_on_the_backends_ops(tmp_path):
    """11 `a2f003ee`: `format="grain"` decodes with Pillow and resizes with `keras.ops`: on the
    TensorFlow backend its batches are TensorFlow tensors (TensorFlow is in the path)."""
    assert "pil_image.open" in inspect.getsource(image_dataset_utils._load_image_grain)
    assert "ops.image.resize" in inspect.getsource(image_dataset_utils._load_image_grain)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        keras.utils.save_img(tmp_path / label / "0.png", np.zeros((6, 6, 3), np.uint8))
    dataset = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(4, 4), batch_size=2, format="grain", verbose=False
    )
    images, _ = next(iter(dataset))
    assert isinstance(images, tf.Tensor) == (keras.backend.backend() == "tensorflow")


def test_pillow_releases_the_gil_while_it_decodes():
    """11 `0a8ec656`, 09 `fa7873e9`: Python code runs in another thread while Pillow decodes a
    JPEG (it leaves the GIL), so threads, not processes, suit decoding."""
    import io

    from PIL import Image

    encoded = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), np.uint8)
    Image.fromarray(noise).save(encoded, "JPEG", quality=90)

    def decode(times=6):
        for _ in range(times):
            Image.open(io.BytesIO(encoded.getvalue())).load()

    def count_while(work):
        thread = threading.Thread(target=work)
        count, started = 0, time.perf_counter()
        thread.start()
        while thread.is_alive():
            count += 1
        return count / (time.perf_counter() - started)

    alone = count_while(lambda: time.sleep(0.3))  # the loop's rate with a thread that sleeps
    while_decoding = count_while(decode)
    # a decoder holding the GIL would let the loop run only between two images (near 0)
    assert while_decoding > 0.2 * alone


def test_blosc2_compresses_with_zstd_and_the_kits_bcolz_with_lz4_both_shuffled(tmp_path):
    """07 `1f38b0f5`: both Blosc formats shuffle bytes; the codec differs (Zstd, LZ4)."""
    import bcolz
    import blosc2

    from course_lib.formats import features

    store = features.ADAPTERS["bcolz"].create(str(tmp_path / "f.bcolz"), 8, 4, 4)
    assert store.cparams.cname == "lz4" and store.cparams.shuffle == bcolz.SHUFFLE
    matrix = features.ADAPTERS["blosc2"].create(str(tmp_path / "f.b2nd"), 8, 4, 4)
    assert matrix.schunk.cparams.codec == blosc2.Codec.ZSTD
    assert matrix.schunk.cparams.filters[-1] == blosc2.Filter.SHUFFLE
