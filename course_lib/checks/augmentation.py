"""Checkers for augmentation: reproducible per sample, and never on validation."""

import numpy as np

from course_lib.checks.report import Findings, fingerprints, first_array


def check_augmentation(transform, images, ids, verbose=True):
    """Checks a learner's seeded transform `transform(images, ids, epoch)`.

    The same sample must get the same result for the same epoch whichever
    batch, worker or process it lands in (so the result may depend only on
    the seed, the epoch and the sample id); a new epoch must bring new
    results; two samples must not share one random draw; the batch's shape
    and dtype are kept.

    Args:
        transform: the learner's function.
        images: a batch of at least 4 images (uint8 or float).
        ids: their sample ids.

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
    return found.report("shape and dtype kept, the same per (seed, epoch, sample) in any batch "
                        "or worker, new each epoch.", verbose)


def check_validation_untouched(valid, images, train=None, verbose=True):
    """Checks that validation batches hold the stored images, unaugmented.

    Args:
        valid: the validation loader (a `PyDataset`).
        images: the validation images as stored (any order).
        train: optionally the training loader, which should be augmented.

    Returns:
        A `Report`.
    """
    stored = set(fingerprints(np.asarray(images)))
    found = Findings()
    with found:
        length = found.call("len(valid)", len, found.require(valid, "The validation loader"))
        for index in range(length):
            batch = found.call(f"valid[{index}]", valid.__getitem__, index)
            x = first_array(batch[0]).astype(np.asarray(images).dtype)
            changed = sum(p not in stored for p in fingerprints(x))
            if changed:
                found.stop(f"valid[{index}] has {changed} of {len(x)} images that differ from the "
                           f"stored ones: validation must see the data as it is, so wrap only "
                           f"the training loader.")
        if train is not None:
            x = first_array(found.call("train[0]", train.__getitem__, 0)[0])
            if all(p in stored for p in fingerprints(x.astype(np.asarray(images).dtype))):
                found.add("train[0] holds stored images unchanged: wrap the training loader "
                          "with the augmentation.")
    return found.report("validation batches hold the stored images"
                        + (", training batches are augmented." if train is not None else "."),
                        verbose)
