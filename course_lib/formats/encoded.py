"""Images as encoded bytes (JPEG, PNG): encoding, decoding, and what they cost.

Real datasets are stored as image files, and at scale as the same encoded
bytes packed into a few big files (HDF5, TFRecord). Encoded bytes are several
times smaller than raw pixels; the price is CPU: every epoch decodes every
image again. PIL and TensorFlow release the GIL while they decode, so threads
decode in parallel.

Example:

>>> image = np.zeros((8, 8, 3), np.uint8)
>>> data = encode(image, "png")
>>> decode(data, (8, 8, 3)).shape
(8, 8, 3)
"""

import io

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from course_lib import errors

ENCODINGS = ("jpeg", "png")
JPEG_QUALITY = 90
"""The quality the kit writes JPEG at: visually close to the pixels, and several
times smaller than them."""


def check_encoding(encoding: str):
    """Raises ValueError unless `encoding` is one of `ENCODINGS`.

    Used by the kit, not by a lesson.
    """
    errors.check_choice("image encoding", encoding, ENCODINGS)


def encode(image: np.ndarray, encoding: str = "jpeg", quality: int = JPEG_QUALITY):
    """Encodes one uint8 `(h, w, 3)` image; returns the bytes.

    Used by the kit, not by a lesson.

    Raises:
        ValueError: for an unknown encoding.
    """
    check_encoding(encoding)
    out = io.BytesIO()
    options = {"quality": quality} if encoding == "jpeg" else {}
    Image.fromarray(np.asarray(image, np.uint8)).save(out, format=encoding.upper(), **options)
    return out.getvalue()


def decode(data: bytes, shape: tuple[int, int, int], where: str = "image"):
    """Decodes one encoded image to uint8 RGB and checks its shape.

    Used by the kit, not by a lesson.

    Args:
        data: the encoded bytes (`bytes` or a uint8 array).
        shape: the expected `(h, w, 3)`.
        where: what to call the image in an error (a file, or a file and row).

    Raises:
        ValueError: naming `where`, if the bytes are not a readable image or
            the image has another shape.
    """
    try:
        with Image.open(io.BytesIO(memoryview(data))) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(
            f"{where}: the stored bytes are not a readable JPEG/PNG image "
            f"({str(error)[:80]}). The file is damaged: rewrite it from the "
            f"original images."
        ) from None
    if pixels.shape != tuple(shape):
        raise ValueError(
            f"{where}: decoded to shape {pixels.shape}, expected {tuple(shape)}. "
            f"Every image of a file must have the file's image_shape."
        )
    return pixels


def decode_batch(values: ArrayLike, shape: tuple[int, int, int], where: str, rows: ArrayLike):
    """Decodes a batch of encoded images into one uint8 `(n, *shape)` array.

    Used by the kit, not by a lesson.

    Args:
        values: the encoded images.
        shape: the image shape.
        where: the file (and dataset) they come from, for errors.
        rows: their row numbers, for errors.
    """
    out = np.empty((len(values), *shape), np.uint8)
    for i, (data, row) in enumerate(zip(values, rows)):
        out[i] = decode(data, shape, f"{where} row {row}")
    return out
