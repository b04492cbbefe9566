"""Image files: one JPEG/PNG file per sample, as users bring them.

`ImageFiles` is the row source (`sources.RowSource`) over a list of image
files, decoded per batch. A folder of class sub-folders of images

    SOURCE/
        apple_pie/ 1005649.jpg 1011328.jpg ...
        baby_back_ribs/ ...

is read by `ImageBlocks`: it lists the images (`scan_image_folder`), splits
them per class and reads a block of resized images at a time;
`data_scripts/images_to_hdf5.py` and `data_scripts/images_to_tfrecord.py`
write those blocks to an HDF5 file or to TFRecord shards, and share the
command line built here (`arguments`, `block_options`, `report`, `run_cli`).
"""

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from course_lib import config
from course_lib.formats import encoded
from course_lib.formats.splits import stratified_split


class ImageFiles:
    """One JPEG/PNG image file per sample, as a row source: the classic layout.

    Used by the kit, not by a lesson.

    Each read opens and decodes one file per sample, the way a DataFrame of
    file paths is read in many older recipes.

    Args:
        paths: the image files, in position order.
        image_shape: the shape every image decodes to, `(h, w, 3)`.

    Raises:
        FileNotFoundError: from `read`, naming a missing file.
        ValueError: from `read`, naming a file that does not decode to
            `image_shape`.

    Example:

    ```python
    files = ImageFiles(table["path"], (64, 64, 3))
    files.read([0, 1]).shape  # -> (2, 64, 64, 3)
    ```
    """

    def __init__(self, paths: Sequence[str | Path], image_shape: tuple[int, int, int]):
        self.paths = [Path(p) for p in paths]
        self.image_shape = tuple(int(d) for d in image_shape)

    def __len__(self):
        return len(self.paths)

    def __repr__(self):
        where = self.paths[0].parent if self.paths else "no files"
        return f"ImageFiles({where}, {len(self)} files of {self.image_shape})"

    def read(self, positions: ArrayLike):
        out = np.empty((len(positions), *self.image_shape), np.uint8)
        for i, position in enumerate(positions):
            path = self.paths[position]
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"Missing image file {path}. "
                    f"{config.rebuild_hint(path, 'Check the paths you listed.')}"
                ) from None
            out[i] = encoded.decode(data, self.image_shape, str(path))
        return out


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


NOT_AN_IMAGE = "not converted: not a .jpg, .jpeg or .png file"


