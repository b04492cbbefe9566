"""Helpers for the out-of-core Keras teaching kit.

Importing `course_lib` itself is cheap and does not import TensorFlow; import
the modules you need.

Architecture: the path of a batch from disk to `fit`
-----------------------------------------------------

    row sources          sampler               loader             wrappers        Keras
    (where rows are) --> (which positions  --> (a PyDataset:  --> (optional) -->  fit / evaluate /
    sources.HDF5Rows     make each batch,      asks the sampler    augment.        predict, or
    sources.Encoded-     this epoch)           for positions,      Augmented-      tfdata.* -> tf.data
      HDF5Rows           sampling.             the sources for     Dataset
    sources.NpyFiles,    BatchSampler          the rows)
      ImageFiles
    features.ChunkReader

    TFRecord shards take a TensorFlow path instead: records.record_dataset
    (shuffled shards -> interleave -> shuffle buffer -> parse -> decode) -> fit.

- A *row source* has `len()` and `read(sorted positions)`. It opens its file
  lazily, once per process (`sources.PerProcess`), and pickles as its path, so
  every loader works with thread and process workers, under fork and spawn.
- The *sampler* owns the epoch order: `none`, `full`, `block` or `stratified`
  (blocks dealt by class, the default with labels), shards for
  several workers, reproducible from `(seed, epoch)`. Every loader has one,
  and its epoch advances in `on_epoch_end`, under `fit`, `tfdata`,
  `distributed` and the augmentation wrapper alike.
- A *loader* (`loaders.HDF5Dataset`, `loaders.NpyDirectoryDataset`,
  `merged.MergedDataset`) composes sources and a sampler, checks what enters
  (labels: `labels`), and turns positions into `(inputs, labels)` batches.
- Work that must run in a fresh process (benchmarks, memory budgets, local
  training workers) goes through `child`, and reports the child's own peak.

A new format is a new row source: a class with `__len__` and `read`, opening
its file with `sources.PerProcess` (JPEG bytes in HDF5 and image files came in
that way). Samplers, loaders and wrappers stay as they are.

Modules
-------

- `config`: profiles (`ci`, `lesson`, `large`), the data folder, the seed.
- `synthetic`: the learnable synthetic image dataset.
- `layouts`: the HDF5 and npy file formats, for any data: writer, checks, whole-split reader.
- `course_data`: the course's synthetic data, built once per profile in each layout.
- `atomic`: building a file or folder complete or not at all (`.partial`, rename, manifest).
- `hdf5_rows`: opening HDF5 files with clear errors; reading a batch's rows (h5py slices,
  or straight from byte offsets).
- `sources`: row sources (HDF5 datasets, JPEG bytes in HDF5, per-sample .npy and image
  files) and the per-process handle.
- `encoded`: JPEG/PNG encoding and decoding, with errors that name the image.
- `records`: sharded TFRecord files: writer, shard checks, the `tf.data` pipeline over them.
- `service`: a local tf.data service (dispatcher and workers as processes) and the TFRecord
  pipeline on it, in both processing modes, with an epoch Keras can count.
- `pagecache`: evicting files from the page cache (checked with `mincore`), for cold reads.
- `features`: feature matrices on disk (bcolz, blosc2, zarr, memmap) and their chunk-aware
  row source.
- `sampling`: epoch orders shared by every loader (none / full / block), stratified splits.
- `labels`: class labels checked where they enter, and converted (sparse, one-hot).
- `user_files`: files in the shape users bring (one split, sorted by class, one-hot labels).
- `loaders`: `PyDataset` loaders for HDF5 and per-sample .npy; thread-safe generators.
- `merged`: `MergedDataset`, images plus on-disk features for two-input models.
- `augment`: seeded numpy image transforms, a Keras-layer adapter, `AugmentedDataset`.
- `tfdata`: `tf.data` pipelines over the loaders (from_generator, parallel reads).
- `distributed`: several local workers with MultiWorkerMirroredStrategy, each on its shard.
- `models`: the small convnet and the two-input merged model; they check the pixel range.
- `checks`: the exercise checkers (`check_dataset` and one per exercise).
- `memory`: measuring memory (process, system, GPU), timelines of a call, GPU memory growth.
- `monitor`: the live resource panel, with a chart of the last minute.
- `child`: running a function in a fresh process: its value, its log, its own peak memory.
- `budget`: running a function or a script under a memory budget.
- `workloads`: small importable workloads for budget demonstrations.
- `resume`: training that resumes after a crash from its last finished epoch.
- `bench`: benchmarks that print figures (`python -m course_lib.bench`).
- `cold`: every format read cold and warm against the disk (`make bench` part `cold`).
"""

__version__ = "0.1.0"
