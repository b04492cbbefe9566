"""The shared checks: one exception type and one sentence per kind of mistake,
wherever the kit meets it."""

import numpy as np
import pytest

from course_lib import config, errors, models
from course_lib.formats import encoded, records
from course_lib.loading import labels
from course_lib.loading.sampling import BatchSampler


@pytest.mark.parametrize(
    "call",
    [
        lambda: BatchSampler(10, 4, strategy="random"),
        lambda: encoded.check_encoding("gif"),
        lambda: labels.check_mode("dense"),
        lambda: models.small_convnet((8, 8, 3), 2, label_mode="dense"),
        lambda: config.get_profile("huge"),
    ],
)
def test_an_unknown_choice_reads_the_same_everywhere(call):
    with pytest.raises(ValueError, match=r"^Unknown .* '.*'\. Expected one of '"):
        call()


def test_label_mode_none_is_allowed_only_where_targets_are():
    labels.check_mode(None)
    with pytest.raises(ValueError, match="Expected one of 'sparse', 'one_hot'.$"):
        labels.check_mode(None, targets=False)


@pytest.mark.parametrize("shard", [(np.int64(1), np.int64(3)), (1, 3)])
def test_sampler_and_records_accept_the_same_shards(shard):
    assert errors.check_shard(shard) == (1, 3)
    assert BatchSampler(9, 3, seed=0, shard=shard).shard == (1, 3)
    files = [f"s{i}.tfrecord" for i in range(3)]
    assert records._shard_files(files, [1, 1, 1], shard) == (["s1.tfrecord"], 1)


@pytest.mark.parametrize("shard", [(3, 3), (-1, 2), (0.5, 2), (True, 2), 2, "0/2"])
def test_sampler_and_records_refuse_the_same_shards(shard):
    with pytest.raises(ValueError, match="shard must be"):
        BatchSampler(9, 3, seed=0, shard=shard)
    with pytest.raises(ValueError, match="shard must be"):
        records._shard_files(["a", "b", "c"], [1, 1, 1], shard)


def test_rows_out_of_range_are_an_index_error_naming_the_place():
    with pytest.raises(IndexError, match=r"Rows -1\.\.4 are outside x\.h5:/images \(4 rows"):
        errors.check_rows("x.h5:/images", [-1, 4], 4)
    errors.check_rows("x.h5:/images", [], 0)
