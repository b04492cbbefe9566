"""Helpers for the out-of-core Keras teaching kit.

Modules (import the ones you need; importing `course_lib` itself is cheap and
does not import TensorFlow):

- `config`: profiles (`ci`, `lesson`, `large`), the data folder, the seed.
- `synthetic`: the learnable synthetic image dataset.
- `datasets`: the three on-disk layouts (HDF5, per-sample npy, bcolz).
- `models`: the small convnet the lessons train.
- `monitor`: measuring the memory a call uses.
"""

__version__ = "0.1.0"
