"""Peak memory of the block-wise writers and of a streaming epoch (`make bench`
parts `writer` and `loaders`).

Every figure comes from a fresh child process (`course_lib.scale_out.child`):
its own peak (`VmHWM`, not `ru_maxrss`, which Linux carries over from the
parent), next to its RSS after imports.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from course_lib import config
from course_lib.course import course_data
from course_lib.formats import hdf5
from course_lib.measure.harness import value_of
from course_lib.scale_out import child


def write_layout(layout: str, overrides: dict):
    """Builds one layout of a profile changed by `overrides` (run in a child).

    Used by the kit, not by a lesson.
    """
    profile = dataclasses.replace(config.get_profile("ci"), **overrides)
    course_data.ensure_layout(layout, profile, progress=False)


def writer_peak_memory(layout: str, n_samples: int, image_size: int = 64, block_size: int = 256):
    """Writes a dataset of `n_samples` in a child process; returns its memory.

    Used by the kit, not by a lesson.

    Feature rows (the bcolz layout) are 1024 float32 values.

    Args:
        layout: `"hdf5"`, `"npy"` or `"bcolz"`.
        n_samples: total samples (split 80/10/10).
        image_size: image side in pixels.
        block_size: samples per written block.

    Returns:
        A dict with `before_mib` (RSS after imports, before writing),
        `peak_mib` (peak RSS of the child) and `data_mib` (size of the data).
    """
    n_valid = n_test = n_samples // 10
    overrides = {
        "name": "bench",
        "n_train": n_samples - n_valid - n_test,
        "n_valid": n_valid,
        "n_test": n_test,
        "image_size": image_size,
        "block_size": block_size,
        "n_features": 1024,
    }
    profile = dataclasses.replace(config.get_profile("ci"), **overrides)
    with tempfile.TemporaryDirectory() as folder:
        result = child.run(
            write_layout,
            layout,
            overrides,
            imports=("course_lib.course.course_data",),
            env={config.DATA_DIR_ENV: folder},
        )
    value_of(result)
    data_bytes = profile.feature_bytes if layout == "bcolz" else profile.image_bytes
    return {
        "before_mib": result.baseline_mib,
        "peak_mib": result.peak_mib,
        "data_mib": data_bytes / 2**20,
    }


def writer_memory(sizes: Sequence[int] = (4096, 32768), image_size: int = 64):
    """Memory of the block-wise writers at two sizes, each in a child process.

    Used by the kit, not by a lesson.

    Returns:
        A DataFrame, one row per layout and size: `data MiB`, `after imports
        MiB`, `peak MiB` (the child's own) and `added MiB`, the last of which
        stays flat when memory does not grow with the data.
    """
    rows = []
    for layout in ("hdf5", "npy", "bcolz", "images", "hdf5_jpeg", "records"):
        for n in sizes:
            figures = writer_peak_memory(layout, n, image_size)
            rows.append(
                {
                    "layout": layout,
                    "samples": n,
                    "data MiB": figures["data_mib"],
                    "after imports MiB": figures["before_mib"],
                    "peak MiB": figures["peak_mib"],
                    "added MiB": figures["peak_mib"] - figures["before_mib"],
                }
            )
    return pd.DataFrame(rows).set_index(["layout", "samples"])


def stream_epoch(path: str | Path):
    """Reads one epoch of `HDF5Dataset(path)`, dropping each batch (run in a child).

    Used by the kit, not by a lesson.
    """
    from course_lib.loading.loaders import HDF5Dataset

    ds = HDF5Dataset(path, batch_size=64, seed=0)
    for index in range(len(ds)):
        ds[index]


def streaming_peak_memory(n_samples: int, image_size: int = 64):
    """Memory of a child process streaming one epoch of `n_samples`.

    Used by the kit, not by a lesson.

    Returns:
        The child's `ChildResult`: its own peak (`peak_mib`, VmHWM), its RSS
        after importing the loaders (`baseline_mib`), and what streaming
        added (`added_mib`).
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "stream.h5")
        with hdf5.HDF5Writer(path, (image_size, image_size, 3), config.CLASS_NAMES) as writer:
            for start in range(0, n_samples, 1024):
                stop = min(start + 1024, n_samples)
                writer.append(
                    "train",
                    np.zeros((stop - start, image_size, image_size, 3), np.uint8)
                    + np.uint8(start % 251),
                    np.zeros(stop - start),
                    np.arange(start, stop),
                )
        result = child.run(stream_epoch, path, imports=("course_lib.loading.loaders",))
        value_of(result)
        return result


def streaming_memory(sizes: Sequence[int] = (4096, 8 * 4096)):
    """Memory of a child process streaming one epoch of 64x64 images, at each size.

    Used by the kit, not by a lesson.

    Returns:
        A DataFrame, one row per size: `images MiB`, the child's own `peak
        MiB`, its `after imports MiB` and what streaming `added MiB`.
    """
    rows = []
    for n in sizes:
        run = streaming_peak_memory(n)
        rows.append(
            {
                "samples": n,
                "images MiB": n * 64 * 64 * 3 / 2**20,
                "peak MiB": run.peak_mib,
                "after imports MiB": run.baseline_mib,
                "added MiB": run.added_mib,
            }
        )
    return pd.DataFrame(rows).set_index("samples")
