import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from course_lib.formats import hdf5, image_files
from course_lib.formats.splits import stratified_split
from data_scripts import images_to_hdf5

ROOT = Path(__file__).resolve().parents[1]
CLASS_SIZES = {"cats": 20, "dogs": 10, "pizza": 30}


@pytest.fixture
def image_folder(tmp_path):
    """A food-101-like folder: JPEG and PNG, colour, grey and RGBA, odd sizes."""
    rng = np.random.default_rng(0)
    for label, (name, count) in enumerate(CLASS_SIZES.items()):
        folder = tmp_path / "images" / name
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = np.full((30 + i, 45, 3), 80 * label, np.uint8)
            pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)
            image = Image.fromarray(pixels)
            if i % 5 == 1:
                image = image.convert("L")
            if i % 5 == 2:
                image.convert("RGBA").save(folder / f"{i:03d}.png")
            else:
                image.save(folder / f"{i:03d}.jpg", quality=95)
    return tmp_path / "images"


def run_script(name, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "data_scripts" / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_make_dataset_builds_then_reuses(tmp_path):
    first = run_script(
        "make_dataset.py", "--profile", "ci", "--format", "hdf5", "--out", str(tmp_path), "--quiet"
    )
    assert first.returncode == 0, first.stderr
    assert re.search(r"hdf5 +built", first.stdout)
    assert hdf5.check_hdf5(tmp_path / "ci" / "course.h5")["split_sizes"]["train"] == 2048
    again = run_script(
        "make_dataset.py", "--profile", "ci", "--format", "hdf5", "--out", str(tmp_path), "--quiet"
    )
    assert re.search(r"hdf5 +reused", again.stdout)


def test_building_records_keeps_tensorflows_start_up_notes_off_the_screen(tmp_path):
    """`make lab` builds the records on a first run: TensorFlow loads there, quietly."""
    built = run_script(
        "make_dataset.py",
        "--profile",
        "ci",
        "--format",
        "records",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert built.returncode == 0, built.stderr
    assert re.search(r"records +built", built.stdout)
    assert built.stderr == ""


def test_make_dataset_rejects_an_unknown_profile(tmp_path):
    result = run_script("make_dataset.py", "--profile", "huge", "--out", str(tmp_path))
    assert result.returncode == 2 and "invalid choice: 'huge'" in result.stderr


def test_conversion_is_stratified_and_complete(image_folder, tmp_path):
    out = tmp_path / "food.h5"
    sizes, skipped = images_to_hdf5.convert(
        image_folder, out, size=24, valid_fraction=0.2, test_fraction=0.1, progress=False
    )
    assert skipped == [] and sum(sizes.values()) == sum(CLASS_SIZES.values())
    info = hdf5.check_hdf5(out)
    assert info["class_names"] == list(CLASS_SIZES) and info["image_shape"] == (24, 24, 3)
    with h5py.File(out, "r") as file:
        ids = np.concatenate([file[s]["ids"][:] for s in ("train", "valid", "test")])
        assert sorted(ids) == list(range(60))
        valid_counts = np.bincount(file["valid/labels"][:], minlength=3)
        assert list(valid_counts) == [4, 2, 6]  # 20% of each class
        # Each sample keeps its label and source file, whatever the order.
        for split in ("train", "test"):
            for label, source in zip(file[split]["labels"][:], file[split]["sources"][:]):
                assert source.decode().split("/")[0] == list(CLASS_SIZES)[label]
        assert not np.array_equal(np.sort(file["train/labels"][:]), file["train/labels"][:])


def test_conversion_does_not_depend_on_the_block_size(image_folder, tmp_path):
    images_to_hdf5.convert(image_folder, tmp_path / "a.h5", size=16, block_size=3, progress=False)
    images_to_hdf5.convert(image_folder, tmp_path / "b.h5", size=16, block_size=500, progress=False)
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        for name in ("train/images", "train/labels", "test/ids"):
            assert np.array_equal(a[name][:], b[name][:])


def test_unreadable_image_fails_by_default_and_names_it(image_folder, tmp_path):
    (image_folder / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "food.h5"
    result = run_script("images_to_hdf5.py", str(image_folder), str(out), "--quiet")
    assert result.returncode == 1
    assert "Cannot read image" in result.stderr and "broken.jpg" in result.stderr
    assert "--on-error skip" in result.stderr
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_skip_mode_reports_and_lists_every_skipped_file(image_folder, tmp_path):
    (image_folder / "dogs" / "broken.jpg").write_bytes(b"garbage")
    (image_folder / "cats" / "notes.txt").write_text("not an image")
    out = tmp_path / "food.h5"
    result = run_script(
        "images_to_hdf5.py",
        str(image_folder),
        str(out),
        "--quiet",
        "--on-error",
        "skip",
        "--size",
        "16",
    )
    assert result.returncode == 0, result.stderr
    assert "skipped unreadable image" in result.stdout and "broken.jpg" in result.stdout
    assert "notes.txt" in result.stdout
    listed = Path(f"{out}.skipped.txt").read_text()
    assert "broken.jpg" in listed and "notes.txt" in listed and listed.endswith("\n")
    assert "2 file(s) not converted (1 unreadable), listed in" in result.stdout
    assert sum(hdf5.check_hdf5(out)["split_sizes"].values()) == 60


def test_bad_source_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        image_files.scan_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="has no class sub-folders"):
        image_files.scan_image_folder(tmp_path / "flat")
    (tmp_path / "flat" / "empty_class").mkdir()
    with pytest.raises(ValueError, match="empty_class holds no"):
        image_files.scan_image_folder(tmp_path / "flat")
    with pytest.raises(ValueError, match="valid \\+ test < 1"):
        stratified_split(np.zeros(5), 0.5, 0.5, seed=0)


@pytest.mark.parametrize(
    "script, out_name", [("images_to_hdf5.py", "food.h5"), ("images_to_tfrecord.py", "records")]
)
def test_both_converters_take_the_same_encoding_option(image_folder, tmp_path, script, out_name):
    out = tmp_path / out_name
    result = run_script(
        script, str(image_folder), str(out), "--quiet", "--size", "16", "--encoding", "png"
    )
    assert result.returncode == 0, result.stderr
    if script == "images_to_hdf5.py":
        with h5py.File(out) as file:
            assert hdf5.image_encoding(file["train/images"]) == "png"
    else:
        assert json.loads((out / "train" / "shards.json").read_text())["encoding"] == "png"


README_COMMAND = re.compile(r"^(?:\.venv/bin/)?python (data_scripts/\w+\.py)(.*)$", re.M)


def test_every_converter_command_the_readme_shows_runs(image_folder, tmp_path):
    """Each `data_scripts` command line of the README, as written, on a small image folder (its
    outputs in a temporary folder); `make_dataset.py`, which builds a whole profile, with
    `--help`."""
    commands = README_COMMAND.findall((ROOT / "README.md").read_text())
    converters = [c for c in commands if not c[0].endswith("make_dataset.py")]
    assert len(converters) >= 3, commands
    for script, arguments in commands:
        words = arguments.split()
        if script.endswith("make_dataset.py"):
            words = [*words, "--help"]
        words = [
            str(image_folder)
            if word == "~/food-101/images"
            else str(tmp_path / "out" / Path(word).name)
            if word.startswith("data/")
            else word
            for word in words
        ]
        result = run_script(Path(script).name, *words)
        assert result.returncode == 0, f"README: {script}{arguments}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize(
    "command",
    [
        ["data_scripts/images_to_hdf5.py"],
        ["data_scripts/images_to_tfrecord.py"],
        ["data_scripts/make_dataset.py"],
        ["-m", "course_lib.bench"],
    ],
    ids=lambda command: command[-1],
)
def test_help_answers_without_importing_tensorflow(command):
    """`--help` is quick: TensorFlow (seconds to import, and its start-up lines) stays out."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert not [name for name in imported if name.split(".")[0] in ("tensorflow", "keras")]
    if command[-1].endswith("images_to_tfrecord.py"):
        from course_lib.formats import records

        help_text = " ".join(result.stdout.split())
        assert f"{records.SHARD_BYTES // 2**20} MiB" in help_text  # the default it names
