"""Checkers for lesson 00's exercises on the course data's three layouts."""

import numpy as np

from course_lib import config
from course_lib.checks.report import Findings, H5pyReads
from course_lib.course import course_data, synthetic


def _probe_ids(profile):
    """A few global ids: each split's first and last, and one in the middle."""
    ranges = course_data.split_ranges(profile)
    ids = {r.start for r in ranges.values()} | {r.stop - 1 for r in ranges.values()}
    return sorted(ids | {profile.n_samples // 2})


def check_sample_reader(read_sample, profile=None, verbose=True):
    """Checks `read_sample(sample_id) -> (hdf5_image, npy_image, feature_row, label)`.

    Compares what the learner read from the three layouts with the course's
    generator, for the first and last sample of every split and one more.

    Returns:
        A `Report`.
    """
    profile = config.get_profile(profile)
    ranges = course_data.split_ranges(profile)
    found = Findings()
    with found:
        for sample_id in _probe_ids(profile):
            split = next(name for name, ids in ranges.items() if sample_id in ids)
            with H5pyReads() as seen:
                got = found.call(f"read_sample({sample_id})", read_sample, sample_id)
            if not isinstance(got, tuple) or len(got) != 4:
                found.stop(
                    f"read_sample({sample_id}) returned {type(got).__name__}; expected a "
                    f"tuple (hdf5_image, npy_image, feature_row, label)."
                )
            hdf5_image, npy_image, row, label = got
            if not seen.of(f"{split}/images") or hdf5_image is npy_image:
                found.stop(
                    f"read_sample({sample_id}) never read /{split}/images from the HDF5 "
                    f"file, so its first value is not the HDF5 image (the same .npy "
                    f"image twice?): open the file with h5py.File and index "
                    f"file['{split}/images'] by the sample's row in its split."
                )
            image = synthetic.images(sample_id, sample_id + 1, profile.image_size, config.SEED)[0]
            where = f"sample {sample_id} (in the {split} split, from id {ranges[split].start})"
            if not np.array_equal(hdf5_image, image):
                found.stop(
                    f"{where}: the HDF5 image is another sample's. Global ids count the "
                    f"train split first, then valid, then test: its row in /{split}/images "
                    f"is {sample_id} - {ranges[split].start}."
                )
            if not np.array_equal(npy_image, image):
                found.stop(
                    f"{where}: the .npy image is another sample's; its file is "
                    f"npy.sample_name({sample_id}) + '.npy'."
                )
            expected = synthetic.features(
                sample_id, sample_id + 1, profile.n_features, config.SEED
            )[0]
            if not np.allclose(np.asarray(row, np.float32), expected):
                found.stop(
                    f"{where}: the feature row is another sample's; row {sample_id} of "
                    f"the matrix belongs to sample {sample_id}."
                )
            if int(label) != int(synthetic.labels(sample_id, sample_id + 1, config.SEED)[0]):
                found.stop(f"{where}: label {label} is another sample's.")
    return found.report(
        "the same sample from HDF5, .npy and bcolz, with its label, in every split.", verbose
    )


def check_disk_estimate(estimate, profile=None, tolerance=0.1, verbose=True):
    """Checks `estimate(layout, profile)`, a prediction of a layout's bytes on disk.

    Compares it with what each built layout of the profile really uses
    (`course_data.disk_usage`), within `tolerance`.

    Returns:
        A `Report`.
    """
    profile = config.get_profile(profile)
    found = Findings()
    with found:
        for layout in course_data.CORE_LAYOUTS:
            guess = found.call(f"estimate({layout!r}, profile)", estimate, layout, profile)
            actual, files = course_data.disk_usage(
                course_data.ensure_layout(layout, profile, progress=False)
            )
            if abs(guess - actual) > tolerance * actual:
                found.add(
                    f"{layout}: estimated {guess / 2**20:,.1f} MiB, but it uses "
                    f"{actual / 2**20:,.1f} MiB in {files:,} files. Count the bytes of the "
                    f"data, then what each file adds (a header, whole 4 KiB blocks)."
                )
    return found.report(f"every layout's size on disk predicted within {tolerance:.0%}.", verbose)
