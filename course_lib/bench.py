"""Benchmarks that print figures: `python -m course_lib.bench` (or `make bench`).

`writer`: peak memory of the block-wise dataset writers at two dataset sizes.
Each write runs in a fresh child process, so its peak RSS
(`ru_maxrss`) belongs to that write alone.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

from course_lib import config

_CHILD = """
import dataclasses, json, resource, sys
from course_lib import config, datasets, monitor
profile = dataclasses.replace(config.get_profile("ci"), **json.loads(sys.argv[2]))
before = monitor.rss_mib()
datasets.ensure_layout(sys.argv[1], profile, progress=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mib": before, "peak_mib": peak}))
"""


def writer_peak_memory(layout, n_samples, image_size=64, block_size=256):
    """Writes a dataset of `n_samples` in a child process; returns its memory.

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
    overrides = {"name": "bench", "n_train": n_samples - n_valid - n_test,
                 "n_valid": n_valid, "n_test": n_test, "image_size": image_size,
                 "block_size": block_size, "n_features": 1024}
    profile = dataclasses.replace(config.get_profile("ci"), **overrides)
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, layout, json.dumps(overrides)],
            env={**os.environ, config.DATA_DIR_ENV: folder},
            capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    data_bytes = profile.feature_bytes if layout == "bcolz" else profile.image_bytes
    return {**figures, "data_mib": data_bytes / 2**20}


def writer_benchmark(sizes=(4096, 32768), image_size=64):
    """Prints the writers' peak memory at two sizes, as a table."""
    print(f"Peak RSS of the block-wise writers ({image_size}x{image_size} images, "
          f"1024-float feature rows, blocks of 256 samples)")
    print(f"{'layout':7s} {'samples':>8s} {'data MiB':>9s} {'RSS before':>11s} "
          f"{'peak RSS':>9s} {'peak-before':>12s}")
    for layout in ("hdf5", "npy", "bcolz"):
        rows = [writer_peak_memory(layout, n, image_size) for n in sizes]
        for n, row in zip(sizes, rows):
            print(f"{layout:7s} {n:8d} {row['data_mib']:9.1f} {row['before_mib']:11.1f} "
                  f"{row['peak_mib']:9.1f} {row['peak_mib'] - row['before_mib']:12.1f}")
        data_ratio = rows[1]["data_mib"] / rows[0]["data_mib"]
        peak_ratio = rows[1]["peak_mib"] / rows[0]["peak_mib"]
        print(f"{'':7s} data x{data_ratio:.0f} -> peak RSS x{peak_ratio:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", nargs="?", default="all", choices=("writer", "all"))
    parser.parse_args(argv)
    writer_benchmark()


if __name__ == "__main__":
    main()
