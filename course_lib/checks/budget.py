"""Checkers for memory budgets: a function's own peak, measured in a child process."""

import functools

import numpy as np

from course_lib.checks.report import Findings, file_key, reference_run
from course_lib.measure import budget


def check_in_memory_fit(fit, path, budget_mib, baseline_mib, timeout=600, verbose=True):
    """Runs `fit(path)` in a fresh process under `budget_mib`: the whole split, in memory.

    The learner's in-memory fit must train on every sample of the file's
    training split, held in memory, and stay within a budget that stops the
    classic recipe (`workloads.fit_in_memory`, a float32 copy of the split).
    It returns `{"samples": n, "loss": last training loss}`. The child is
    stopped as soon as it passes the budget; its peak counts its worker
    processes too (shared pages once).

    Args:
        fit: the learner's function (a notebook function works).
        path: an HDF5 file with a `train` split.
        budget_mib: the memory limit, in MiB.
        baseline_mib: the peak of the same fit streamed one batch at a time
            (Python, TensorFlow, the model and a few batches): a fit that holds
            the split peaks at least half its uint8 size above it.

    Returns:
        A `Report`.
    """
    import h5py

    with h5py.File(path, "r") as file:
        n_train, data_mib = len(file["train/labels"]), file["train/images"].nbytes / 2**20
    found = Findings()
    result = budget.run_function(fit, str(path), budget_mib=budget_mib, timeout=timeout)
    value = result.value if isinstance(result.value, dict) else {}
    if result.outcome == "exceeded":
        found.add(
            f"The run passed the budget: {result.peak_mib:.0f} MiB against {budget_mib:.0f} "
            f"MiB, and was stopped. Every copy of the split counts: {data_mib:.0f} MiB as "
            f"uint8, 4 times that as float32, 8 as float64, and fit copies what it is given. "
            f"Which copy does the model not need?"
        )
    elif result.outcome == "failed":
        found.add(f"The run failed in its own process: {result.error}")
    elif result.value is None:
        found.add("The function returned None: it is not written yet.")
    elif not isinstance(value.get("samples"), int | np.integer) or "loss" not in value:
        found.add(
            f"The function returned {result.value!r}; return "
            f'{{"samples": samples trained on, "loss": the last training loss}}.'
        )
    elif value["samples"] != n_train:
        found.add(
            f"It trained on {value['samples']:,} of the split's {n_train:,} samples: load the "
            f"whole training split and make it fit the budget."
        )
    elif not np.isfinite(value["loss"]):
        found.add(f"The training loss is {value['loss']}: train on the images and labels.")
    elif result.peak_mib - baseline_mib < data_mib / 2:
        found.add(
            f"The run peaked {max(result.peak_mib - baseline_mib, 0):.0f} MiB above a streamed "
            f"fit, less than the split's {data_mib:.0f} MiB of uint8 images: it did not hold "
            f"them. Load the split into arrays and fit on those."
        )
    return found.report(
        f"{n_train:,} samples trained in memory, peak {result.peak_mib:.0f} MiB within the "
        f"{budget_mib:.0f} MiB budget.",
        verbose,
    )


def _train_in_blocks(fit_in_blocks, path, image_shape, n_classes, batch_size=64):
    """Gives the learner's `fit_in_blocks` a fresh model; says how many steps changed it.

    `held_mib` is the most memory the trainer's arrays took at once, traced by
    `tracemalloc` (numpy reports its buffers to it) after one warm-up step:
    TensorFlow's own allocations, tens of MiB and not the same twice, stay
    out of it, so one block and a whole split are told apart on a small file.
    """
    import tracemalloc

    from course_lib import models

    model = models.small_convnet(image_shape, n_classes)
    warm_up = np.zeros((batch_size, *image_shape), np.uint8), np.zeros(batch_size, np.int64)
    model.train_on_batch(*warm_up)
    warm = int(model.optimizer.iterations.numpy())
    before = [weights.copy() for weights in model.get_weights()]
    tracemalloc.start()
    try:
        fit_in_blocks(path, model)
        held_mib = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    changed = any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights()))
    steps = int(model.optimizer.iterations.numpy()) - warm
    return {"steps": steps, "changed": changed, "held_mib": held_mib}


