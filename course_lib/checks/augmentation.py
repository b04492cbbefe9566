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


def _split_prints(path, split, change=None, block=1024):
    """Fingerprints of a split's stored images in file order, read a block at a time;
    `change(images, ids)` is applied to each block first. Also returns the images' dtype."""
    import h5py

    with h5py.File(path, "r") as file:
        images, prints = file[f"{split}/images"], []
        for start in range(0, len(images), block):
            rows = images[start : start + block]
            ids = np.arange(start, start + len(rows))
            prints += fingerprints(rows if change is None else change(rows, ids))
        return prints, images.dtype


def _batch_prints(batches, dtype):
    """Fingerprints of every image of the recorded batches, in order, each batch as `dtype`."""
    return [p for batch in batches for p in fingerprints(np.asarray(batch).astype(dtype))]


def _marked_flip(images, ids, epoch):
    """The checker's augmentation: a left-right flip plus a brightness set by id and epoch.

    Every (sample, epoch) pair gets its own result, so the checker can tell
    which sample and epoch an augmented image came from.

    >>> _marked_flip(np.zeros((1, 1, 2, 1), np.uint8), np.array([3]), 1)[0, 0, :, 0]
    array([11., 11.], dtype=float32)
    """
    shift = (np.asarray(ids) % 5 + 1)[:, None, None, None] + 7 * epoch
    return np.asarray(images, np.float32)[:, :, ::-1] + shift.astype(np.float32)


def _epoch_marks(epoch):
    """`_marked_flip` for one epoch, as a block's `change(images, ids)`."""
    return lambda images, ids: _marked_flip(images, ids, epoch)


def check_augmented_fit(fit_with_augmentation, path, epochs=2, verbose=True):
    """Checks `fit_with_augmentation(model, augment)`: a learner's augmenting wrapper in a fit.

    The learner's function wraps the training loader of the course file at
    `path` in a `PyDataset` of their own that applies `augment(images, ids,
    epoch)` to each batch's images, and calls `model.fit(train,
    validation_data=valid, epochs=2, shuffle=False)`. The checker hands it a
    model that learns nothing and writes down every batch fit trains on and
    every batch the end-of-epoch evaluations see, and an `augment` whose result
    says which sample and epoch it came from. Each training epoch must hold
    every training sample once, augmented with its own id and that epoch, in a
    new order; each evaluation the stored validation images, each once, in
    file order.

    Returns:
        A `Report`.
    """
    from course_lib.models import BatchRecorder

    as_float, _ = _split_prints(path, "train", lambda rows, ids: rows.astype(np.float32))
    valid_prints, valid_dtype = _split_prints(path, "valid")
    ids = np.arange(len(as_float))
    model = BatchRecorder()
    model.compile(run_eagerly=True)
    found = Findings()
    with found:
        found.call(
            "fit_with_augmentation(model, augment)", fit_with_augmentation, model, _marked_flip
        )
        if not model.trained:
            found.stop("fit trained on nothing: call model.fit(train_loader, ...).")
        trained = _batch_prints(model.trained, np.float32)
        if len(trained) != epochs * len(ids):
            found.stop(
                f"fit trained on {len(trained)} images, but {epochs} epochs of the training "
                f"split hold {epochs * len(ids)}: give it the whole training loader and "
                f"epochs={epochs}."
            )
        if set(trained) <= set(as_float):
            found.stop(
                "Every training image fit saw is a stored one, unchanged: apply augment to "
                "the images of every batch your wrapper serves."
            )
        # Keras counts an epoch end after peeking at the first batches (TensorFlow backend),
        # so fit's first epoch may be a wrapper's epoch 1: any count that moves will do.
        marks = {
            count: dict(zip(_split_prints(path, "train", _epoch_marks(count))[0], ids))
            for count in range(epochs + 2)
        }
        orders, counts = [], []
        for epoch in range(epochs):
            served = trained[epoch * len(ids) : (epoch + 1) * len(ids)]
            count = max(marks, key=lambda c: sum(p in marks[c] for p in served))
            known = [marks[count].get(p) for p in served]
            if None in known:
                found.stop(
                    f"In fit's epoch {epoch}, {known.count(None)} of {len(served)} training "
                    f"images are not augment(image, id, epoch) of their own sample for the "
                    f"epoch of the batch: pass each batch's own sample ids "
                    f"(loader.sample_keys(index)), not positions in the batch, and one epoch "
                    f"count for the whole batch."
                )
            if sorted(known) != list(ids):
                found.stop(f"Epoch {epoch} did not hold every training sample once.")
            orders.append(known)
            counts.append(count)
        if len(set(counts)) < len(counts):
            found.add(
                f"Every epoch was augmented with the same epoch number ({counts[0]}): the "
                f"model sees the same variants again. Count epochs in your wrapper's "
                f"on_epoch_end and pass the count to augment."
            )
        if epochs > 1 and orders[0] == orders[1]:
            found.add(
                "Both epochs served the samples in the same order: the wrapper's on_epoch_end "
                "must call the wrapped loader's, so it draws the next epoch's order."
            )
        if not model.evaluated:
            found.stop(
                "fit evaluated nothing at the end of an epoch: pass validation_data=valid_loader."
            )
        evaluated = _batch_prints(model.evaluated, valid_dtype)
        first = evaluated[: len(valid_prints)]
        changed = sum(p not in set(valid_prints) for p in first)
        if changed:
            found.stop(
                f"The evaluation saw {changed} of {len(first)} validation images changed: "
                f"validation measures the data as it is, so augment only the training loader."
            )
        if sorted(first) != sorted(valid_prints) or len(evaluated) != epochs * len(valid_prints):
            found.stop(
                f"The evaluations saw {len(evaluated)} images for {epochs} epochs of the "
                f"{len(valid_prints)} stored: validate on the whole split, each image once."
            )
        if first != valid_prints:
            found.add(
                "The evaluation read the validation split in another order than the "
                'file\'s: build it with shuffle="none", so evaluate is repeatable and '
                "predict's rows line up with the stored labels."
            )
    return found.report(
        f"fit trained on {epochs} epochs of {len(ids):,} images, each augmented with its own id "
        f"and epoch, in a new order each epoch, and evaluated the {len(valid_prints):,} stored "
        f"validation images, in file order.",
        verbose,
    )