def scan_image_folder(source: str | Path):
    """Lists the images of a folder of class sub-folders.

    Used by the kit, not by a lesson.

    Args:
        source: folder with one sub-folder of images per class.

    Returns:
        `(class_names, files, labels, ignored)`: sorted class names, image
        paths sorted by class then name, their labels, and the paths of
        files that are not images by their suffix.

    Raises:
        FileNotFoundError: if `source` is not a folder.
        ValueError: if it has no class sub-folders, or a class has no images.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(
            f"{str(source)[:100]} is not a folder. Pass a folder holding one "
            f"sub-folder of images per class."
        )
    class_dirs = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise ValueError(
            f"{str(source)[:100]} has no class sub-folders. Expected "
            f"SOURCE/<class name>/<image files>, as in food-101 or dogs-vs-cats."
        )
    files, labels, ignored = [], [], []
    for label, class_dir in enumerate(class_dirs):
        entries = sorted(
            p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
        images = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        ignored += [p for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES]
        if not images:
            raise ValueError(
                f"Class folder {str(class_dir)[:100]} holds no "
                f"{'/'.join(IMAGE_SUFFIXES)} images. Remove the folder or add "
                f"its images."
            )
        files += images
        labels += [label] * len(images)
    return [d.name for d in class_dirs], files, np.array(labels), ignored


def read_image(path: str | Path, size: int, resize: str = "crop"):
    """Reads an image as uint8 `(size, size, 3)` RGB.

    Used by the kit, not by a lesson.

    Raises:
        OSError, ValueError: when the file cannot be decoded (PIL's errors).
    """
    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
        image = image.convert("RGB")
        if resize == "crop":
            image = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
        else:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


class ImageBlocks:
    """A folder of class sub-folders, split and read a block of images at a time.

    Used by the kit, not by a lesson.

    Iterating yields `(split, images, labels, kept)`: uint8 images of one
    block of a split, their labels, and their indices into `files`. Every
    split yields at least one (maybe empty) block, so every split gets its
    datasets. Shared by the HDF5 and TFRecord converters.

    Raises:
        ValueError: while iterating, if an image cannot be read and
            `on_error="fail"`; the message names the file.
    """

    def __init__(
        self,
        source: str | Path,
        size: int = 64,
        valid_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = config.SEED,
        on_error: str = "fail",
        block_size: int = 256,
        resize: str = "crop",
        shuffle: bool = True,
        progress: bool = True,
    ):
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', received {on_error!r}.")
        self.source = Path(source)
        self.class_names, self.files, self.labels, self.ignored = scan_image_folder(source)
        for path in self.ignored:
            print(f"not an image by its suffix, not converted: {path}")
        self.splits = stratified_split(self.labels, valid_fraction, test_fraction, seed, shuffle)
        self.size, self.resize, self.on_error = size, resize, on_error
        self.block_size, self.skipped, self.progress = block_size, [], progress
        self.settings = {
            "source": str(self.source),
            "size": size,
            "valid": valid_fraction,
            "test": test_fraction,
            "seed": seed,
            "resize": resize,
            "shuffle": shuffle,
        }

    def __iter__(self):
        with tqdm(total=len(self.files), unit="image", disable=not self.progress) as bar:
            for split, ids in self.splits.items():
                for start in range(0, max(len(ids), 1), self.block_size):
                    block_ids = ids[start : start + self.block_size]
                    images, kept = _read_block(
                        self.files, block_ids, self.size, self.resize, self.on_error, self.skipped
                    )
                    yield split, images, self.labels[kept], kept
                    bar.update(len(block_ids))

    def relative(self, kept: ArrayLike):
        """The source paths of files `kept`, relative to the source folder."""
        return [str(self.files[i].relative_to(self.source)) for i in kept]

    def list_left_out(self, out: str | Path):
        """Writes `OUT.skipped.txt` (see `write_left_out`)."""
        write_left_out(out, self.skipped + [(path, NOT_AN_IMAGE) for path in self.ignored])


def write_left_out(out: str | Path, entries: Iterable[tuple[object, str]]):
    """Lists every source file not converted in `OUT.skipped.txt`, one line each.

    Used by the kit, not by a lesson.

    Each line is `path<TAB>reason`, the reason folded onto one line, and the
    file ends with a newline, so `wc -l` counts the files. No file is written
    (and an old one is removed) when nothing was left out.
    """
    listing = Path(out).with_name(Path(out).name + ".skipped.txt")
    listing.unlink(missing_ok=True)
    if entries:
        listing.write_text(
            "".join(f"{path}\t{' '.join(str(why).split())}\n" for path, why in entries)
        )


def _read_block(files, ids, size, resize, on_error, skipped):
    """Reads the images `ids`; returns `(images, ids_read)`."""
    images, kept = [], []
    for i in ids:
        try:
            images.append(read_image(files[i], size, resize))
            kept.append(i)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            if on_error == "fail":
                raise ValueError(
                    f"Cannot read image {files[i]}: {str(error)[:100]}. Fix or "
                    f"remove the file, or rerun with --on-error skip to leave it "
                    f"out and list it."
                ) from error
            skipped.append((files[i], str(error)[:200]))
            print(f"skipped unreadable image {files[i]}: {str(error)[:100]}")
    images = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return images, np.array(kept, dtype=np.int64)


def arguments(doc: str, out_help: str):
    """The command-line options the image converters share.

    Used by the kit, not by a lesson.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("source", help="folder of class sub-folders of images")
    parser.add_argument("out", help=out_help)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--valid", type=float, default=0.1, help="validation fraction")
    parser.add_argument("--test", type=float, default=0.1, help="test fraction")
    parser.add_argument("--seed", type=int, default=config.SEED)
    parser.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="unreadable image: stop (default) or skip and list it",
    )
    parser.add_argument("--resize", choices=("crop", "stretch"), default="crop")
    parser.add_argument(
        "--block-size", type=int, default=256, help="images held in memory at a time"
    )
    parser.add_argument(
        "--no-shuffle", action="store_true", help="keep each split grouped by class, as on disk"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def report(out: str | Path, sizes: dict[str, int], skipped: list[tuple[object, str]]):
    """Prints what a conversion wrote and where the files left out are listed.

    Used by the kit, not by a lesson.
    """
    print(f"Wrote {out}: " + ", ".join(f"{s} {n}" for s, n in sizes.items()))
    listing = Path(f"{out}.skipped.txt")
    if listing.exists():
        print(
            f"{len(listing.read_text().splitlines())} file(s) not converted "
            f"({len(skipped)} unreadable), listed in {listing}"
        )


def block_options(args: argparse.Namespace):
    """The `ImageBlocks` settings given on the command line.

    Used by the kit, not by a lesson.
    """
    return dict(
        size=args.size,
        valid_fraction=args.valid,
        test_fraction=args.test,
        seed=args.seed,
        on_error=args.on_error,
        block_size=args.block_size,
        resize=args.resize,
        shuffle=not args.no_shuffle,
        progress=not args.quiet,
    )


def run_cli(main: Callable[[], int]):
    """Runs a converter's `main`; a bad input ends it with a one-line error, status 1.

    Used by the kit, not by a lesson.
    """
    try:
        sys.exit(main())
    except (ValueError, OSError) as error:
        sys.exit(f"{Path(sys.argv[0]).name}: error: {error}")
