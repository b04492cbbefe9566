"""Checkers for files the learner writes: an HDF5 file written in blocks."""

import tempfile
from pathlib import Path

import numpy as np

from course_lib import config
from course_lib.checks.report import Findings, file_key, reference_run
from course_lib.course import synthetic
from course_lib.formats import hdf5
from course_lib.scale_out import child

# h5py's guide: chunks between about 10 KiB and 1 MiB; the default chunk
# cache is 1 MiB per dataset, so a bigger chunk is read again for every access.
CHUNK_BYTES = (10 * 2**10, 2**20)


def check_hdf5_file(
    path, n_samples, image_shape, n_classes, images="images", labels="labels", verbose=True
):
    """Checks an HDF5 file of images and labels: datasets, shapes, dtypes, chunks.

    Args:
        path: the file.
        n_samples: rows expected in both datasets.
        image_shape: `(height, width, channels)` of every image.
        n_classes: labels must lie in `[0, n_classes)`.
        images, labels: the datasets' names in the file.
        verbose: print the report.

    Returns:
        A `Report`. A file that can take more blocks has `maxshape=(None, ...)`;
        a chunk holds whole images and 10 KiB to 1 MiB.
    """
    found = Findings()
    with found:
        with found.call(f"opening {Path(path).name}", hdf5.open_file, path) as file:
            for name in (images, labels):
                if name not in file:
                    found.stop(
                        f"{Path(path).name} has no dataset {name!r} (it has: "
                        f"{', '.join(file)[:100] or 'nothing'})."
                    )
            x, y = file[images], file[labels]
            where = f"{Path(path).name}:/{images}"
            if x.dtype != np.uint8 or x.shape != (n_samples, *image_shape):
                found.add(
                    f"{where} is {x.dtype} {x.shape}, expected uint8 {(n_samples, *image_shape)}."
                )
            if y.shape != (n_samples,) or not np.issubdtype(y.dtype, np.integer):
                found.add(
                    f"{Path(path).name}:/{labels} is {y.dtype} {y.shape}, expected "
                    f"integer class indices of shape ({n_samples},)."
                )
            if x.maxshape[0] is not None:
                found.add(
                    f"{where} cannot grow (maxshape {x.maxshape}); create it with "
                    f"shape (0, ...) and maxshape=(None, ...), then resize and write "
                    f"one block at a time."
                )
            _check_chunks(found, where, x, image_shape)
            if len(y) == n_samples and n_samples:
                values = y[:]
                bad = np.flatnonzero((values < 0) | (values >= n_classes))
                if len(bad):
                    found.add(
                        f"{Path(path).name}:/{labels} row {bad[0]} has label "
                        f"{values[bad[0]]}, outside [0, {n_classes})."
                    )
    return found.report(
        f"{n_samples} images and labels, resizable, in chunks of whole images of a sensible size.",
        verbose,
    )


def _check_chunks(found, where, images, image_shape):
    if images.chunks is None:
        found.stop(
            f"{where} is contiguous: a resizable dataset needs chunks; give "
            f"chunks=(rows, {', '.join(map(str, image_shape))})."
        )
    if tuple(images.chunks[1:]) != tuple(image_shape):
        found.add(
            f"{where} has chunks {images.chunks}, which cut images apart: a batch "
            f"reads whole images, so give chunks=(rows, "
            f"{', '.join(map(str, image_shape))})."
        )
    size = int(np.prod(images.chunks)) * images.dtype.itemsize
    low, high = CHUNK_BYTES
    if not low <= size <= high:
        found.add(
            f"{where} has chunks of {size / 1024:.0f} KiB; aim for 10 KiB to 1 MiB (h5py's "
            f"guide; a bigger chunk does not fit the 1 MiB chunk cache, a smaller one "
            f"means many tiny reads)."
        )


def _one_block_at_a_time(path, n_samples, block_size, image_size):
    """The reference writer: what writing block by block costs in memory."""
    from course_lib.formats import hdf5

    with hdf5.HDF5Writer(path, (image_size, image_size, 3), config.CLASS_NAMES) as writer:
        for start in range(0, n_samples, block_size):
            stop = min(start + block_size, n_samples)
            writer.append(
                "train",
                synthetic.images(start, stop, image_size, config.SEED),
                synthetic.labels(start, stop, config.SEED),
                np.arange(start, stop),
            )


