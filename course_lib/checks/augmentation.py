"""Checkers for augmentation: reproducible per sample, and never on validation."""

import numpy as np

from course_lib.checks.report import Findings, fingerprints


def _flips_and_shifts(image, max_shift):
    """Every left-right flip and shift of `image` by up to `max_shift` pixels (rolled or filled)."""
    for flipped in (image, image[:, ::-1]):
        for dy in range(-max_shift, max_shift + 1):
            for dx in range(-max_shift, max_shift + 1):
                rolled = np.roll(flipped, (dy, dx), axis=(0, 1))
                yield rolled
                filled = np.zeros_like(rolled)
                rows = slice(max(dy, 0), rolled.shape[0] + min(dy, 0))
                cols = slice(max(dx, 0), rolled.shape[1] + min(dx, 0))
                filled[rows, cols] = rolled[rows, cols]
                yield filled


def _not_a_flip_and_shift(images, out, max_shift):
    """The first row of `out` that no flip and shift of its input gives, or None."""
    for row, (image, result) in enumerate(zip(images, out)):
        if not any(
            np.array_equal(result, option) for option in _flips_and_shifts(image, max_shift)
        ):
            return row
    return None


def check_augmentation(transform, images, ids, max_shift=None, verbose=True):
    """Checks a learner's seeded transform `transform(images, ids, epoch)`.

    The same sample must get the same result for the same epoch whichever
    batch, worker or process it lands in (so the result may depend only on
    the seed, the epoch and the sample id); a new epoch must bring new
    results; two samples must not share one random draw, and no (epoch, id)
    pair may share the draw of another (as `seed + epoch + id` makes epoch 1,
    id 0 and epoch 0, id 1 share); the batch's shape and dtype are kept.

    Args:
        transform: the learner's function.
        images: a batch of at least 4 images (uint8 or float).
        ids: their sample ids.
        max_shift: if given, every result must be a left-right flip (or not)
            of its input shifted by at most this many pixels per axis, rolled
            or filled with zeros (the flip-and-shift exercise).

    Returns:
        A `Report`.
    """
    images, ids = np.asarray(images), np.asarray(ids)
    found = Findings()
    with found:
        out = np.asarray(found.call("transform(images, ids, epoch=0)", transform, images, ids, 0))
        if out.shape != images.shape or out.dtype != images.dtype:
            found.stop(
                f"transform returned {out.dtype} {out.shape} for {images.dtype} "
                f"{images.shape}: keep the batch's shape and dtype."
            )
        if np.array_equal(out, images):
            found.stop("transform returned the images unchanged: it is not written yet.")
        if max_shift is not None:
            row = _not_a_flip_and_shift(images, out, max_shift)
            if row is not None:
                found.stop(
                    f"Image {row} of the result is not its input flipped and shifted by "
                    f"at most {max_shift} pixels (noise, a crop or a rotation?): flip "
                    f"left-right (image[:, ::-1]) with probability 1/2, then "
                    f"np.roll it along both axes."
                )
        again = np.asarray(transform(images, ids, 0))
        if not np.array_equal(out, again):
            found.stop(
                "Two calls with the same ids and epoch gave different images: draw "
                "from np.random.default_rng([seed, epoch, sample_id]), not from a "
                "shared or unseeded generator, so every worker agrees."
            )
        half = len(images) // 2
        split = np.concatenate(
            [transform(images[half:], ids[half:], 0), transform(images[:half], ids[:half], 0)]
        )
        if not np.array_equal(split, np.concatenate([out[half:], out[:half]])):
            found.add(
                "A sample's result changes with the batch it is in (batch split in two "
                "and reordered): seed each sample by its id, not by its place in the batch."
            )
        if np.array_equal(out, transform(images, ids, 1)):
            found.add(
                "Epoch 1 gave the same images as epoch 0: put the epoch in the seed so "
                "the model sees new variants each epoch."
            )
        same = np.repeat(images[:1], len(images), axis=0)
        if len(set(fingerprints(np.asarray(transform(same, ids, 0))))) == 1:
            found.add(
                "Copies of one image with different ids got identical results: one "
                "random draw serves the whole batch; draw per sample id."
            )
        elif fingerprints(np.asarray(transform(same[1:], ids[:-1], 1))) == fingerprints(
            np.asarray(transform(same[1:], ids[1:], 0))
        ):
            found.add(
                f"Sample {ids[0]} in epoch 1 got the same draw as sample {ids[1]} in epoch "
                f"0 (and so on for every pair): a seed such as SEED + epoch + sample_id "
                f"adds up to the same number. Give the generator the three values apart: "
                f"np.random.default_rng([SEED, epoch, sample_id])."
            )
    return found.report(
        "shape and dtype kept, the same per (seed, epoch, sample) in any batch "
        "or worker, new each epoch.",
        verbose,
    )


