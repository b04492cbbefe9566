"""Course material: the synthetic data, the lessons' workloads, the exercises.

| module        | what it holds                                                          |
|---------------|------------------------------------------------------------------------|
| `synthetic`   | the learnable synthetic images, labels and features                    |
| `course_data` | the course data, built once per profile in each of its six layouts     |
| `user_files`  | files in the shape users bring (class-sorted PyTables, one-hot labels) |
| `workloads`   | small importable workloads for the memory-budget demonstrations        |
| `resume`      | training that resumes after a crash from its last finished epoch       |
| `exercises`   | the learner notebooks, made from the solutions                          |
| `slides`      | the lessons as slides (RISE in JupyterLab, reveal.js files)             |
| `site`        | the course as a website (every lesson run once, MkDocs)                 |
| `startup`     | a lesson's first screen without the native libraries' start-up notes    |
"""

from course_lib.exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "course_data": [
            "FEATURE_MATRIX_NAME",
            "INDEX_NAME",
            "USER_HDF5_ENV",
            "FORMAT_VERSION",
            "Layout",
            "split_ranges",
            "image_path",
            "image_table",
            "LAYOUTS",
            "CORE_LAYOUTS",
            "layout_path",
            "disk_usage",
            "layout_status",
            "ensure_layout",
            "ensure_all",
            "course_hdf5",
            "open_features",
            "read_index",
        ],
        "exercises": [
            "NOTEBOOKS",
            "SOLUTIONS",
            "EXERCISE_TAG",
            "CHECK_TAG",
            "STUB",
            "learner_version",
            "text",
            "stale_notebooks",
        ],
        "resume": ["SimulatedCrash", "fit_resumable"],
        "site": ["lesson_title", "site_config", "build_site"],
        "slides": ["SLIDE_TYPES", "SLIDES", "outline_type", "mark_slides", "to_slides"],
        "startup": [
            "START_UP_NOTES",
            "start_up_notes_hidden",
            "import_backend",
        ],
        "synthetic": [
            "GENERATION_BLOCK",
            "FEATURES_VERSION",
            "SIGNAL_FRACTION",
            "labels",
            "images",
            "features",
        ],
        "user_files": ["DRAWING_CLASSES", "drawings", "write_class_sorted"],
        "workloads": [
            "allocate",
            "fail",
            "fit_in_memory",
            "fit_streaming",
            "streamed_fit",
            "shuffle_buffer_bytes",
        ],
    },
)