def check_hdf5_writer(write, n_samples=None, block_size=256, profile="ci", verbose=True):
    """Checks a learner's block-wise HDF5 writer: its file, its contents, its memory.

    Runs `write(path, n_samples, block_size)` in a fresh process (so its peak
    memory is its own), then checks the file with `check_hdf5_file` and
    compares rows with the course's synthetic data (`synthetic.images` and
    `synthetic.labels` of ids `0..n_samples-1`, `config.SEED`, the profile's
    image size). Its memory is compared with the kit's own block writer, run
    the same way: it may add up to that plus half the data, while a writer
    that holds all the images adds the whole data on top.

    Args:
        write: the learner's `write(path, n_samples, block_size)`.
        n_samples: samples to write; default: about 96 MiB of images, enough
            for a writer that holds everything to show in its memory.
        block_size: samples per block, passed to `write`.
        profile: the profile whose image size the file must have.

    Returns:
        A `Report`.
    """
    profile = config.get_profile(profile)
    shape = profile.image_shape
    n_samples = n_samples or int(96 * 2**20 // np.prod(shape))
    data_mib = n_samples * np.prod(shape) / 2**20
    imports = ("h5py", "numpy", "course_lib.course.synthetic")
    found, added, reference_mib = Findings(), None, None
    with tempfile.TemporaryDirectory() as folder, found:
        path = Path(folder) / "written.h5"
        result = child.run(write, str(path), n_samples, block_size, imports=imports)
        if not result.ok:
            found.stop(
                f"write(path, {n_samples}, {block_size}) failed in its own process: {result.error}"
            )
        added = result.added_mib
        if not path.exists():
            found.stop("write(path, ...) ran but wrote no file at `path`: it is not written yet.")
        report = check_hdf5_file(path, n_samples, shape, profile.n_classes, verbose=False)
        found.problems += report.problems
        if report.ok:
            _compare_rows(found, path, n_samples, profile)
        reference_mib = _against_one_block(
            found,
            added,
            data_mib,
            "Writing",
            "writer",
            "hold one block in memory at a time (synthetic.images(start, stop, ...) per block).",
            (n_samples, block_size, profile.image_size),
            _one_block_at_a_time,
            str(Path(folder) / "reference.h5"),
            n_samples,
            block_size,
            profile.image_size,
        )
    return found.report(
        f"the file is complete and correct, and writing {data_mib:.0f} MiB "
        f"added {added or 0:.0f} MiB of memory (the kit's block writer: "
        f"{reference_mib or 0:.0f} MiB).",
        verbose,
    )


def _against_one_block(found, added, data_mib, doing, who, advice, key, reference, *args):
    """Runs the kit's one-block `reference(*args)` in a fresh process (once per `key`); flags
    `added` memory above its own plus half the data. Returns the reference's added MiB."""
    reference_mib = reference_run(
        (reference.__name__, *key),
        lambda: child.run(reference, *args, imports=("h5py", "numpy")).added_mib,
    )
    if added > reference_mib + data_mib / 2:
        found.add(
            f"{doing} {data_mib:.0f} MiB of images added {added:.0f} MiB to the process, "
            f"against {reference_mib:.0f} MiB for a {who} that holds one block: {advice}"
        )
    return reference_mib


def _compare_rows(found, path, n_samples, profile):
    """Compares a few rows, the last one included, with the synthetic data."""
    with hdf5.open_file(path) as file:
        for row in sorted({0, n_samples // 2, n_samples - 1}):
            image = synthetic.images(row, row + 1, profile.image_size, config.SEED)[0]
            label = synthetic.labels(row, row + 1, config.SEED)[0]
            if not np.array_equal(file["images"][row], image) or file["labels"][row] != label:
                found.stop(
                    f"Row {row} of {path.name} does not hold sample {row} (compare with "
                    f"synthetic.images({row}, {row + 1}, ...)): check the block offsets."
                )


def _copy_in_blocks(source, target, block_size):
    """The reference converter: one block of images and one-hot labels in memory at a time."""
    import h5py

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        images, one_hot = src["images"], src["labels"]
        shape = images.shape[1:]
        out = dst.create_dataset(
            "images",
            (0, *shape),
            "uint8",
            maxshape=(None, *shape),
            chunks=(max(1, 2**19 // int(np.prod(shape))), *shape),
        )
        labels = dst.create_dataset("labels", (0,), "int64", maxshape=(None,), chunks=(4096,))
        for start in range(0, len(images), block_size):
            stop = min(start + block_size, len(images))
            out.resize(stop, axis=0)
            labels.resize(stop, axis=0)
            out[start:stop], labels[start:stop] = images[start:stop], one_hot[start:stop].argmax(1)


def check_conversion(convert, source, n_classes, block_size=256, verbose=True):
    """Checks `convert(source, target, block_size)`: one-hot images file to the kit's layout.

    Runs the learner's converter in a fresh process, checks the new file with
    `check_hdf5_file`, compares every image with the source's and every label
    with the source's one-hot row (`argmax`), and compares the memory it added
    with the kit's block converter, run the same way: it may add half the
    source's images on top of that, not the whole file.

    Args:
        convert: the learner's function.
        source: an HDF5 file with `images` (uint8) and one-hot `labels`.
        n_classes: the width of the one-hot labels.
        block_size: passed to `convert`.

    Returns:
        A `Report`.
    """
    import h5py

    with h5py.File(source, "r") as file:
        n_samples, image_shape = len(file["images"]), file["images"].shape[1:]
        data_mib = file["images"].nbytes / 2**20
    imports, found, added, reference_mib = ("h5py", "numpy"), Findings(), None, None
    with tempfile.TemporaryDirectory() as folder, found:
        target = Path(folder) / "converted.h5"
        result = child.run(convert, str(source), str(target), block_size, imports=imports)
        if not result.ok:
            found.stop(
                f"convert(source, target, {block_size}) failed in its own process: {result.error}"
            )
        added = result.added_mib
        if not target.exists():
            found.stop("convert ran but wrote no file at `target`: it is not written yet.")
        report = check_hdf5_file(target, n_samples, image_shape, n_classes, verbose=False)
        found.problems += report.problems
        if report.ok:
            _compare_with_source(found, source, target, block_size)
        reference_mib = _against_one_block(
            found,
            added,
            data_mib,
            "Converting",
            "converter",
            "read images[start:stop] and labels[start:stop] inside the loop, never images[:].",
            (*file_key(source), block_size),
            _copy_in_blocks,
            str(source),
            str(Path(folder) / "reference.h5"),
            block_size,
        )
    return found.report(
        f"every image and label of {n_samples:,} samples converted, and "
        f"converting added {added or 0:.0f} MiB of memory (the kit's block "
        f"converter: {reference_mib or 0:.0f} MiB).",
        verbose,
    )


def _compare_with_source(found, source, target, block_size):
    """Compares images and labels with the source's, a block at a time; names the first bad row."""
    with hdf5.open_file(source) as src, hdf5.open_file(target) as dst:
        for start in range(0, len(src["images"]), block_size):
            stop = start + block_size
            images, got = src["images"][start:stop], dst["images"][start:stop]
            wrong = np.flatnonzero(np.any((images != got).reshape(len(images), -1), axis=1))
            if len(wrong):
                found.stop(
                    f"Row {start + wrong[0]} of {target.name}:/images differs from the "
                    f"source's image: copy images[start:stop] as they are."
                )
            labels = src["labels"][start:stop].argmax(axis=1)
            wrong = np.flatnonzero(labels != dst["labels"][start:stop])
            if len(wrong):
                row = start + wrong[0]
                found.stop(
                    f"Row {row} of {target.name}:/labels is {dst['labels'][row]}, but "
                    f"the source's one-hot row says class {labels[wrong[0]]}: write "
                    f"labels[start:stop].argmax(axis=1)."
                )
