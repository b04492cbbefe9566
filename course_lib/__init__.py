"""Helpers for the out-of-core Keras teaching kit.

Modules (import the ones you need; importing `course_lib` itself is cheap and
does not import TensorFlow):

- `config`: profiles (`ci`, `lesson`, `large`), the data folder, the seed.
- `synthetic`: the learnable synthetic image dataset.
- `datasets`: the three on-disk layouts (HDF5, per-sample npy, bcolz).
- `sampling`: epoch orders shared by every loader (none / full / block).
- `hdf5_rows`: reading a batch's rows from HDF5 (h5py slices, or straight from byte offsets).
- `loaders`: `PyDataset` loaders for HDF5 and per-sample .npy; thread-safe generators.
- `features`: feature matrices on disk (bcolz, blosc2, zarr, memmap) and a chunk-aware reader.
- `merged`: `MergedDataset`, images plus on-disk features for two-input models.
- `augment`: seeded numpy image transforms, a Keras-layer adapter, `AugmentedDataset`.
- `tfdata`: `tf.data` pipelines over the loaders (from_generator, parallel reads).
- `distributed`: several local workers with MultiWorkerMirroredStrategy, each on its shard.
- `labels`: class labels checked where they enter, and converted (sparse, one-hot).
- `checks`: `check_dataset`, the exercise checker for your own PyDataset.
- `models`: the small convnet and the two-input merged model.
- `monitor`: memory measurements and timelines, the live resource panel, GPU memory growth.
- `child`: running a function in a fresh process: its value, its log, its own peak memory.
- `budget`: running a function or a script under a memory budget.
- `workloads`: small importable workloads for budget demonstrations.
- `bench`: benchmarks that print figures (`python -m course_lib.bench`).
"""

__version__ = "0.1.0"
