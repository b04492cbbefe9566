"""ArrayRecord files of encoded images: records read by number, for Grain.

ArrayRecord is the file format of the Grain world. Like TFRecord it holds one
record per sample, written in sequence; unlike TFRecord it keeps an index of
where every record starts, so a reader fetches record `i` directly. That is
what Grain's global shuffle needs: an order over all the records, with no
shuffle buffer.

The kit writes one file per split (`train.array_record`, ...) of the same
JPEG bytes as the TFRecord shards (`formats.records`), each record a 16-byte
header (label and id, two little-endian int64) and the image bytes; beside
them `array_records.json` holds each split's record count, the class names
and the image shape. `ArrayRecordFile` checks a split against it when it
opens: a missing file, a truncated one and a label out of range each raise an
error that names the file (and the record) and says how to rebuild it.

Records are written with `group_size:1`: each is stored on its own, so reading
one does not decompress its neighbours, which a random order would pay for at
every step.
"""

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from course_lib.formats import encoded, sources

INFO_NAME = "array_records.json"
SUFFIX = ".array_record"
WRITER_OPTIONS = "group_size:1"
"""One record per group: each record is read (and decompressed) alone."""
_HEADER = struct.Struct("<qq")  # label, id


def pack(image_bytes: bytes, label: int, sample_id: int) -> bytes:
    """One sample as a record: its label and id, then its encoded image.

    Used by the kit, not by a lesson.

    Example:

    >>> unpack(pack(b"jpeg bytes", 2, 17))
    (b'jpeg bytes', 2, 17)
    """
    return _HEADER.pack(int(label), int(sample_id)) + bytes(image_bytes)


def unpack(record: bytes) -> tuple[bytes, int, int]:
    """`(image_bytes, label, id)` of a record written by `pack`.

    Used by the kit, not by a lesson.

    Raises:
        ValueError: for a record shorter than its header.
    """
    if len(record) < _HEADER.size:
        raise ValueError(
            f"a record of {len(record)} bytes is shorter than the {_HEADER.size}-byte header "
            f"(label, id): it was not written by array_records.pack."
        )
    label, sample_id = _HEADER.unpack_from(record)
    return bytes(record[_HEADER.size :]), label, sample_id


def split_path(folder: str | Path, split: str) -> Path:
    """The ArrayRecord file of one split: `<folder>/<split>.array_record`.

    Used by the kit, not by a lesson.
    """
    return Path(folder) / f"{split}{SUFFIX}"


class ArrayRecordWriter:
    """Writes the splits' records into one ArrayRecord file each, then the index.

    Used by the kit, not by a lesson.

    Args:
        folder: the folder to write (created).
        info: what `array_records.json` says beside the counts: `class_names`
            and `image_shape`.

    Example:

    ```python
    with ArrayRecordWriter(folder, {"class_names": names, "image_shape": [64, 64, 3]}) as out:
        out.write("train", pack(jpeg_bytes, label, sample_id))
    ```
    """

    def __init__(self, folder: str | Path, info: dict):
        self.folder, self.info = Path(folder), dict(info)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers, self.counts = {}, {}

    def write(self, split: str, record: bytes) -> None:
        if split not in self._writers:
            from array_record.python import array_record_module

            path = str(split_path(self.folder, split))
            self._writers[split] = array_record_module.ArrayRecordWriter(path, WRITER_OPTIONS)
            self.counts[split] = 0
        self._writers[split].write(record)
        self.counts[split] += 1

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        index = {**self.info, "counts": self.counts}
        (self.folder / INFO_NAME).write_text(json.dumps(index, indent=1))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def read_info(folder: str | Path) -> dict:
    """The folder's `array_records.json`: counts per split, class names, image shape.

    Used by the kit, not by a lesson.

    Raises:
        FileNotFoundError: when the folder or its index is missing.
    """
    index = Path(folder) / INFO_NAME
    if not index.is_file():
        raise FileNotFoundError(
            f"{index} is missing: {folder} is not a folder of ArrayRecord files written by "
            f"the kit. Build the course's with course_data.ensure_layout('array_record'), or "
            f"write yours with array_records.ArrayRecordWriter."
        )
    return json.loads(index.read_text())