def _one_block_at_a_time(path, model, block_size=1024, batch_size=64, blocks=None):
    """The reference block trainer: what training one block at a time costs in memory.

    `blocks` stops it after that many blocks: the most its arrays hold at once
    is one block's, however many follow.
    """
    import h5py

    with h5py.File(path, "r") as file:
        images, labels = file["train/images"], file["train/labels"]
        stop = len(labels) if blocks is None else min(len(labels), blocks * block_size)
        for start in range(0, stop, block_size):
            x, y = images[start : start + block_size], labels[start : start + block_size]
            for first in range(0, len(x), batch_size):
                model.train_on_batch(x[first : first + batch_size], y[first : first + batch_size])


def check_block_trainer(
    fit_in_blocks,
    path,
    budget_mib,
    image_shape,
    n_classes,
    batch_size=64,
    timeout=600,
    verbose=True,
):
    """Runs `fit_in_blocks(path, model)` in a fresh process under `budget_mib`; checks it trained.

    The checker builds the model (`models.small_convnet`), so it can count the
    optimizer's steps afterwards: one epoch over the file's training split in
    batches of `batch_size` takes `ceil(n / batch_size)` steps at least, and
    the weights must have moved. Its peak memory is compared with the kit's
    trainer that holds one block of 1,024 samples, run the same way on two
    blocks (once per file in a process), as the most memory their arrays held
    at once: the learner's may exceed it by half the split's uint8 size, no
    more.

    Returns:
        A `Report`.
    """
    import h5py

    with h5py.File(path, "r") as file:
        n_train, row_bytes = len(file["train/labels"]), file["train/images"][0].nbytes
    least, data_mib = -(-n_train // batch_size), n_train * row_bytes / 2**20
    found = Findings()
    args = (str(path), tuple(image_shape), n_classes)
    result = budget.run_function(
        _train_in_blocks, fit_in_blocks, *args, budget_mib=budget_mib, timeout=timeout
    )
    if result.outcome == "exceeded":
        found.add(
            f"The run passed the budget: {result.peak_mib:.0f} MiB against "
            f"{budget_mib:.0f} MiB, and was stopped. Hold one block in memory at a time: "
            f"read images[start:start + block_size] inside the loop, never the whole split."
        )
    elif result.outcome == "failed":
        found.add(f"The run failed in its own process: {result.error}")
    elif result.value["steps"] < least:
        found.add(
            f"The model took {result.value['steps']} training steps, but one epoch of "
            f"{n_train:,} samples in batches of {batch_size} takes {least}: call "
            f"model.train_on_batch on every batch of every block."
        )
    elif not result.value["changed"]:
        found.add("The model's weights did not change: train the model you are given.")
    if found.problems:
        return found.report("", verbose)
    reference = reference_run(
        ("block trainer", *file_key(path), *args[1:]),
        lambda: budget.run_function(
            _train_in_blocks,
            functools.partial(_one_block_at_a_time, blocks=2),  # two blocks show the most held
            *args,
            budget_mib=2 * budget_mib,
            timeout=timeout,
        ),
    )
    held, reference_held = result.value["held_mib"], reference.value["held_mib"]
    if held > reference_held + data_mib / 2:
        found.add(
            f"Training held {held:.0f} MiB of arrays at once, {held - reference_held:.0f} MiB "
            f"more than a trainer that holds one block ({reference_held:.0f} MiB), for "
            f"{data_mib:.0f} MiB of uint8 images: the whole split was in memory at once. "
            f"Read one block of the HDF5 dataset per pass of the loop."
        )
    steps = result.value["steps"]
    return found.report(
        f"{steps} steps over {n_train:,} samples holding at most {held:.0f} MiB of arrays "
        f"(a one-block trainer: {reference_held:.0f} MiB), peak {result.peak_mib:.0f} MiB "
        f"within the {budget_mib:.0f} MiB budget.",
        verbose,
    )
