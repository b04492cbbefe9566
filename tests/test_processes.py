"""Process workers under fork, spawn and forkserver: a kit loader that holds something defined
in a notebook fails at once under spawn and forkserver, naming it and the fix, where Keras's fit
would wait forever; one that holds only importable code trains under every start method."""

import subprocess
import sys
import textwrap

import pytest

NOTEBOOK = """
import multiprocessing
from course_lib import models
from course_lib.loading import AugmentedDataset, HDF5Dataset

multiprocessing.set_start_method({method!r})
{define}
loader = HDF5Dataset({path!r}, batch_size=64, seed=0, rows=range(256))
train = AugmentedDataset(loader, {transform}, seed=1, workers=2, use_multiprocessing=True)
model = models.small_convnet((32, 32, 3), 3)
try:
    model.fit(train, epochs=1, verbose=0)
    print("TRAINED")
except Exception as error:  # on TensorFlow, inside the error of the tf.data op that called it
    print("REFUSED:", error)
"""


def _run_as_notebook(method, path, define, transform):
    """The code as a notebook runs it: `python -c`, so `__main__` is no file a worker imports."""
    code = NOTEBOOK.format(method=method, define=define, path=str(path), transform=transform)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.parametrize("method", ["spawn"])  # forkserver takes the same path (not fork)
def test_a_notebook_defined_transform_fails_fast_under_spawn_and_forkserver(ci_data, method):
    define = "def brighter(images, rngs):\n    return images * 1.1\n"
    done = _run_as_notebook(method, ci_data["hdf5"], define, "brighter")
    assert done.returncode == 0, done.stderr[-3000:]
    said = done.stdout
    assert "REFUSED:" in said
    assert "AugmentedDataset holds `brighter`, defined in this notebook" in said
    assert f"started with {method!r}" in said and "%%writefile my_loader.py" in said


@pytest.mark.parametrize("method", ["spawn", "forkserver"])  # fork: every other process test
def test_importable_transforms_train_under_every_start_method(ci_data, method):
    done = _run_as_notebook(
        method, ci_data["hdf5"], "from course_lib import loading", "loading.RandomFlip()"
    )
    assert done.returncode == 0 and "TRAINED" in done.stdout, done.stderr[-3000:]


def test_under_fork_a_notebook_definition_is_fine_and_the_check_says_nothing():
    from course_lib.loading import check_workers_can_load, defined_in_notebook

    check_workers_can_load(object(), start_method="fork")
    assert defined_in_notebook(len) == []  # a builtin: importable anywhere


def test_the_check_names_notebook_classes_and_functions_once_each():
    code = textwrap.dedent(
        """
        from course_lib.loading import check_workers_can_load, defined_in_notebook
        class Positions:
            pass
        def key(x):
            return x
        holder = Positions()
        holder.keys = [key, key]
        print(defined_in_notebook(holder))
        try:
            check_workers_can_load(holder, start_method="spawn")
        except RuntimeError as error:
            print(error)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert lines[0] == "['Positions', 'key']", done.stderr[-2000:]
    assert lines[1].startswith("Positions holds `Positions`, `key`, defined in this notebook")