class ArrayRecordFile:
    """One split's ArrayRecord file: samples by number, checked as they are read.

    First used in lesson 11 (grain_and_jax).

    A Grain data source (`len`, `source[i]` -> `(image, label)`, and
    `source.__getitems__(indices)` for a batch in one call) and a kit row
    source (`read(sorted positions)` -> images). The file is opened lazily,
    once per process, and the object pickles as its folder and split, so
    Grain's worker processes each open their own.

    Args:
        folder: a folder written by `ArrayRecordWriter` (the course's is
            `course_data.ensure_layout("array_record")`).
        split: `"train"`, `"valid"` or `"test"`.

    Raises:
        FileNotFoundError: when the index or the split's file is missing.
        ValueError: when the file holds fewer records than the index says
            (truncated), is not an ArrayRecord file, or a record holds a label
            that is not one of the classes; the message names file and record.

    Example:

    ```python
    source = ArrayRecordFile(course_data.ensure_layout("array_record"), "train")
    image, label = source[0]
    dataset = grain.MapDataset.source(source).shuffle(seed=0).batch(64)
    ```
    """

    def __init__(self, folder: str | Path, split: str):
        self.folder, self.split = Path(folder), split
        info = read_info(folder)
        self.path = split_path(folder, split)
        if split not in info["counts"] or not self.path.is_file():
            raise FileNotFoundError(
                f"{self.path} is missing ({INFO_NAME} lists {sorted(info['counts'])}). "
                f"Rebuild the folder: course_data.ensure_layout('array_record') for the "
                f"course data, or ArrayRecordWriter for yours."
            )
        self.n_records = int(info["counts"][split])
        self.n_classes = len(info["class_names"])
        self.image_shape = tuple(info["image_shape"])
        self._reader = sources.PerProcess()
        self._open()  # check now, not in the middle of an epoch

    def _open(self):
        return self._reader.get(self._checked_reader)

    def _checked_reader(self):
        from array_record.python import array_record_data_source

        try:
            reader = array_record_data_source.ArrayRecordDataSource(str(self.path))
            found = len(reader)
            if found:
                reader[found - 1]  # the last record is where a cut file fails
        except RuntimeError as error:
            detail = str(error)[:100] or "no record index at its end"
            raise ValueError(
                f"{self.path} cannot be read as an ArrayRecord file ({detail}): it is "
                f"truncated or not an ArrayRecord file. Delete it and rebuild the folder "
                f"(course_data.ensure_layout('array_record'))."
            ) from None
        if found != self.n_records:
            raise ValueError(
                f"{self.path} holds {found} records where {INFO_NAME} says {self.n_records}: "
                f"the file is truncated or was rewritten. Delete the folder and rebuild it "
                f"(course_data.ensure_layout('array_record'))."
            )
        return reader

    def __len__(self):
        return self.n_records

    def _samples(self, indices: Sequence[int]):
        indices = [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < self.n_records:
                raise IndexError(f"record {i} is out of range for {self}.")
        records = self._open().__getitems__(indices)
        samples = []
        for i, record in zip(indices, records):
            where = f"{self.path} record {i}"
            blob, label, _ = unpack(record)
            if not 0 <= label < self.n_classes:
                raise ValueError(
                    f"{where} has label {label}, not a class index in [0, {self.n_classes}) "
                    f"({INFO_NAME} lists {self.n_classes} classes). Fix the labels where "
                    f"the file is written and rebuild it."
                )
            samples.append((encoded.decode(blob, self.image_shape, where), np.int64(label)))
        return samples

    def __getitem__(self, index: int):
        return self._samples([index])[0]

    def __getitems__(self, indices: Sequence[int]):
        return self._samples(indices)

    def read(self, positions: ArrayLike) -> np.ndarray:
        images = [image for image, _ in self._samples(np.asarray(positions, np.int64))]
        return np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)

    def __getstate__(self):
        return {"folder": self.folder, "split": self.split}

    def __setstate__(self, state):
        self.__init__(state["folder"], state["split"])

    def __repr__(self):
        return f"ArrayRecordFile({self.path}, {self.n_records} records)"
