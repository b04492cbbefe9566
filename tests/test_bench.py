"""The benchmarks return tidy DataFrames with sensible figures on the ci profile (no timing
asserts)."""

import numpy as np
import pandas as pd

from course_lib import config, measure
from course_lib.measure import bench


def test_merged_figures_in_a_fresh_process(ci_data):
    frame = measure.in_fresh_process(measure.merged_throughput, "ci")
    assert list(frame.index) == [
        "merged loader, block (images + features)",
        "merged loader, full (images + features)",
        "naive: carray[shuffled batch ids]",
    ]
    assert (frame["rows/s"] > 0).all() and frame.loc[
        "naive: carray[shuffled batch ids]", "x naive"
    ] == 1
    mixing = measure.merged_mixing("ci")["mixing distance"]
    assert mixing["stratified (default)"] < 0.5 * mixing["block"] < mixing["none"]
    assert mixing["full"] < mixing["block"]


def test_feature_store_comparison_covers_every_format(ci_data):
    frame = measure.feature_store_comparison("ci")
    assert list(frame.index) == ["bcolz", "blosc2", "zarr", "memmap"]
    assert (frame["MiB on disk"] > 0).all() and (frame["chunk-aware rows/s"] > 0).all()


def test_class_sorted_accuracy_trains_every_order_on_every_file(ci_data):
    frame = measure.class_sorted_accuracy(
        "ci", epochs=1, seeds=(0,), n_samples=400, course_samples=500
    )
    files = [
        "drawings, chunks of 64 rows",
        "drawings, chunks of 1 row",
        "course images (500), chunks of 64 rows",
    ]
    assert list(frame.index) == [(f, o) for f in files for o in measure.MIXING_ORDERS]
    assert frame[["mean", "min", "max"]].stack().between(0, 1).all()
    assert (frame["min"] <= frame["mean"]).all() and (frame["mean"] <= frame["max"]).all()
    assert (frame.xs("full", level="order")["vs full"] == 0).all()
    assert (frame["samples/s"] > 0).all() and (frame["x in memory"] > 0).all()


def test_class_sorted_files_are_sorted_one_hot_earrays_with_held_out_rows(tmp_path, ci_data):
    import tables

    ci = config.get_profile("ci")
    files = measure.class_sorted_files(tmp_path, ci, n_samples=700)
    assert list(files)[-1] == f"course images ({ci.n_train:,}), chunks of 64 rows"
    for name, (path, x_valid, y_valid) in files.items():
        with tables.open_file(path) as file:
            images, labels = file.root.images, file.root.labels
            assert isinstance(images, tables.EArray) and np.all(labels[:].sum(1) == 1)
            assert images.chunkshape[0] == (1 if "1 row" in name else 64)
            classes = labels[:].argmax(1)
            assert np.all(np.diff(classes) >= 0)
            assert len(classes) + len(y_valid) == (ci.n_train if "course" in name else 700)
            assert len(np.unique(classes)) == len(np.unique(y_valid)) == labels.shape[1]


def test_one_renderer_formats_every_column_by_its_size():
    frame = measure.table(
        {"ceiling": 1_234_567.0, "loader": 617_000.0, "naive": 1_500.0},
        "samples/s",
        "reader",
        {"x ceiling": "ceiling", "x naive": "naive"},
    )
    text = measure.render(frame, "Readers")
    lines = text.splitlines()
    assert lines[0] == "Readers" and "1,234,567" in text and "617,000" in text
    assert "0.500" in text and "823.0" in text  # x ceiling to 3 places, x naive to 1
    missing = measure.render(pd.DataFrame({"a": [1.0, np.nan]}), "t")
    assert missing.splitlines()[-1].split()[-1] == "-"


def test_every_part_of_make_bench_has_titled_measurements():
    parts = bench.parts("ci")
    assert set(parts) == {
        "writer",
        "loaders",
        "mixing",
        "merged",
        "augment",
        "panel",
        "overlap",
        "service",
        "cold",
        "grain",
        "workers",
        "resume",
    }
    assert all(
        title and callable(measure) for entries in parts.values() for title, measure in entries
    )


def test_cause_orders_keep_what_they_claim_to_keep():
    labels = np.repeat([0, 1, 2], 300)
    orders = measure.cause_orders(labels, 64, seed=3)
    for epoch in range(2):
        for name, batches_of in orders.items():
            assert sorted(np.concatenate(batches_of(epoch))) == list(range(900)), name
        block, mixed = orders["block"](epoch), orders["full's samples, block's class mix"](epoch)
        assert all(
            np.array_equal(np.bincount(labels[a], minlength=3), np.bincount(labels[b], minlength=3))
            for a, b in zip(block, mixed)
        )  # the same class mix, batch by batch
        runs = np.mean([1 + np.count_nonzero(np.diff(b) != 1) for b in mixed])
        assert runs > 30  # ...from rows all over each class, not blocks
    moved = [orders["block, boundaries moved every epoch"](e) for e in range(3)]
    starts = {int(b[0]) % 8 for epoch in moved for b in epoch}
    assert len(starts) > 1  # blocks begin at other rows in other epochs


def test_mixing_causes_trains_every_order(ci_data):
    frame = measure.mixing_causes("ci", epochs=1, seeds=(0,), n_samples=300)
    assert list(frame.index) == [
        "full",
        "block",
        "full's samples, block's class mix",
        "block, boundaries moved every epoch",
        "stratified",
    ]
    assert frame["mean"].between(0, 1).all() and frame.loc["full", "vs full"] == 0
