"""Converts a folder of class sub-folders of images into the course HDF5 layout.

The source looks like food-101 or dogs-vs-cats sorted by class:

    SOURCE/
        apple_pie/ 1005649.jpg 1011328.jpg ...
        baby_back_ribs/ ...

Usage:

    python data_scripts/images_to_hdf5.py ~/food-101/images data/food101.h5 --size 64
    export COURSE_HDF5=$PWD/data/food101.h5   # the lessons now train on it

Images are split into train/valid/test per class (stratified, seeded), each
split in shuffled order, and converted to uint8 `size x size x 3` (centre crop
then resize, or `--resize stretch`). They are read and written a block at a
time, so memory stays bounded whatever the number of images. The file is
built under `OUT.partial` and renamed into place when complete, with the
settings it was made with in `OUT.manifest.json`. An image that
cannot be read stops the conversion and names the file (`--on-error fail`, the
default), or is left out, reported, and listed in `OUT.skipped.txt`
(`--on-error skip`). Files that are not .jpg/.jpeg/.png are reported and
listed there too.

`--encoding jpeg` stores each resized image as its JPEG bytes instead of raw
pixels (a few times smaller on disk; decoded again at every read, see
`course_lib.formats.encoded`). For sharded TFRecord files, use
`images_to_tfrecord.py`, which reads the folder the same way.
"""

from pathlib import Path

from course_lib.formats import atomic, encoded, hdf5
from course_lib.formats.image_files import ImageBlocks, arguments, block_options, report, run_cli


def convert(source, out, encoding=None, **options):
    """Converts an image folder into the course HDF5 layout; see the module doc.

    Args:
        source: a folder of class sub-folders of images.
        out: the HDF5 file to write.
        encoding: `None` stores raw pixels; `"jpeg"` or `"png"` stores each
            resized image's encoded bytes.
        **options: how the images are split and read (`ImageBlocks`:
            `size`, `valid_fraction`, `seed`, `on_error`, ...).

    Returns:
        `(split_sizes, skipped)`: samples written per split, and the
        `(path, reason)` of every image left out (only with `on_error="skip"`).

    Raises:
        ValueError: if an image cannot be read and `on_error="fail"`; the
            message names the file. Nothing is left at `out` then.
    """
    blocks = ImageBlocks(source, **options)
    out = Path(out)
    with (
        atomic.building(out, {**blocks.settings, "encoding": encoding}) as partial,
        hdf5.HDF5Writer(
            partial,
            (blocks.size, blocks.size, 3),
            blocks.class_names,
            attrs={"source": str(source), "seed": blocks.settings["seed"]},
            encoding=encoding,
        ) as writer,
    ):
        for split, images, labels, kept in blocks:
            writer.append(split, images, labels, kept, sources=blocks.relative(kept))
    blocks.list_left_out(out)
    sizes = hdf5.check_hdf5(out)["split_sizes"]
    return sizes, blocks.skipped


def main(argv=None):
    parser = arguments(__doc__, "HDF5 file to write")
    parser.add_argument(
        "--encoding",
        choices=encoded.ENCODINGS,
        default=None,
        help="store each image's encoded bytes instead of raw pixels",
    )
    args = parser.parse_args(argv)
    sizes, skipped = convert(args.source, args.out, encoding=args.encoding, **block_options(args))
    report(args.out, sizes, skipped)
    return 0


if __name__ == "__main__":
    run_cli(main)
