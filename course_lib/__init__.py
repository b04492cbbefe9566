"""Helpers for the out-of-core Keras teaching kit.

Importing `course_lib` or one of its folders is cheap and does not import
TensorFlow: each folder exports its names lazily (`exports`), e.g.
`from course_lib.loading import HDF5Dataset`.

The route of a batch, folder by folder
--------------------------------------

    formats/                 loading/                                    Keras
    what is on disk    -->   sampler -> loader -> wrappers          -->  fit / evaluate /
    a row source per         (which     (a PyDataset  (augment,          predict, or
    format: HDF5, JPEG       rows, this  reading the   tf.data)          tfdata -> tf.data
    bytes, npy, image        epoch)      sources)
    files, features,
    TFRecord shards                      scale_out/: the same batches in other
                                         processes (tf.data service, workers)

- `formats`: what is on disk. Every format is a *row source*
  (`formats.RowSource`): `len()`, `read(sorted positions)`, a `repr`; it
  opens its file lazily, once per process, and pickles as its path, so every
  loader works with thread and process workers, under fork and spawn. Its
  writer, checks and reader live with it. TFRecord shards take a TensorFlow
  path instead (`formats.record_dataset`).
- `loading`: rows to batches to Keras. The sampler (`loading.BatchSampler`,
  options in one `loading.SamplerOptions`) owns the epoch order: `none`,
  `full`, `block` or `stratified` (the default with class labels), shards for
  several workers, reproducible from `(seed, epoch)`. `loading.SourceDataset`
  composes any row source with it, so a new format needs no new loader;
  `HDF5Dataset`, `NpyDirectoryDataset` and `MergedDataset` add what their
  files need (labels checked where they enter, splits, readahead).
- `scale_out`: other processes: `child` (a function in a fresh process, with
  its own peak memory), the tf.data `service`, `distributed` workers.
- `measure`: apart from the route: the benchmarks (`harness` plus one module
  per group, `python -m course_lib.bench`), memory, the live panel, budgets,
  the page cache.
- `course`: the synthetic course data, the lessons' workloads, the exercises.
- `checks`: the exercise checkers; `config` (profiles, data folder, seed),
  `errors` (the messages for recurring mistakes), `models` (the small
  convnet and the two-input model) sit beside the folders.

No module imports from a folder further along the route than its own
(`tests/test_layout.py` checks it).
"""

__version__ = "0.1.0"