def _stored_prints(path, split, block=1024):
    """Fingerprints of a split's stored images, in file order, read a block at a time."""
    import h5py

    with h5py.File(path, "r") as file:
        images = file[f"{split}/images"]
        return [
            p
            for start in range(0, len(images), block)
            for p in fingerprints(images[start : start + block])
        ], images.dtype


def check_augmented_fit(fit_with_augmentation, path, verbose=True):
    """Checks `fit_with_augmentation(model)`: augmentation on the training side of a fit only.

    The learner's function builds the loaders for the course file at `path` and
    calls `model.fit(train, validation_data=valid, epochs=1, shuffle=False)`. The
    checker hands it a model that learns nothing and writes down every batch fit
    trains on and every batch the end-of-epoch evaluation sees: training must see
    every training sample, augmented; evaluation must see the stored validation
    images, all of them, each once, in file order.

    Returns:
        A `Report`.
    """
    from course_lib.models import BatchRecorder

    train_prints, dtype = _stored_prints(path, "train")
    valid_prints, _ = _stored_prints(path, "valid")
    model = BatchRecorder()
    model.compile(run_eagerly=True)
    found = Findings()
    with found:
        found.call("fit_with_augmentation(model)", fit_with_augmentation, model)
        if not model.trained:
            found.stop("fit trained on nothing: call model.fit(train_loader, ...).")
        trained = fingerprints(np.concatenate(model.trained).astype(dtype))
        if len(trained) != len(train_prints):
            found.add(
                f"fit trained on {len(trained)} images in its epoch, but the training "
                f"split has {len(train_prints)}: give it the whole training loader."
            )
        stored = set(train_prints)
        if all(p in stored for p in trained):
            found.add(
                "Every training image fit saw is a stored one, unchanged: wrap the "
                "training loader in AugmentedDataset."
            )
        if not model.evaluated:
            found.stop(
                "fit evaluated nothing at the end of the epoch: pass validation_data=valid_loader."
            )
        evaluated = fingerprints(np.concatenate(model.evaluated).astype(dtype))
        changed = sum(p not in set(valid_prints) for p in evaluated)
        if changed:
            found.stop(
                f"The evaluation saw {changed} of {len(evaluated)} validation images "
                f"changed: validation measures the data as it is, so augment only the "
                f"training loader."
            )
        if sorted(evaluated) != sorted(valid_prints) or len(evaluated) != len(valid_prints):
            found.stop(
                f"The evaluation saw {len(evaluated)} images ({len(set(evaluated))} "
                f"distinct) of the {len(valid_prints)} stored: validate on the whole "
                f"split, each image once."
            )
        if evaluated != valid_prints:
            found.add(
                "The evaluation read the validation split in another order than the "
                'file\'s: build it with shuffle="none", so evaluate is repeatable and '
                "predict's rows line up with the stored labels."
            )
    return found.report(
        f"fit trained on {len(train_prints):,} augmented images and evaluated "
        f"the {len(valid_prints):,} stored validation images, in file order.",
        verbose,
    )
