"""Builds the synthetic course data for a profile, in one layout or all six.

The six layouts are `course_data.LAYOUTS`: `hdf5`, `npy` and `bcolz` (lessons
00-08), and `images`, `hdf5_jpeg` and `records` (lesson 09 on).

Usage:

    python data_scripts/make_dataset.py --profile lesson --format all
    python data_scripts/make_dataset.py --profile large --format hdf5 --out /big/disk

Data goes to `<out>/<profile>/` (default `out`: `$COURSE_DATA_DIR`, else `data/`).
A layout that is already complete is reused; `--force` rebuilds it. An
interrupted build is detected and rebuilt on the next run.
"""

import argparse
import os
import sys
import time

from course_lib import config
from course_lib.course import course_data


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile",
        default=None,
        choices=sorted(config.PROFILES),
        help=f"data size (default: ${config.PROFILE_ENV} or {config.DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--format",
        default="all",
        choices=[*course_data.LAYOUTS, "all"],
        help="which layout to build (default: all)",
    )
    parser.add_argument(
        "--out", default=None, help=f"data folder (default: ${config.DATA_DIR_ENV} or data/)"
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild layouts even when complete ones exist"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.out:
        os.environ[config.DATA_DIR_ENV] = args.out
    profile = config.get_profile(args.profile)
    names = course_data.LAYOUTS if args.format == "all" else (args.format,)
    print(
        f"Profile {profile.name!r}: {profile.n_samples} samples of "
        f"{profile.image_size}x{profile.image_size}x3 in "
        f"{config.data_dir(profile)}"
    )
    for layout in names:
        status = "forced" if args.force else course_data.layout_status(layout, profile)
        started = time.perf_counter()
        path = course_data.ensure_layout(layout, profile, force=args.force, progress=not args.quiet)
        size, files = course_data.disk_usage(path)
        action = "reused" if status == "complete" else "built"
        print(
            f"  {layout:9s} {action:6s} {size / 2**20:9.1f} MiB in {files:6d} "
            f"file(s), {time.perf_counter() - started:6.1f} s  {path}"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, OSError) as error:
        sys.exit(f"make_dataset.py: error: {error}")
