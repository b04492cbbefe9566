"""Checkers for two inputs that must stay aligned: images and feature rows."""

import numpy as np
import pandas as pd

from course_lib.checks.report import Findings


def id_coded_frame(n_samples=1000, n_classes=3, seed=0):
    """An index table filtered and shuffled the way real ones are.

    Sample `i` has label `i % n_classes`; class 0 is filtered out and the
    rows are shuffled, then the pandas index is reset, so row positions,
    index labels and sample ids all differ.

    Returns:
        A DataFrame with columns `id` and `label`.
    """
    frame = pd.DataFrame({"id": np.arange(n_samples), "label": np.arange(n_samples) % n_classes})
    frame = frame[frame.label != 0].sample(frac=1.0, random_state=seed)
    return frame.reset_index(drop=True)


def id_coded_matrix(n_samples=1000, n_features=4):
    """A feature matrix whose row `i` holds the number `i` in every column."""
    return np.repeat(np.arange(n_samples, dtype=np.float32)[:, None], n_features, axis=1)


def check_feature_rows(rows_for, frame, matrix, verbose=True):
    """Checks `rows_for(frame, matrix)`: the feature rows of a table's samples, in its order.

    Use `id_coded_frame` and a matrix whose row `i` holds `i` (`id_coded_matrix`,
    or one written to disk from it): each returned row must then hold the id in
    the same row of `frame`.

    Returns:
        A `Report`.
    """
    found = Findings()
    with found:
        rows = np.asarray(found.call("rows_for(frame, matrix)", rows_for, frame, matrix))
        ids = frame["id"].to_numpy()
        if rows.ndim != 2 or len(rows) != len(frame):
            found.stop(
                f"rows_for returned shape {rows.shape}, expected ({len(frame)}, "
                f"{matrix.shape[1]}): one feature row per row of the frame."
            )
        got = rows[:, 0].astype(np.int64)
        if np.array_equal(got, np.sort(ids)):
            found.stop(
                "The rows come sorted by id, not in the frame's order: reorder them to "
                "follow frame['id'] (or read in sorted order, then undo the sort)."
            )
        if np.array_equal(got, frame.index.to_numpy()):
            found.stop(
                "The rows were looked up by the frame's index (0, 1, 2, ... after "
                "filtering), not by sample id: use frame['id']."
            )
        wrong = np.flatnonzero(got != ids)
        if len(wrong):
            found.stop(
                f"{len(wrong)} of {len(ids)} rows are misaligned: frame row {wrong[0]} "
                f"is sample {ids[wrong[0]]} but got the features of sample "
                f"{got[wrong[0]]}."
            )
    return found.report(
        f"all {len(frame)} feature rows belong to their sample, in the frame's order.", verbose
    )


def check_alignment(loader, n_samples=None, verbose=True):
    """Checks that a merged loader's two inputs and labels belong to one sample.

    For a loader over id-coded data (image `i`'s pixels hold `i`, feature row
    `i` holds `i`, label `i % n_classes` with `n_classes` = 3), every row of
    every batch must agree across images, features and labels.

    Args:
        loader: the learner's two-input `PyDataset`.
        n_samples: if given, the loader is also checked as a dataset
            (`check_dataset`): `super().__init__`, a `len` that keeps the last
            batch, each of the `n_samples` samples once per epoch.

    Returns:
        A `Report`.
    """
    from course_lib.checks.loaders import check_dataset

    found = Findings()
    with found:
        length = found.call("len(loader)", len, found.require(loader, "The loader"))
        if n_samples is not None:
            found.problems += check_dataset(
                loader, n_samples, shuffled=False, verbose=False
            ).problems
        for index in range(length):
            batch = found.call(f"loader[{index}]", loader.__getitem__, index)
            try:
                (images, features), labels = batch
            except (TypeError, ValueError):
                found.stop(f"loader[{index}] is not ((images, features), labels).")
            image_ids = np.asarray(images).reshape(len(images), -1)[:, 0].astype(np.int64)
            feature_ids = np.asarray(features)[:, 0].astype(np.int64)
            wrong = np.flatnonzero(image_ids != feature_ids)
            if len(wrong):
                row = wrong[0]
                found.stop(
                    f"Batch {index}, row {row}: the image is sample {image_ids[row]} but "
                    f"the feature row is sample {feature_ids[row]}; read both by the same "
                    f"ids, in the same order."
                )
            if not np.array_equal(np.asarray(labels).ravel(), image_ids % 3):
                found.stop(f"Batch {index}: the labels do not belong to the images' samples.")
    return found.report(
        "in every batch, each image, feature row and label belong to one "
        "sample"
        + (f"; each of the {n_samples} samples once per epoch." if n_samples is not None else "."),
        verbose,
    )
