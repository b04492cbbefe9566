"""The benchmark functions return sensible figures on the ci profile (no timing asserts)."""

from course_lib import bench


def test_merged_figures_in_a_fresh_process(ci_data):
    rates = bench.in_fresh_process("merged_throughput", "ci")
    mixing = rates.pop("mixing")
    assert set(rates) == {"merged loader, block (images + features)",
                          "merged loader, full (images + features)",
                          "naive: carray[shuffled batch ids]"}
    assert all(rate > 0 for rate in rates.values())
    assert mixing["full"] < mixing["block"] < mixing["none"]


def test_feature_store_comparison_covers_every_format(ci_data):
    rows = bench.feature_store_comparison("ci")
    assert [row["format"] for row in rows] == ["bcolz", "blosc2", "zarr", "memmap"]
    assert all(row["MiB on disk"] > 0 and row["chunk-aware rows/s"] > 0 for row in rows)


def test_class_sorted_accuracy_trains_every_strategy(ci_data):
    accuracies = bench.class_sorted_accuracy("ci", epochs=1, seeds=(0,))
    assert set(accuracies) == {"full", "block (default)", "block, half a batch"}
    assert all(len(values) == 1 and 0 <= values[0] <= 1 for values in accuracies.values())
