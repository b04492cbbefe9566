"""Other processes: children with their own memory, the tf.data service, workers.

| module        | what it holds                                                          |
|---------------|------------------------------------------------------------------------|
| `child`       | a function run in a fresh process: its value, its log, its own peak    |
| `servers`     | a local tf.data service: dispatcher and workers as processes, supervised |
| `service`     | the trainer's side of the service: the datasets `fit` reads from it    |
| `distributed` | several local training workers (MultiWorkerMirroredStrategy), one shard each |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "child": [
            "ChildResult",
            "own_memory_mib",
            "tree_memory_mib",
            "stop_tree",
            "supervise",
            "Child",
            "start",
            "run",
        ],
        "servers": [
            "HEARTBEAT_MS",
            "WORKER_TIMEOUT_MS",
            "CHECK_INTERVAL_MS",
            "ServiceUnreachable",
            "ServiceStartError",
            "address_of",
            "check_reachable",
            "LocalService",
        ],
        "service": ["MODES", "service_dataset", "record_pipeline"],
        "distributed": ["free_ports", "tf_config", "train_worker", "launch"],
    },
)
