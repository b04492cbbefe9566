"""Checkers for augmentation: reproducible per sample, and never on validation."""

import numpy as np

from course_lib.checks.report import Findings, fingerprints, first_array


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
        if not any(np.array_equal(result, option)
                   for option in _flips_and_shifts(image, max_shift)):
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
            found.stop(f"transform returned {out.dtype} {out.shape} for {images.dtype} "
                       f"{images.shape}: keep the batch's shape and dtype.")
        if np.array_equal(out, images):
            found.stop("transform returned the images unchanged: it is not written yet.")
        if max_shift is not None:
            row = _not_a_flip_and_shift(images, out, max_shift)
            if row is not None:
                found.stop(f"Image {row} of the result is not its input flipped and shifted by "
                           f"at most {max_shift} pixels (noise, a crop or a rotation?): flip "
                           f"left-right (image[:, ::-1]) with probability 1/2, then "
                           f"np.roll it along both axes.")
        again = np.asarray(transform(images, ids, 0))
        if not np.array_equal(out, again):
            found.stop("Two calls with the same ids and epoch gave different images: draw "
                       "from np.random.default_rng([seed, epoch, sample_id]), not from a "
                       "shared or unseeded generator, so every worker agrees.")
        half = len(images) // 2
        split = np.concatenate([transform(images[half:], ids[half:], 0),
                                transform(images[:half], ids[:half], 0)])
        if not np.array_equal(split, np.concatenate([out[half:], out[:half]])):
            found.add("A sample's result changes with the batch it is in (batch split in two "
                      "and reordered): seed each sample by its id, not by its place in the batch.")
        if np.array_equal(out, transform(images, ids, 1)):
            found.add("Epoch 1 gave the same images as epoch 0: put the epoch in the seed so "
                      "the model sees new variants each epoch.")
        same = np.repeat(images[:1], len(images), axis=0)
        if len(set(fingerprints(np.asarray(transform(same, ids, 0))))) == 1:
            found.add("Copies of one image with different ids got identical results: one "
                      "random draw serves the whole batch; draw per sample id.")
        elif fingerprints(np.asarray(transform(same[1:], ids[:-1], 1))) == \
                fingerprints(np.asarray(transform(same[1:], ids[1:], 0))):
            found.add(f"Sample {ids[0]} in epoch 1 got the same draw as sample {ids[1]} in epoch "
                      f"0 (and so on for every pair): a seed such as SEED + epoch + sample_id "
                      f"adds up to the same number. Give the generator the three values apart: "
                      f"np.random.default_rng([SEED, epoch, sample_id]).")
    return found.report("shape and dtype kept, the same per (seed, epoch, sample) in any batch "
                        "or worker, new each epoch.", verbose)


def check_validation_untouched(valid, images, train=None, verbose=True):
    """Checks that validation batches hold the stored images, unaugmented, all, in order.

    Args:
        valid: the validation loader (a `PyDataset`).
        images: the validation images as stored, in file order.
        train: optionally the training loader, which should be augmented.

    Returns:
        A `Report`.
    """
    file_order = fingerprints(np.asarray(images))
    stored = set(file_order)
    found = Findings()
    with found:
        length = found.call("len(valid)", len, found.require(valid, "The validation loader"))
        served = []
        for index in range(length):
            batch = found.call(f"valid[{index}]", valid.__getitem__, index)
            x = first_array(batch[0]).astype(np.asarray(images).dtype)
            changed = sum(p not in stored for p in fingerprints(x))
            if changed:
                found.stop(f"valid[{index}] has {changed} of {len(x)} images that differ from the "
                           f"stored ones: validation must see the data as it is, so wrap only "
                           f"the training loader.")
            served += fingerprints(x)
        if len(set(served)) < len(file_order) or len(served) != len(file_order):
            found.stop(f"The validation loader served {len(served)} images ({len(set(served))} "
                       f"distinct) of the {len(file_order)} stored: validation must cover the "
                       f"whole split, each image once, or its accuracy describes another set.")
        if served != file_order:
            found.add("The validation loader serves the split in another order than the file's: "
                      "build it with shuffle=\"none\", so evaluate is repeatable and predict's "
                      "rows line up with the stored labels.")
        if train is not None:
            x = first_array(found.call("train[0]", train.__getitem__, 0)[0])
            if all(p in stored for p in fingerprints(x.astype(np.asarray(images).dtype))):
                found.add("train[0] holds stored images unchanged: wrap the training loader "
                          "with the augmentation.")
    return found.report("validation batches hold the stored images"
                        + (", training batches are augmented." if train is not None else "."),
                        verbose)
