"""Benchmarks that print figures: `python -m course_lib.bench` (or `make bench`).

- `writer`: peak memory of the block-wise dataset writers at two sizes.
- `loaders`: samples/s of every way the lessons read batches, in one run on
  the same files, as ratios to the in-memory ceiling and to the naive recipe;
  and the peak memory of a streaming epoch at N and 8N samples.
- `mixing`: validation accuracy after training on class-sorted files (a
  user's PyTables file, chunks of 64 rows and of 1 row, and the course
  images), each order over 8 seeds, next to each order's read speed.
- `merged`: the merged image + feature loader against the naive bcolz row
  gather, and bcolz / blosc2 / zarr / memmap side by side.
- `augment`: the cost of augmentation in the loader and in the model.
- `panel`: what the live resource panel's Keras callback costs an epoch.
- `cold`: every format (raw HDF5, JPEG bytes, TFRecord, files) read cold and
  warm against the disk's sequential bandwidth, their sizes on disk, and
  decoding against the training step (`course_lib.measure.cold`).
- `grain`: one HDF5 split through the kit's loader, Grain (threads and
  processes) and `tf.data` against the in-memory gather; Grain's worker
  start-up; ArrayRecord against TFRecord cold; the same fit on TensorFlow and
  on JAX (`course_lib.measure.backends`).
- `overlap`: epoch time of streaming fits against the in-memory fit.
- `workers`: each `PyDataset` worker's own memory (USS, PSS against RSS), its
  growth over an epoch for four holdings, the pool's start-up, and the
  batch transfer from a worker process (`course_lib.measure.workers`).
- `resume`: a rerun after a kill mid-epoch, from the last saved batch
  against from the epoch's start, at two epoch sizes.

Measurements and presentation are apart: each measurement returns a pandas
DataFrame (one row per thing measured, ratio columns against a baseline row
measured in the same run); `render` turns any of them into the text `make
bench` prints, and the lessons display the same DataFrames. Memory figures
come from fresh child processes (`course_lib.scale_out.child`): each peak is the
child's own (`VmHWM`, not `ru_maxrss`, which Linux carries over from the
parent), next to its RSS after imports.
"""

from __future__ import annotations

import argparse
import os

from course_lib import config, measure  # measure's names load on first use: --help stays quick


