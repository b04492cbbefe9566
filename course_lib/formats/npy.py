"""One `.npy` file per sample: the classic folder layout, written, checked and read.

A folder of `<name>.npy` files, one per sample, plus `partition.json`
(`{split: [names]}`) and `labels.json` (`{name: label}`). `write_partition`
and `read_partition` write and check the two lists; `NpyFiles` is the row
source (`sources.RowSource`) over the files, `load_npy_batch` the plain
recipe that stacks a batch of them.
"""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from course_lib import config

PARTITION_NAME = "partition.json"


LABELS_NAME = "labels.json"


def sample_name(sample_id: int):
    """The name of sample `sample_id` in the npy layout.

    First used in lesson 00 (setup_and_data).

    Example:

    >>> sample_name(42)
    'id-000042'
    """
    return f"id-{int(sample_id):06d}"


def write_partition(folder: str | Path, partition: dict[str, list[str]], labels: dict[str, int]):
    """Writes the npy layout's `partition.json` and `labels.json`.

    Used by the kit, not by a lesson.

    Args:
        folder: the npy folder (it must exist).
        partition: `{split: [sample names]}`.
        labels: `{sample name: class index}`.
    """
    folder = Path(folder)
    (folder / PARTITION_NAME).write_text(json.dumps(partition))
    (folder / LABELS_NAME).write_text(
        json.dumps({name: int(label) for name, label in labels.items()})
    )


def read_partition(folder: str | Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Reads the npy layout's `partition.json` and `labels.json`.

    First used in lesson 00 (setup_and_data).

    Returns:
        `(partition, labels)`: `{split: [names]}` and `{name: label}`.

    Raises:
        FileNotFoundError: if either file is missing.
    """
    folder = Path(folder)
    loaded = []
    for name in (PARTITION_NAME, LABELS_NAME):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"No {name} in {str(folder)[:100]}. An npy dataset folder holds "
                f"one .npy per sample plus partition.json and labels.json; build "
                f"it with `make data`."
            )
        loaded.append(json.loads((folder / name).read_text()))
    return tuple(loaded)


class NpyFiles:
    """Samples stored one `<folder>/<name>.npy` file each, as a row source.

    Used by the kit, not by a lesson.

    Args:
        folder: the folder.
        names: the file names (without `.npy`), in position order.

    Example:

    ```python
    files = NpyFiles("data/lesson/npy", ["id-000000", "id-000001"])
    files.read([0, 1]).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, folder: str | Path, names: Sequence[str]):
        self.folder, self.names = Path(folder), list(names)

    def __len__(self):
        return len(self.names)

    def __repr__(self):
        return f"NpyFiles({self.folder}, {len(self)} files)"

    def read(self, positions: ArrayLike):
        return load_npy_batch(self.folder, [self.names[p] for p in positions])


def load_npy_batch(folder: str | Path, names: Sequence[str]):
    """Loads `<folder>/<name>.npy` for each name and stacks them into a batch.

    Used by the kit, not by a lesson.

    Raises:
        FileNotFoundError: naming the first missing file.
    """
    images = []
    for name in names:
        path = Path(folder) / f"{name}.npy"
        try:
            images.append(np.load(path))
        except FileNotFoundError:
            fix = config.rebuild_hint(
                path, f"Check that {folder} holds one <id>.npy file per sample id."
            )
            raise FileNotFoundError(
                f"Missing sample file {path}. {fix} Or leave {name!r} out of the ids."
            ) from None
    return np.stack(images)
