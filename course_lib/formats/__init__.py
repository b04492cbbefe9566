"""What is on disk: every format the kit reads, and the one contract they share.

A format is a *row source* (`RowSource`): `len()`, `read(sorted positions)`,
a `repr`, opened lazily once per process, pickled as its path. Each format's
module holds its writer, its checks and its reader; the loaders
(`course_lib.loading`) work with any of them.

| module        | what it holds                                                          |
|---------------|------------------------------------------------------------------------|
| `sources`     | the contract (`RowSource`), `ArrayRows`, the per-process handle        |
| `hdf5`        | HDF5: opening, the split layout's writer and checks, the row sources   |
| `npy`         | one `.npy` file per sample: partition and labels, the row source       |
| `image_files` | one image file per sample: the row source; the converters' folder reader |
| `encoded`     | JPEG/PNG encoding and decoding, errors that name the image             |
| `features`    | feature matrices (bcolz, blosc2, zarr, memmap) and their chunk reader  |
| `records`     | sharded TFRecord files: writer, shard checks, the `tf.data` pipeline   |
| `array_records` | ArrayRecord files (Grain's format): writer, the checked source       |
| `splits`      | train/valid/test splits of a file's rows, class by class               |
| `atomic`      | building a file or folder complete or not at all                       |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "sources": ["RowSource", "check_source", "ArrayRows", "PerProcess"],
        "hdf5": [
            "open_file",
            "dataset_names",
            "read_rows",
            "row_extents",
            "RowReader",
            "HDF5Writer",
            "check_hdf5",
            "image_encoding",
            "load_split",
            "HDF5Rows",
            "EncodedHDF5Rows",
            "hdf5_image_rows",
        ],
        "npy": [
            "PARTITION_NAME",
            "LABELS_NAME",
            "sample_name",
            "write_partition",
            "read_partition",
            "NpyFiles",
            "load_npy_batch",
        ],
        "image_files": [
            "ImageFiles",
            "IMAGE_SUFFIXES",
            "NOT_AN_IMAGE",
            "scan_image_folder",
            "read_image",
            "ImageBlocks",
            "write_left_out",
            "arguments",
            "report",
            "block_options",
            "run_cli",
        ],
        "encoded": [
            "ENCODINGS",
            "JPEG_QUALITY",
            "check_encoding",
            "encode",
            "decode",
            "decode_batch",
        ],
        "features": [
            "CHUNK_BYTES",
            "ADAPTERS",
            "FORMATS",
            "SUFFIXES",
            "format_of",
            "default_chunk_rows",
            "write_features",
            "FeatureStore",
            "ChunkReader",
        ],
        "records": [
            "INDEX_NAME",
            "SHARD_BYTES",
            "FEATURES",
            "serialize",
            "parse",
            "ShardWriter",
            "record_offsets",
            "scan_shard",
            "check_shards",
            "record_dataset",
            "find_bad_record",
        ],
        "array_records": [
            "INFO_NAME",
            "SUFFIX",
            "WRITER_OPTIONS",
            "pack",
            "unpack",
            "split_path",
            "ArrayRecordWriter",
            "read_info",
            "ArrayRecordFile",
        ],
        "splits": ["stratified_split"],
        "atomic": ["manifest_path", "partial_path", "remove", "is_built", "building", "build"],
    },
)