def parts(profile: str | config.Profile):
    """`make bench`'s parts, listed one by one: `{part: [(title, measurement), ...]}`.

    Used by the kit, not by a lesson.

    Nothing is measured until a measurement is called."""
    p = config.get_profile(profile)
    images = (
        f"{p.n_train} training samples of {p.image_size}x{p.image_size}x3, batch {p.batch_size}"
    )
    return {
        "writer": [
            (
                "Memory of the block-wise writers (64x64 images, 1024-float feature rows, "
                "blocks of 256), each in a child process",
                lambda: measure.writer_memory(),
            )
        ],
        "loaders": [
            (
                f"Loader throughput, profile {p.name!r}: {images}, one process, page cache warm, "
                f"best of 7",
                lambda: measure.loader_throughput(p),
            ),
            (
                "Memory of a child process streaming one epoch (64x64, batch 64, default block): "
                "its own VmHWM, and what streaming added to its RSS after imports",
                lambda: measure.streaming_memory(),
            ),
        ],
        "mixing": [
            (
                f"Class-sorted training files (a user's 3,000 drawings; the course file's "
                f"training images, up to 12,288), a random seventh held out, profile "
                f"{p.name!r}: validation accuracy after 3 epochs over seeds 1-8 (vs full: "
                f"points), next to each order's warm read speed",
                lambda: measure.class_sorted_accuracy(p),
            ),
            (
                f"Why block trails full: the drawings (chunks of 64 rows) in memory, in "
                f"orders that separate the causes, profile {p.name!r}, 3 epochs, seeds 1-8",
                lambda: measure.mixing_causes(p),
            ),
        ],
        "merged": [
            (
                f"Merged loader, profile {p.name!r}: {p.n_train} training samples, "
                f"{p.n_features} float32 features each in bcolz, batch {p.batch_size}",
                lambda: measure.merged_throughput(p),
            ),
            (
                "Mixing distance of its order on class-sorted labels (0 = every batch has the "
                "overall class mix)",
                lambda: measure.merged_mixing(p),
            ),
            (
                f"Feature stores, {p.n_samples} x {p.n_features} float32 "
                f"({p.feature_bytes / 2**20:.1f} MiB raw)",
                lambda: measure.feature_store_comparison(p),
            ),
        ],
        "augment": [
            (
                f"Augmentation cost, profile {p.name!r}, batch {p.batch_size}, one process",
                lambda: measure.augmentation_cost(p),
            )
        ],
        "panel": [
            (
                "Resource panel callback, profile 'ci' (the reference: the ci model)",
                lambda: measure.panel_overhead("ci"),
            )
        ],
        "cold": [
            (f"Disk sizes of the same images, profile {p.name!r}", lambda: measure.disk_sizes(p)),
            (
                f"JPEG size and decode cost per image (quality 90, PIL) against the small "
                f"convnet's training step, profile {p.name!r}",
                lambda: measure.decode_costs(p),
            ),
            (
                f"Reading one training epoch ({p.n_train} samples, batch {p.batch_size}) cold "
                f"(files evicted first, checked) and warm, 3 times each; x disk: median of "
                f"each cold epoch against a sequential read just before it; {os.cpu_count()} cores",
                lambda: measure.format_reads(p),
            ),
        ],
        "grain": [
            (
                f"The same HDF5 training split ({p.n_train} samples, batch {p.batch_size}) "
                f"through each loader, page cache warm, {os.cpu_count()} cores",
                lambda: measure.grain_throughput(p),
            ),
            ("Grain: seconds to the first batch", lambda: measure.worker_startup(p)),
            (
                f"ArrayRecord (Grain) against TFRecord (tf.data), one training epoch cold and "
                f"warm, profile {p.name!r}",
                lambda: measure.record_reads(p),
            ),
            (
                f"The small convnet's fit on each backend, profile {p.name!r}, each in a fresh "
                f"process: first step (compiling), first epoch, median of the next two",
                lambda: measure.backend_epochs(p),
            ),
        ],
        "service": [
            (
                "Decode (299x299 photo JPEGs) + flip/shift, one epoch in-process and on "
                "a local tf.data service (distributed_epoch), this machine's "
                f"{os.cpu_count()} cores shared by all",
                lambda: measure.service_throughput(),
            )
        ],
        "workers": [
            (
                f"PyDataset workers, profile {p.name!r}: one epoch of the training split "
                f"({p.n_train} samples) through Keras's enqueuer, the second of two, each "
                f"configuration in a fresh process; worker memory from /proc/PID/smaps_rollup",
                lambda: measure.worker_memory(p),
            ),
            (
                f"Handing a batch ({p.batch_size} images) from a worker to the main process",
                lambda: measure.batch_transfer(p),
            ),
        ],
        "resume": [
            (
                "A rerun after a SIGKILL at 3/4 of epoch 1 (batch 64): seconds from its start "
                "until the killed batch is trained again, resuming at the last save (every "
                "1/8 epoch) or restarting the epoch (BackupAndRestore)",
                lambda: measure.resume_times(p),
            )
        ],
        "overlap": [
            (
                f"Training overlap, profile {p.name!r}: epoch time of the small convnet, "
                f"median of 2 epochs after a warm-up",
                lambda: measure.training_overlap(p),
            )
        ],
    }


def main(argv=None):
    """`python -m course_lib.bench [PART] [--profile NAME]`: prints each part's tables."""
    names = list(parts("ci"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", nargs="?", default="all", choices=(*names, "all"))
    parser.add_argument(
        "--profile",
        default="lesson",
        choices=sorted(config.PROFILES),
        help="profile of the data the benchmarks read (default: lesson)",
    )
    args = parser.parse_args(argv)
    for part, measurements in parts(args.profile).items():
        if args.benchmark in (part, "all"):
            for title, measurement in measurements:
                print(measure.render(measurement(), title), flush=True)


if __name__ == "__main__":
    main()
