"""What a kill costs: resuming at the last saved batch against restarting the epoch.

A run killed at batch `k` of an epoch is back where it was once it trains
batch `k` again (or, if `k` was saved, the batch after it).
`fit_from_position` (a save every `every` batches) goes on from the last
save; `BackupAndRestore`'s resume restarts at the epoch's start. Both are
timed from the rerun's start (a fresh process: imports, model, restore) to
that point, in the same run, at two epoch sizes.
"""

from __future__ import annotations

import functools
import time

import pandas as pd

from course_lib import config


def _time_to_kill_point(make_loader, backup_dir, log_path, kill_at, every):
    """Seconds from starting a rerun until it has trained past the killed batch again,
    and the batches it trained twice."""
    from course_lib.course import resume
    from course_lib.scale_out import child

    killed = functools.partial(child.run, resume.killed_fit, make_loader, backup_dir, log_path)
    _check_killed(killed(kill_at=kill_at, every=every))
    saved = resume.read_position(backup_dir)["batch"]  # the killed batch itself, if it was saved
    started = time.perf_counter()
    _check_killed(killed(kill_at=(kill_at[0], max(kill_at[1], saved)), every=every))
    return time.perf_counter() - started, max(0, kill_at[1] + 1 - saved)


def _check_killed(result):
    if result.returncode is None or result.returncode >= 0:
        raise RuntimeError(f"The run was to be killed, but it ended: {result.error}")


def resume_times(profile: str | config.Profile, folder: str | None = None):
    """Rerun time after a kill at 3/4 of epoch 1: from the last save, and from the epoch's start.

    Used by the kit, not by a lesson.

    Args:
        profile: whose course file is read: a quarter of its training rows,
            then all of them (whole batches of 64).
        folder: scratch folder (default: a temporary one).

    Returns:
        A DataFrame per size: batches trained again and seconds to be back at
        the killed batch, each way, and `resume / restart`.
    """
    import tempfile

    from course_lib.course import course_data
    from course_lib.loading.loaders import HDF5Dataset

    profile = config.get_profile(profile)
    path = course_data.ensure_layout("hdf5", profile)
    sizes = (profile.n_train // 4 // 64 * 64, profile.n_train // 64 * 64)
    rows = []
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        for size in sizes:
            make_loader = functools.partial(
                HDF5Dataset, path, batch_size=64, seed=config.SEED, rows=range(size)
            )
            batches = size // 64
            kill_at = (1, batches * 3 // 4)
            row = {"samples": size, "batches an epoch": batches, "killed at": kill_at[1]}
            for way, every in (("resume", max(1, batches // 8)), ("restart", batches)):
                folder_of = f"{scratch}/{way}-{size}"
                seconds, again = _time_to_kill_point(
                    make_loader, folder_of, f"{folder_of}.log", kill_at, every
                )
                row[f"{way}: batches again"], row[f"{way} s"] = again, seconds
            row["resume / restart"] = row["resume s"] / row["restart s"]
            rows.append(row)
    return pd.DataFrame(rows)
