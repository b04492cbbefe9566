"""Checker for an epoch order that is a pure function of (seed, epoch)."""

import pickle

import numpy as np

from course_lib.checks.loaders import check_dataset
from course_lib.checks.report import Findings, Stop, fingerprints, first_array


def _served(found, ds, what):
    """The fingerprints of every sample of the loader's current epoch, in order."""
    order = []
    for index in range(found.call(f"len({what})", len, ds)):
        batch = found.call(f"{what}[{index}]", ds.__getitem__, index)
        order += fingerprints(first_array(batch[0]))
    return order


def _other_code_draws_random_numbers():
    """What a training script does between two epochs: augmentations, dropout, init."""
    np.random.seed(np.random.default_rng().integers(2**31))
    np.random.random(1000)


def check_epoch_order(make_loader, n_samples, epochs=3, verbose=True):
    """Checks a loader whose order of epoch `e` depends only on `(seed, e)`.

    Builds loaders with `make_loader(seed)` and checks what that property is
    for: a fresh loader given `set_epoch(epochs)` serves what a loader that went
    through `epochs` calls of `on_epoch_end` serves (a resumed run continues the
    same orders); two loaders with the same seed agree epoch by epoch while other
    code draws from `np.random` in between (two hosts, or torch-style persistent
    workers, agree without talking); a pickled copy agrees (a worker process);
    another seed gives another order; every epoch serves each sample once.

    Args:
        make_loader: `make_loader(seed)` returns the learner's `PyDataset`,
            which has `set_epoch(epoch)`.
        n_samples: samples per epoch.
        epochs: how many epochs the first loader goes through.

    Returns:
        A `Report`.

    Example:

    ```python
    check_epoch_order(lambda seed: ResumableBatches(ids, labels, folder, 100, seed), len(ids))
    ```
    """
    found, global_state = Findings(), np.random.get_state()
    with found:
        first = found.require(found.call("make_loader(seed=7)", make_loader, 7), "The loader")
        if not callable(getattr(first, "set_epoch", None)):
            found.stop(
                "The loader has no set_epoch(epoch) method: a resumed run, or another "
                "host, must be able to start at any epoch without replaying the ones "
                "before."
            )
        report = check_dataset(first, n_samples, verbose=False)
        found.problems += report.problems
        if not report.ok:
            raise Stop  # the order checks below need a correct epoch first
        walked = found.call("make_loader(seed=7)", make_loader, 7)
        orders = [_served(found, walked, "ds")]
        for _ in range(epochs):
            _other_code_draws_random_numbers()
            found.call("ds.on_epoch_end()", lambda: walked.on_epoch_end() or True)
            orders.append(_served(found, walked, "ds"))
        if len(set(map(tuple, orders))) < len(orders):
            found.add(
                "Two epochs came in the same order: put the epoch in the seed "
                "(np.random.default_rng([seed, epoch]))."
            )
        jumped = found.call("make_loader(seed=7)", make_loader, 7)
        _other_code_draws_random_numbers()
        found.call(f"set_epoch({epochs})", lambda: jumped.set_epoch(epochs) or True)
        if _served(found, jumped, f"loader.set_epoch({epochs})") != orders[epochs]:
            found.add(
                f"A fresh loader given set_epoch({epochs}) served another order than a "
                f"loader that went through {epochs} epochs, so a resumed run would not "
                f"continue where it stopped: compute epoch e's order from (seed, e) only, "
                f"e.g. np.random.default_rng([seed, e]).permutation(n), not from "
                f"np.random's global state or from the orders before it."
            )
        other_host = found.call("make_loader(seed=7)", make_loader, 7)
        for epoch in range(2):
            _other_code_draws_random_numbers()
            found.call(f"set_epoch({epoch})", lambda: other_host.set_epoch(epoch) or True)
            if _served(found, other_host, "a second loader") != orders[epoch]:
                found.stop(
                    f"Two loaders with seed 7 served different orders in epoch {epoch} "
                    f"while other code drew from np.random in between: two hosts would "
                    f"disagree about which samples make each batch. Draw the order from "
                    f"np.random.default_rng([seed, epoch])."
                )
        copy = found.call(
            "pickle.loads(pickle.dumps(loader))", lambda: pickle.loads(pickle.dumps(walked))
        )
        found.call("copy.set_epoch(1)", lambda: copy.set_epoch(1) or True)
        if _served(found, copy, "a pickled copy") != orders[1]:
            found.add(
                "A pickled copy (what a worker process holds) given set_epoch(1) served "
                "another order than epoch 1: keep nothing but the seed and the epoch "
                "behind the order."
            )
        reseeded = found.call("make_loader(seed=8)", make_loader, 8)
        found.call("set_epoch(0)", lambda: reseeded.set_epoch(0) or True)
        reseeded_order = _served(found, reseeded, "make_loader(seed=8)")
        if reseeded_order == orders[0]:
            found.add(
                "Seeds 7 and 8 gave the same order: the seed must go into the generator "
                "that draws the order."
            )
        elif reseeded_order == orders[1]:
            found.add(
                "Seed 8's epoch 0 is seed 7's epoch 1: the order comes from seed + epoch, so "
                "runs with neighbouring seeds replay each other's epochs. Give both to the "
                "generator apart: np.random.default_rng([seed, epoch])."
            )
    np.random.set_state(global_state)  # the learner's own np.random draws go on as before
    return found.report(
        f"epoch {epochs} of a fresh loader matches a loader that went through "
        f"{epochs} epochs; same seed, same orders everywhere; a new order each "
        f"epoch.",
        verbose,
    )
