"""Measurement, kept apart from the route of a batch: `make bench` and the panel.

| module        | what it holds                                                           |
|---------------|-------------------------------------------------------------------------|
| `harness`     | fresh child processes, rates, CPU time, tables (every benchmark uses it) |
| `memory_use`  | peak memory of writing and of streaming (parts `writer`, `loaders`)     |
| `throughput`  | loaders, merged, feature stores, augmentation, panel, overlap, service  |
| `mixing`      | how each epoch order trains class-sorted files (part `mixing`)          |
| `cold`        | every format read cold against plain reads of the same bytes (part `cold`) |
| `backends`    | Grain against the other loaders; one fit on TensorFlow and JAX (`grain`) |
| `workers`     | what `PyDataset` workers cost: USS/PSS, start-up, transfer (`workers`)  |
| `resume_cost` | a rerun after a kill: from the last save against the epoch's start      |
| `bench`       | the command line: `python -m course_lib.bench PART`, `make bench`        |
| `memory`      | process, system and GPU memory; timelines of a call                     |
| `monitor`     | the live resource panel                                                 |
| `budget`      | running a function or a script under a memory budget                    |
| `pagecache`   | evicting files from the page cache, checked with `mincore`              |
| `running_time` | a lesson's running time here: one step measured, Run All scaled        |
| `step_counter` | counts the batches Keras trains in every process of a lesson            |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "backends": [
            "BACKENDS",
            "grain_throughput",
            "worker_startup",
            "fit_seconds",
            "backend_epochs",
            "fork_warning",
            "fork_warnings",
        ],
        "bench": ["parts"],
        "resume_cost": ["resume_times"],
        "running_time": ["training_step_seconds", "running_time_here", "measure_lessons"],
        "step_counter": ["STEP_LOG_ENV", "install", "read_log"],
        "workers": [
            "HOLDINGS",
            "InMemoryDataset",
            "worker_memory",
            "batch_transfer",
        ],
        "budget": ["BudgetResult", "run_function", "run_script"],
        "cold": [
            "BLOCK",
            "read_sequentially",
            "timed",
            "disk_bandwidth",
            "threaded_epoch",
            "raw_records_epoch",
            "readers",
            "photo_records",
            "measure_reader",
            "format_reads",
            "record_reads",
            "disk_sizes",
            "photo_crops",
            "training_step_us",
            "decode_costs",
        ],
        "harness": [
            "in_fresh_process",
            "value_of",
            "rate",
            "batches_rate",
            "read_epoch",
            "table",
            "render",
            "own_cpu_seconds",
            "cpu_seconds_of",
        ],
        "memory": [
            "rss_mib",
            "smaps_rollup_mib",
            "children_memory",
            "release_free_memory",
            "peak_increase_mib",
            "traced_peak_mib",
            "peak_rss_mib",
            "available_mib",
            "gpu_status",
            "enable_gpu_memory_growth",
            "Timeline",
            "memory_timeline",
            "plot_timelines",
        ],
        "memory_use": [
            "write_layout",
            "writer_peak_memory",
            "writer_memory",
            "stream_epoch",
            "streaming_peak_memory",
            "streaming_memory",
        ],
        "mixing": [
            "merged_mixing",
            "MIXING_ORDERS",
            "class_sorted_files",
            "class_sorted_accuracy",
            "mixing_causes",
            "cause_orders",
        ],
        "monitor": ["ResourcePanel", "PanelCallback", "CHART_SECONDS", "memory_chart_svg"],
        "pagecache": [
            "PAGE",
            "RESIDENT_LIMIT",
            "EvictionFailed",
            "files_of",
            "resident_bytes",
            "resident_fraction",
            "evict",
        ],
        "throughput": [
            "loader_throughput",
            "course_merged",
            "merged_throughput",
            "feature_store_comparison",
            "augmentation_cost",
            "panel_overhead",
            "training_overlap",
            "service_throughput",
        ],
    },
)
