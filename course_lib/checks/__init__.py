"""Exercise checkers: run them on what you built, read what is wrong.

Every checker reads the learner's object (a loader, a file, a function, a
pipeline), prints one sentence per problem under "Not done yet:", or one
line starting "All checks passed:", and returns a `Report` (`report.ok`).
A checker never raises because of the learner's code, so a notebook with
blank exercises still runs from top to bottom.

| exercise                                  | checker                       |
|-------------------------------------------|-------------------------------|
| one sample from the three layouts         | `check_sample_reader`         |
| a layout's size on disk                   | `check_disk_estimate`         |
| a `PyDataset` (any layout)                | `check_dataset`               |
| an order from (seed, epoch), `set_epoch`  | `check_epoch_order`           |
| an HDF5 loader with a block shuffle       | `check_block_loader`          |
| a stratified split of row numbers         | `check_split_rows`            |
| a generator for `steps_per_epoch`         | `check_generator`             |
| an HDF5 file / a block-wise writer        | `check_hdf5_file`, `check_hdf5_writer` |
| a user's file converted block by block    | `check_conversion`            |
| a seeded augmentation                     | `check_augmentation`          |
| an augmenting wrapper, on training only   | `check_augmented_fit`         |
| feature rows for a filtered table         | `check_feature_rows`          |
| a two-input loader                        | `check_alignment`             |
| a `tf.data` pipeline                      | `check_pipeline`              |
| shards for several workers                | `check_shards`                |
| each training worker's TF_CONFIG and loader | `check_worker_setup`        |
| the whole split in memory, within a budget | `check_in_memory_fit`        |
| training block by block under a budget    | `check_block_trainer`         |
| the position a mid-epoch resume needs      | `check_position_saver`       |
| one sample to a TFRecord and back         | `check_record_codec`          |
| a pipeline over TFRecord shards           | `check_record_pipeline`       |
| service batches made into a Keras epoch, samples counted | `check_fit_ready` |
| a `parallel_epochs` pipeline, own order per worker | `check_parallel_order` |
| a Grain pipeline and fit's arguments, a new permutation per epoch | `check_grain_epochs` |
| a Grain source over an HDF5 file          | `check_grain_source`          |
"""

from course_lib.checks.alignment import (
    check_alignment,
    check_feature_rows,
    id_coded_frame,
    id_coded_matrix,
)
from course_lib.checks.augmentation import check_augmentation, check_augmented_fit
from course_lib.checks.budget import check_block_trainer, check_in_memory_fit
from course_lib.checks.course import check_disk_estimate, check_sample_reader
from course_lib.checks.files import check_conversion, check_hdf5_file, check_hdf5_writer
from course_lib.checks.grain_sources import check_grain_epochs, check_grain_source
from course_lib.checks.loaders import (
    check_block_loader,
    check_dataset,
    check_generator,
    id_coded_file,
)
from course_lib.checks.orders import check_epoch_order
from course_lib.checks.pipelines import check_pipeline, check_shards, check_worker_setup
from course_lib.checks.records import check_record_codec, check_record_pipeline
from course_lib.checks.report import Report, fingerprints
from course_lib.checks.resume import check_position_saver
from course_lib.checks.service import check_fit_ready, check_parallel_order
from course_lib.checks.splits import check_split_rows

__all__ = [
    "Report",
    "fingerprints",
    "check_alignment",
    "check_augmentation",
    "check_augmented_fit",
    "check_block_loader",
    "check_block_trainer",
    "check_conversion",
    "check_dataset",
    "check_disk_estimate",
    "check_epoch_order",
    "check_position_saver",
    "check_feature_rows",
    "check_fit_ready",
    "check_generator",
    "check_grain_epochs",
    "check_grain_source",
    "check_hdf5_file",
    "check_hdf5_writer",
    "check_in_memory_fit",
    "check_parallel_order",
    "check_pipeline",
    "check_record_codec",
    "check_record_pipeline",
    "check_sample_reader",
    "check_shards",
    "check_split_rows",
    "check_worker_setup",
    "id_coded_file",
    "id_coded_frame",
    "id_coded_matrix",
]
