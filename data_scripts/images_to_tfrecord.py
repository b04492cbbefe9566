"""Converts a folder of class sub-folders of images into sharded TFRecord files.

The source is the same as for `images_to_hdf5.py` (food-101, dogs-vs-cats):

    SOURCE/<class name>/<image files>

Usage:

    python data_scripts/images_to_tfrecord.py ~/food-101/images data/food101-records --size 128

writes `OUT/train/`, `OUT/valid/` and `OUT/test/`, each a few
`shard-NNNNN.tfrecord` files of about `--shard-mb` MB plus `shards.json`,
then read with `course_lib.formats.records.record_dataset("OUT/train", batch_size=64)`.
Each record is a `tf.train.Example` with the image resized to
`size x size` and encoded as JPEG (`image`), its class (`label`) and its
index in the sorted file list (`id`). The splits are stratified and shuffled
as in `images_to_hdf5.py`; memory stays bounded (one block of images), the
folder is built under `OUT.partial` and renamed when complete, and
`--on-error fail|skip` works the same way.
"""

from pathlib import Path

from course_lib import config
from course_lib.formats import atomic, encoded
from course_lib.formats.image_files import ImageBlocks, arguments, block_options, report, run_cli


def convert(source, out, shard_bytes=None, encoding="jpeg", **options):
    """Converts an image folder into TFRecord shards; see the module doc.

    Args:
        source: folder of class sub-folders of images.
        out: the folder to write (`OUT/<split>/shard-*.tfrecord`).
        shard_bytes: about how big each shard grows (`None`: `records.SHARD_BYTES`).
        encoding: `"jpeg"` or `"png"`.
        **options: `ImageBlocks` settings (`size`, `valid_fraction`,
            `test_fraction`, `seed`, `on_error`, `block_size`, `resize`,
            `shuffle`, `progress`).

    Returns:
        `(split_sizes, skipped)`, as `images_to_hdf5.convert`.

    Raises:
        ValueError: if an image cannot be read and `on_error="fail"`; the
            message names the file. Nothing is left at `out` then.
    """
    encoded.check_encoding(encoding)
    blocks = ImageBlocks(source, **options)
    out = Path(out)
    info = {
        "class_names": blocks.class_names,
        "image_shape": [blocks.size, blocks.size, 3],
        "encoding": encoding,
        "source": str(source),
    }
    from course_lib.course import startup

    with startup.start_up_notes_hidden():  # TensorFlow: not needed for --help
        from course_lib.formats import records

    shard_bytes = shard_bytes or records.SHARD_BYTES
    settings = {**blocks.settings, "encoding": encoding, "shard_bytes": shard_bytes}
    with atomic.building(out, settings) as partial:
        writers = {
            split: records.ShardWriter(partial / split, shard_bytes, info)
            for split in config.SPLITS
        }
        for split, images, labels, kept in blocks:
            for image, label, sample_id in zip(images, labels, kept):
                writers[split].write(
                    records.serialize(encoded.encode(image, encoding), label, sample_id)
                )
        for writer in writers.values():
            writer.close()
    blocks.list_left_out(out)
    sizes = {split: sum(records.check_shards(out / split)[1]) for split in config.SPLITS}
    return sizes, blocks.skipped


def main(argv=None):
    parser = arguments(__doc__, "folder to write the shards into")
    parser.add_argument(
        "--shard-mb",
        type=float,
        help="shard size in MiB (default: records.SHARD_BYTES, 128 MiB)",
    )
    parser.add_argument("--encoding", choices=encoded.ENCODINGS, default="jpeg")
    args = parser.parse_args(argv)
    sizes, skipped = convert(
        args.source,
        args.out,
        args.shard_mb and int(args.shard_mb * 2**20),
        args.encoding,
        **block_options(args),
    )
    report(args.out, sizes, skipped)
    return 0


if __name__ == "__main__":
    run_cli(main)
