"""JPEG/PNG bytes: in HDF5 (written, checked, streamed), as image files, and from
the converters, on users' shapes (class-sorted folders, a corrupt image)."""

import h5py
import numpy as np
import pytest
from PIL import Image

from course_lib.formats import encoded, hdf5
from course_lib.formats.image_files import ImageFiles
from course_lib.loading.loaders import HDF5Dataset
from data_scripts import images_to_hdf5, images_to_tfrecord

SHAPE = (16, 16, 3)


def smooth_images(n, seed=0):
    """Images JPEG keeps close: flat colour per class with a gradient."""
    ramp = np.linspace(0, 60, 16, dtype=np.uint8)[None, :, None]
    labels = np.arange(n) % 3
    images = np.stack([np.full(SHAPE, 60 * label + 30, np.uint8) + ramp for label in labels])
    return images, labels


@pytest.fixture
def jpeg_h5(tmp_path):
    images, labels = smooth_images(90)
    path = tmp_path / "jpeg.h5"
    with hdf5.HDF5Writer(path, SHAPE, ["a", "b", "c"], encoding="jpeg") as writer:
        for split in ("train", "valid", "test"):
            writer.append(split, images, labels, np.arange(90))
    return path, images, labels


def test_png_round_trip_is_exact_and_jpeg_is_close():
    images, _ = smooth_images(3)
    assert (encoded.decode(encoded.encode(images[0], "png"), SHAPE) == images[0]).all()
    jpeg = encoded.decode(encoded.encode(images[0], "jpeg"), SHAPE)
    assert np.abs(jpeg.astype(int) - images[0]).mean() < 3


def test_encoded_hdf5_is_checked_and_streams_decoded_batches(jpeg_h5):
    path, images, labels = jpeg_h5
    described = hdf5.check_hdf5(path)
    assert described["encoding"] == "jpeg" and described["split_sizes"]["train"] == 90
    with h5py.File(path) as file:
        assert file["train/images"].dtype.kind == "O"
        stored = sum(len(row) for row in file["train/images"][:])
    assert stored < images.nbytes  # tiny 16x16 images: JPEG's headers weigh
    loader = HDF5Dataset(path, batch_size=32, seed=1)
    seen = []
    for index in range(len(loader)):
        x, y = loader[index]
        assert x.dtype == np.uint8 and x.shape[1:] == SHAPE
        assert (np.abs(x.astype(int).mean(axis=(1, 2, 3)) - 60 * y - 30 - 29) < 5).all()
        seen.append(len(y))
    assert sum(seen) == 90
    x_all, y_all = hdf5.load_split(path, "valid")
    assert x_all.shape == (90, *SHAPE) and (y_all == labels).all()


def test_corrupt_bytes_are_named_by_file_and_row(jpeg_h5):
    path, _, _ = jpeg_h5
    with h5py.File(path, "r+") as file:
        file["train/images"][5] = np.frombuffer(b"\xff\xd8 not a jpeg", np.uint8)
    loader = HDF5Dataset(path, batch_size=90, shuffle="none")
    with pytest.raises(ValueError, match=r"jpeg.h5:/train/images row 5: .*not a readable"):
        loader[0]


def test_image_files_name_the_missing_or_broken_file(tmp_path):
    images, _ = smooth_images(2)
    good = tmp_path / "good.png"
    Image.fromarray(images[0]).save(good)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    files = ImageFiles([good, tmp_path / "broken.jpg", tmp_path / "gone.jpg"], SHAPE)
    assert (files.read([0]) == images[0]).all()
    with pytest.raises(ValueError, match="broken.jpg"):
        files.read([1])
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        files.read([2])


def test_wrong_size_image_is_named(tmp_path):
    (tmp_path / "big.png").write_bytes(encoded.encode(np.zeros((20, 20, 3), np.uint8), "png"))
    with pytest.raises(ValueError, match=r"big.png: decoded to shape \(20, 20, 3\)"):
        ImageFiles([tmp_path / "big.png"], SHAPE).read([0])


def class_sorted_folder(root, per_class=12):
    for label, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((40, 30, 3), 100 * label + 20, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.jpg", quality=95)
    return root


def test_converters_write_jpeg_hdf5_and_tfrecord_from_a_class_folder(tmp_path):
    from course_lib.formats import hdf5, records

    source = class_sorted_folder(tmp_path / "photos")
    options = dict(size=16, valid_fraction=0.25, test_fraction=0.25, progress=False)
    sizes, skipped = images_to_hdf5.convert(source, tmp_path / "enc.h5", encoding="jpeg", **options)
    assert sizes == {"train": 12, "valid": 6, "test": 6} and skipped == []
    assert hdf5.check_hdf5(tmp_path / "enc.h5")["encoding"] == "jpeg"
    x, y = HDF5Dataset(tmp_path / "enc.h5", batch_size=12, shuffle="none")[0]
    assert (np.abs(x.astype(int).mean(axis=(1, 2, 3)) - (100 * y + 20)) < 4).all()

    sizes, _ = images_to_tfrecord.convert(source, tmp_path / "rec", shard_bytes=2000, **options)
    assert sizes == {"train": 12, "valid": 6, "test": 6}
    files, counts, info = records.check_shards(tmp_path / "rec" / "train")
    assert len(files) > 1 and info["class_names"] == ["cat", "dog"]
    images, labels = next(iter(records.record_dataset(tmp_path / "rec" / "train", 12)))
    assert sorted(labels.numpy()) == [0] * 6 + [1] * 6
    assert (
        np.abs(images.numpy().astype(int).mean(axis=(1, 2, 3)) - (100 * labels.numpy() + 20)) < 4
    ).all()


def test_tfrecord_converter_stops_on_a_corrupt_image_and_leaves_nothing(tmp_path):
    source = class_sorted_folder(tmp_path / "photos")
    (source / "dog" / "005.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(ValueError, match="dog/005.jpg.*--on-error skip"):
        images_to_tfrecord.convert(source, tmp_path / "rec", size=16, progress=False)
    assert not (tmp_path / "rec").exists() and not (tmp_path / "rec.partial").exists()
    sizes, skipped = images_to_tfrecord.convert(
        source, tmp_path / "rec", size=16, on_error="skip", progress=False
    )
    assert sum(sizes.values()) == 23 and [p.name for p, _ in skipped] == ["005.jpg"]
    assert "dog/005.jpg" in (tmp_path / "rec.skipped.txt").read_text()


def test_tfrecord_converter_command_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    source = class_sorted_folder(tmp_path / "photos")
    result = subprocess.run(
        [
            sys.executable,
            str(root / "data_scripts" / "images_to_tfrecord.py"),
            str(source),
            str(tmp_path / "out"),
            "--size",
            "16",
            "--shard-mb",
            "0.002",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout and (tmp_path / "out" / "train" / "shards.json").is_file()
