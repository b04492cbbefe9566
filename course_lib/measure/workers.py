"""What a `PyDataset`'s workers cost: their own memory, their start-up, the batch transfer.

"RAM grows with the number of workers" is one of the most reported problems
of multi-worker loaders. The figure people look at, RSS, counts every page a
process maps, so each forked worker seems to hold a whole copy of the main
process (TensorFlow included). A worker's own cost is its USS (the pages
only it holds: `Private_Clean + Private_Dirty` in `/proc/PID/smaps_rollup`);
PSS shares each shared page out among the processes that map it.

Keras forks its process pool anew at every epoch (Linux, Python 3.11), so a
worker starts sharing all of the main process's memory; it grows as it
writes to pages. A loader holding the dataset as one numpy array (or, like
the kit's loaders, only a path) writes none of them. A loader holding one
Python object per sample (a list of arrays, a dict of labels) writes the
reference count of every sample it touches: the page is copied, and the
worker's own memory grows over the epoch ("copy-on-access").

`worker_memory` measures the three holdings for 1, 2 and 4 workers,
threads and processes; `batch_transfer` the cost of sending batches from a
worker process to the main one.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.dummy
import time

import keras
import numpy as np
import pandas as pd

from course_lib import config
from course_lib.measure.harness import in_fresh_process
from course_lib.measure.memory import smaps_rollup_mib

HOLDINGS = {
    "a path (HDF5Dataset)": None,
    "one numpy array": "array",
    "a list of per-sample arrays": "arrays",
    "a list of per-sample bytes": "bytes",
}
"""What the loader holds, and how `InMemoryDataset` holds it (`None`: the kit's loader)."""


class InMemoryDataset(keras.utils.PyDataset):
    """The classic recipe's loader: the training images read into memory first.

    Used by the kit, not by a lesson.

    Args:
        images, labels: the arrays.
        batch_size: samples per batch.
        holds: `"array"` (one array), `"arrays"` (a Python list of one array
            per sample, as a loader appending `np.load(file)` builds) or
            `"bytes"` (a list of one `bytes` object per sample, as encoded
            images read into memory are).
        **kwargs: `PyDataset`'s (`workers`, `use_multiprocessing`).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        holds: str = "array",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.shape = images.shape[1:]
        if holds == "arrays":
            images = [image.copy() for image in images]
        elif holds == "bytes":
            images = [image.tobytes() for image in images]
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.set_epoch(0)

    def set_epoch(self, epoch: int):
        """Serves epoch `epoch`'s order (drawn once an epoch, not once a batch)."""
        self.epoch = epoch
        self.order = np.random.default_rng([config.SEED, epoch]).permutation(len(self.labels))

    def __len__(self):
        return len(self.labels) // self.batch_size

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        if isinstance(self.images, np.ndarray):
            return self.images[rows], self.labels[rows]
        samples = [np.frombuffer(self.images[row], np.uint8) for row in rows]
        return np.stack(samples).reshape(len(rows), *self.shape), self.labels[rows]

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


def _pool_memory():
    """`smaps_rollup_mib` of each of this process's worker processes (Keras's pool)."""
    memory = []
    for child in multiprocessing.active_children():
        try:
            memory.append(smaps_rollup_mib(child.pid))
        except FileNotFoundError:  # it ended meanwhile
            pass
    return memory


def _mean(values):
    return float(np.mean(values)) if values else float("nan")


def _epochs_with_workers(
    path: str, profile: str, holding: str, workers: int, processes: bool, epochs: int = 2
):
    """Runs `epochs` epochs of one loader through Keras's own enqueuer (as `fit` does)
    and measures each epoch's start-up, throughput and the workers' memory."""
    import h5py
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from course_lib.loading.loaders import HDF5Dataset

    pydataset = {"workers": workers, "use_multiprocessing": processes}
    profile = config.get_profile(profile)
    if HOLDINGS[holding] is None:
        loader = HDF5Dataset(path, batch_size=profile.batch_size, seed=config.SEED, **pydataset)
    else:
        with h5py.File(path, "r") as file:
            images, labels = file["train/images"][:], file["train/labels"][:]
        loader = InMemoryDataset(images, labels, profile.batch_size, HOLDINGS[holding], **pydataset)
    adapter = PyDatasetAdapter(loader, shuffle=False)
    rows = []
    for epoch in range(epochs):
        main_before = smaps_rollup_mib()["uss"]
        started = time.perf_counter()
        adapter.on_epoch_begin()
        first = early = late = None
        count = nbytes = 0
        # The pool ends once its last tasks are queued: measure it before the queue's last batches.
        last_measured = max(1, len(loader) - loader.max_queue_size - 2)
        for batch in adapter.get_numpy_iterator():
            count += 1
            nbytes += sum(np.asarray(part).nbytes for part in batch[:2])
            if first is None:
                first = time.perf_counter() - started
                early = _pool_memory()
            if count == last_measured:
                late = _pool_memory()
        seconds = time.perf_counter() - started
        main_growth = smaps_rollup_mib()["uss"] - main_before
        adapter.on_epoch_end()
        rows.append(
            {
                "epoch": epoch,
                "first batch s": first,
                "MB/s": nbytes / 1e6 / seconds,
                "worker RSS MiB": _mean([m["rss"] for m in late]),
                "worker PSS MiB": _mean([m["pss"] for m in late]),
                "worker USS MiB": _mean([m["uss"] for m in late]),
                "worker USS growth MiB": _mean([b["uss"] - a["uss"] for a, b in zip(early, late)]),
                "main USS growth MiB": main_growth,
                "start method": multiprocessing.get_start_method(),
            }
        )
    return rows


def worker_memory(
    profile: str | config.Profile,
    workers: tuple[int, ...] = (1, 2, 4),
    holdings: tuple[str, ...] = tuple(HOLDINGS),
    kinds: tuple[str, ...] = ("threads", "processes"),
    epochs: int = 2,
):
    """Each worker's own memory, its growth over an epoch and the pool's start-up.

    First used in lesson 04 (hdf5_writing).

    For each holding, number of workers and kind (threads, processes), a
    fresh process runs `epochs` epochs of the training split through Keras's own
    enqueuer. The figures are those of the last epoch: Keras starts its
    pool at every epoch, so its start-up (`first batch s`) is paid each
    epoch. Worker figures are a mean over the pool's processes near the
    epoch's end (before its last queued batches, when the pool starts to
    end); a thread has no memory of its own, so for threads only the main
    process's growth is shown. `start method` says how the pool started:
    copy-on-access is a `fork` effect (a spawned worker unpickles its own
    copy of the loader, so its pages are its own from the start).

    Args:
        profile: the profile whose course file is read.
        workers, holdings, kinds: the configurations to measure (`HOLDINGS`'
            keys; `"threads"`, `"processes"`).
        epochs: epochs per configuration, the figures being the last one's
            (a first epoch also pays what happens once per process); under
            `spawn` and `forkserver` each epoch's workers are new interpreters
            that share nothing, so one epoch shows them.

    Returns:
        A DataFrame, one row per configuration; `x first batch` is the
        start-up against the first row's (measured in the same run).
    """
    from course_lib.course import course_data

    profile = config.get_profile(profile)
    path = str(course_data.ensure_layout("hdf5", profile))
    rows = []
    for holding in holdings:
        for kind in kinds:
            for count in workers:
                measured = in_fresh_process(
                    _epochs_with_workers,
                    path,
                    profile.name,
                    holding,
                    count,
                    kind == "processes",
                    epochs,
                )
                row = {"holding": holding, "kind": kind, "workers": count, **measured[-1]}
                del row["epoch"]
                rows.append(row)
    frame = pd.DataFrame(rows)
    baseline = frame["first batch s"].iloc[0]
    frame["x first batch"] = frame["first batch s"] / baseline
    return frame


def _batch_in_worker(shape):
    """A worker's batch, made once per process so only its transfer is timed."""
    global _BATCH
    if globals().get("_BATCH") is None or _BATCH.shape != shape:
        _BATCH = np.ones(shape, np.uint8)
    return _BATCH


def batch_transfer(profile: str | config.Profile, batches: int = 200):
    """MB/s of handing a batch from a worker to the main process: a thread and a process.

    First used in lesson 04 (hdf5_writing).

    A worker thread hands over a reference; a worker process pickles the
    batch and sends it through a pipe, which the main process unpickles.
    Each figure is from the median of `batches` hand-overs.

    Returns:
        A DataFrame: whether the batch received is `a copy` of the worker's,
        MB/s and microseconds a batch, `x thread` against the thread.
    """
    profile = config.get_profile(profile)
    shape = (profile.batch_size, *profile.image_shape)
    rows = []
    for kind, pool_class in (
        ("thread", multiprocessing.dummy.Pool),
        ("process", multiprocessing.Pool),
    ):
        with pool_class(1) as pool:
            pool.apply(_batch_in_worker, (shape,))
            times = []
            for _ in range(batches):
                started = time.perf_counter()
                batch = pool.apply(_batch_in_worker, (shape,))
                times.append(time.perf_counter() - started)
            seconds = float(np.median(times))  # a busy machine's stalls left out
        rows.append(
            {
                "worker": kind,
                "a copy": batch is not globals().get("_BATCH"),  # a thread's is this process's
                "batch MB": batch.nbytes / 1e6,
                "MB/s": batch.nbytes / 1e6 / seconds,
                "us a batch": seconds * 1e6,
            }
        )
    frame = pd.DataFrame(rows)
    frame["x thread"] = frame["MB/s"] / frame["MB/s"].iloc[0]
    return frame
