"""A lesson's first screen without the native libraries' start-up notes.

TensorFlow's C++ libraries log while they load, before absl's logging is set
up, so `TF_CPP_MIN_LOG_LEVEL` does not reach those lines: each `import
tensorflow` prints "All log messages before absl::InitializeLog() ...", a
oneDNN note and "Could not find cuda drivers" (twice, once per library) to file
descriptor 2, which JupyterLab shows as a red stderr box; the first look for a
GPU adds "failed call to cuInit" on a machine without one. Only a redirection of
that descriptor while the libraries load keeps them out; every other line they
print is written back, so a real error still shows.
"""

import contextlib
import os
import sys
import tempfile

from course_lib.loading import processes

START_UP_NOTES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine, GPU will not be used",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "failed call to cuInit",
)
"""Lines the libraries print on every start on a machine without a GPU; nothing to act on."""


@contextlib.contextmanager
def start_up_notes_hidden():
    """Sends file descriptor 2 to a file during the block, then writes back each other line.

    Used by the kit, not by a lesson. `import_backend` uses it.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [
                line
                for line in caught.read().decode(errors="replace").splitlines()
                if not any(note in line for note in START_UP_NOTES)
            ]
            if kept:
                print(*kept, sep="\n", file=sys.stderr)


def import_backend():
    """Imports Keras and its backend, with the start-up notes kept off the page.

    First used in lesson 00 (setup_and_data).

    Each lesson's Setup cell imports Keras with it. It also applies
    `COURSE_START_METHOD` when set (`loading.use_start_method`).

    Returns:
        The `keras` module.

    Example:

    ```python
    keras = startup.import_backend()
    keras.backend.backend()  # -> 'tensorflow'
    ```
    """
    processes.use_start_method()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the later C++ logs: warnings and up
    with start_up_notes_hidden():
        import keras  # on the TensorFlow backend, this loads TensorFlow

        if keras.backend.backend() == "tensorflow":  # the CUDA probe, once, while hidden
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
    return keras
