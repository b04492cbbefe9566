"""Rows to batches to Keras: which rows make each batch, read how, fed to `fit`.

| module     | what it holds                                                            |
|------------|--------------------------------------------------------------------------|
| `sampling` | the epoch orders (`BatchSampler`), stratified splits                     |
| `labels`   | class labels checked where they enter, converted (sparse, one-hot)       |
| `loaders`  | `PyDataset` loaders over row sources; thread-safe generators             |
| `merged`   | `MergedDataset`: images plus on-disk features for two-input models       |
| `augment`  | seeded numpy image transforms, a Keras-layer adapter, `AugmentedDataset` |
| `tfdata`   | `tf.data` pipelines over the loaders                                     |
| `grain_data` | Grain sources and pipelines over the row sources and loaders           |
| `processes` | process workers under fork, spawn and forkserver                       |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "augment": [
            "Affine",
            "RandomFlip",
            "RandomRotation",
            "RandomShift",
            "RandomZoom",
            "RandomBrightness",
            "RandomContrast",
            "Compose",
            "KerasLayer",
            "warp",
            "sample_rngs",
            "AugmentedDataset",
        ],
        "processes": [
            "START_METHOD_ENV",
            "use_start_method",
            "defined_in_notebook",
            "check_workers_can_load",
            "CheckedForWorkers",
        ],
        "labels": ["MODES", "stored_mode", "check_mode", "class_indices", "convert"],
        "loaders": [
            "SampledDataset",
            "SourceDataset",
            "FollowEpochs",
            "LABELS_CACHE_BYTES",
            "HDF5Dataset",
            "NpyDirectoryDataset",
            "to_float32",
            "ThreadSafeIterator",
            "threadsafe_generator",
        ],
        "merged": ["HDF5Images", "NpyImages", "MergedDataset", "split_loader"],
        "sampling": [
            "STRATEGIES",
            "BLOCKED",
            "DEFAULT_STRATEGY",
            "BLOCKS_PER_BATCH",
            "default_block_size",
            "BatchSampler",
            "SamplerOptions",
            "mixing_distance",
        ],
        "grain_data": [
            "allow_worker_processes",
            "GrainRows",
            "SamplerBatches",
            "global_shuffle_batches",
            "batch_dataset",
        ],
        "tfdata": [
            "output_signature",
            "from_generator",
            "parallel_reads",
            "AdvanceEpoch",
            "flip_and_shift",
        ],
    },
)
