"""Two workers on localhost with MultiWorkerMirroredStrategy, each reading its own shard."""

import json

from course_lib.scale_out import distributed


def test_tf_config_names_the_cluster_and_the_task():
    config = json.loads(distributed.tf_config([1111, 2222], 1))
    assert config == {
        "cluster": {"worker": ["127.0.0.1:1111", "127.0.0.1:2222"]},
        "task": {"type": "worker", "index": 1},
    }


def test_two_local_workers_train_on_disjoint_shards_that_cover_the_data(ci_data):
    outcomes = distributed.launch(ci_data["hdf5"], n_workers=2, epochs=2, batch_size=32)
    for outcome in outcomes:
        assert outcome["returncode"] == 0 and outcome["result"], outcome["log"][-3000:]
    first, second = (outcome["result"] for outcome in outcomes)
    assert first["workers"] == 2 and {first["worker"], second["worker"]} == {0, 1}
    assert first["losses"] == second["losses"]  # the loss is all-reduced
    assert first["steps"] == second["steps"] == 2048 // 2 // 32
    for epoch in range(2):
        mine, theirs = set(first["positions"][epoch]), set(second["positions"][epoch])
        assert not mine & theirs and mine | theirs == set(range(2048))
    assert first["positions"][0] != first["positions"][1]  # a new split each epoch
