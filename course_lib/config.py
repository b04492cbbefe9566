"""Course profiles, the data directory and the seed.

A *profile* fixes how big the course data is and how long lessons train:

| profile  | use                                   | data                            |
|----------|---------------------------------------|---------------------------------|
| `ci`     | CI and quick checks, seconds          | ~3k samples of 32x32            |
| `lesson` | the default, a laptop, about a minute | ~16k samples of 64x64           |
| `large`  | the real out-of-core case             | ~480k samples of 128x128, ~24 GB|

Choose one with the `COURSE_PROFILE` environment variable, and where the data
lives with `COURSE_DATA_DIR` (default: `data/` at the repository root).
"""

import dataclasses
import os
import tempfile
from pathlib import Path

from course_lib import errors

SEED = 1234
"""The seed every lesson starts from, so that runs are reproducible."""

SPLITS = ("train", "valid", "test")
"""Split names, in the order their sample ids are numbered."""

CLASS_NAMES = ("circle", "square", "triangle")
"""The classes of the synthetic image dataset."""

PROFILE_ENV = "COURSE_PROFILE"
DATA_DIR_ENV = "COURSE_DATA_DIR"
DEFAULT_PROFILE = "lesson"


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big the course data is and how long the lessons train.

    Used by the kit, not by a lesson.

    Args:
        name: profile name (`"ci"`, `"lesson"` or `"large"`).
        n_train: number of training samples.
        n_valid: number of validation samples.
        n_test: number of test samples.
        image_size: images are `image_size x image_size x 3` uint8.
        n_features: width of the per-sample feature matrix (bcolz layout).
        batch_size: batch size used by the lessons.
        epochs: epochs a lesson's main fits train for.
        demo_epochs: epochs of a fit that shows a mechanism or compares two settings
            side by side (lesson 02's first fits): fewer where a step is dear.
        block_size: samples generated and written per block; the writers hold
            one block in memory at a time.
        chunk_rows: rows per HDF5 chunk.
        shard_bytes: size of each TFRecord shard (a few shards per split in
            `ci` and `lesson`, the usual 100-200 MB in `large`).
    """

    name: str
    n_train: int
    n_valid: int
    n_test: int
    image_size: int
    n_features: int
    batch_size: int
    epochs: int
    demo_epochs: int
    block_size: int
    chunk_rows: int
    shard_bytes: int = 128 * 2**20

    @property
    def n_classes(self):
        return len(CLASS_NAMES)

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    @property
    def split_sizes(self):
        """`{"train": n_train, "valid": n_valid, "test": n_test}`."""
        return dict(zip(SPLITS, (self.n_train, self.n_valid, self.n_test)))

    @property
    def n_samples(self):
        return self.n_train + self.n_valid + self.n_test

    @property
    def image_bytes(self):
        """Bytes of all images as uint8, i.e. the raw size of the HDF5 file."""
        return self.n_samples * self.image_size * self.image_size * 3

    @property
    def feature_bytes(self):
        """Bytes of the float32 feature matrix, uncompressed."""
        return self.n_samples * self.n_features * 4


PROFILES = {
    profile.name: profile
    for profile in (
        Profile(
            "ci",
            n_train=2048,
            n_valid=512,
            n_test=512,
            image_size=32,
            n_features=64,
            batch_size=32,
            epochs=6,
            demo_epochs=6,
            block_size=256,
            chunk_rows=64,
            shard_bytes=2**19,
        ),
        Profile(
            "lesson",
            n_train=12288,
            n_valid=2048,
            n_test=2048,
            image_size=64,
            n_features=256,
            batch_size=64,
            epochs=2,
            demo_epochs=1,
            block_size=1024,
            chunk_rows=64,
            shard_bytes=4 * 2**20,
        ),
        Profile(
            "large",
            n_train=409600,
            n_valid=40960,
            n_test=40960,
            image_size=128,
            n_features=4096,
            batch_size=64,
            epochs=3,
            demo_epochs=1,
            block_size=1024,
            chunk_rows=32,
        ),
    )
}


def get_profile(name: str | Profile | None = None) -> Profile:
    """Returns the profile called `name`, or the one `COURSE_PROFILE` selects.

    First used in lesson 00 (setup_and_data).

    Args:
        name: a profile name; when `None`, the `COURSE_PROFILE` environment
            variable is read, and `"lesson"` is used when it is unset.

    Raises:
        ValueError: if the name is not one of the known profiles.

    Example:

    >>> get_profile("ci").image_size
    32
    """
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    if isinstance(name, Profile):
        return name
    errors.check_choice(
        "course profile",
        name,
        tuple(PROFILES),
        fix=f"Set {PROFILE_ENV} to one of them (for example `export {PROFILE_ENV}=lesson`) "
        f"or unset it.",
    )
    return PROFILES[name]


def _repository_root():
    """The checkout this package lives in, or None when installed elsewhere."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def data_root() -> Path:
    """The folder that holds every profile's data: `$COURSE_DATA_DIR`, or `data/` at the
    repository root.

    Used by the kit, not by a lesson.
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    return (
        Path(configured).expanduser()
        if configured
        else ((_repository_root() or Path.cwd()) / "data")
    )


def rebuild_hint(path: str | Path, own_data: str) -> str:
    """What to tell a user whose file at `path` is missing or damaged.

    Used by the kit, not by a lesson.

    The kit's own data can be rebuilt with `make data`; a user's own file
    cannot, so for anything outside the course data folder the advice is
    `own_data`.

    Example:

    >>> rebuild_hint("/home/me/food.h5", "Copy it again.")
    'Copy it again.'
    """
    try:
        Path(path).resolve().relative_to(data_root().resolve())
    except ValueError:
        return own_data
    return "Rebuild the course data with `make data`."


def data_dir(profile: str | Profile | None = None) -> Path:
    """Returns the writable folder that holds the data of one profile.

    First used in lesson 00 (setup_and_data).

    The folder is `$COURSE_DATA_DIR/<profile>` (default `COURSE_DATA_DIR`:
    `data/` at the repository root). It is created when missing.

    Args:
        profile: a profile name or `Profile`; `None` means the current one.

    Raises:
        PermissionError: if the folder cannot be created or written to.

    Example:

    >>> data_dir("ci").name
    'ci'
    """
    profile = get_profile(profile)
    folder = data_root() / profile.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise PermissionError(
            f"The course data folder {str(folder)[:100]} cannot be written "
            f"({error.strerror or error}). Point {DATA_DIR_ENV} at a folder you "
            f"can write to, for example `export {DATA_DIR_ENV}=$HOME/course-data`."
        ) from error
    return folder
