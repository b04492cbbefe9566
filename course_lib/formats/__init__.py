"""What is on disk: every format the kit reads, and the one contract they share.

A format is a *row source* (`sources.RowSource`): `len()`, `read(sorted
positions)`, opened lazily once per process, pickled as its path. The loaders
(`course_lib.loading`) work with any of them.

| module          | what it holds                                                        |
|-----------------|----------------------------------------------------------------------|
| `atomic`        | building a file or folder complete or not at all                     |
| `hdf5_rows`     | opening HDF5 files with clear errors; reading a batch's rows          |
| `layouts`       | the HDF5 and npy layouts: writer, checks, whole-split reader         |
| `encoded`       | JPEG/PNG encoding and decoding, errors that name the image           |
| `sources`       | the row-source contract and the sources: HDF5, JPEG bytes, npy, image files |
| `features`      | feature matrices (bcolz, blosc2, zarr, memmap) and their chunk reader |
| `records`       | sharded TFRecord files: writer, shard checks, the `tf.data` pipeline |
| `image_folders` | a folder of class sub-folders of images, as the converters read it  |
| `splits`        | train/valid/test splits of a file's rows, class by class             |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "atomic": ["manifest_path", "partial_path", "remove", "is_built", "building", "build"],
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
        "hdf5_rows": ["open_file", "dataset_names", "read_rows", "row_extents", "RowReader"],
        "image_folders": [
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
        "layouts": [
            "PARTITION_NAME",
            "LABELS_NAME",
            "sample_name",
            "HDF5Writer",
            "check_hdf5",
            "image_encoding",
            "write_partition",
            "read_partition",
            "load_split",
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
        "splits": ["stratified_split"],
        "sources": [
            "RowSource",
            "check_source",
            "ArrayRows",
            "PerProcess",
            "HDF5Rows",
            "EncodedHDF5Rows",
            "hdf5_image_rows",
            "NpyFiles",
            "ImageFiles",
            "load_npy_batch",
        ],
    },
)
