"""The environment: pyproject.toml and environment.yml agree; the kit's JupyterLab settings and
its two kernels are installed."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KERNELS = [
    ("keras-tensorflow", "Keras (TensorFlow)", "tensorflow"),
    ("keras-jax", "Keras (JAX)", "jax"),
]


def _normalise(requirement):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        map(_normalise, project["dependencies"] + project["optional-dependencies"]["dev"])
    )
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(pip_lists) == 1, "environment.yml needs one pip: section"
    listed = dict(map(_normalise, pip_lists[0]))
    missing = {n: s for n, s in wanted.items() if n not in listed}
    extra = {n: s for n, s in listed.items() if n not in wanted}
    different = {
        n: (wanted[n], listed[n]) for n in wanted.keys() & listed.keys() if wanted[n] != listed[n]
    }
    assert not (missing or extra or different), (
        f"environment.yml disagrees with pyproject.toml: missing {missing}, "
        f"extra {extra}, different ranges {different}"
    )
    assert "python=3.12" in environment["dependencies"]  # the version the README recommends
    assert project["requires-python"] == ">=3.11,<3.14"  # the range the Makefile checks


def test_jupyterlab_settings_are_installed_and_valid():
    """`make install` puts jupyter/overrides.json where JupyterLab reads overrides,
    and every value it sets is one the setting's own schema allows."""
    import json
    import sys

    shipped = json.loads((ROOT / "jupyter" / "overrides.json").read_text())
    lab = Path(sys.prefix) / "share" / "jupyter" / "lab"
    installed = lab / "settings" / "overrides.json"
    assert installed.is_file(), f"{installed} is missing: run `make install`"
    assert json.loads(installed.read_text()) == shipped
    for plugin, values in shipped.items():
        package, name = plugin.split(":")
        schema = json.loads((lab / "schemas" / package / f"{name}.json").read_text())
        for key, value in values.items():
            allowed = schema["properties"][key]
            if "oneOf" in allowed:
                assert value in [option["const"] for option in allowed["oneOf"]]
            else:
                assert isinstance(value, {"boolean": bool, "string": str}[allowed["type"]])
    assert shipped["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.mark.parametrize(("name", "display", "backend"), KERNELS)
def test_each_backend_has_a_kernel_in_the_launcher(name, display, backend):
    """`make install` installs a kernelspec per backend; a kernel started from it runs Keras on
    that backend, whatever `KERAS_BACKEND` the server was started with."""
    import json
    import sys

    from jupyter_client.manager import start_new_kernel

    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name / "kernel.json"
    assert spec.is_file(), f"{spec} is missing: run `make install`"
    kernel = json.loads(spec.read_text())
    assert kernel["display_name"] == display and kernel["env"] == {"KERAS_BACKEND": backend}
    other = {"tensorflow": "jax", "jax": "tensorflow"}[backend]
    manager, client = start_new_kernel(kernel_name=name, env={**os.environ, "KERAS_BACKEND": other})
    printed = []
    try:
        client.execute_interactive(
            "import keras; print(keras.backend.backend())",
            timeout=120,
            output_hook=lambda message: printed.append(message["content"].get("text", "")),
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert "".join(printed).strip() == backend


# --- the interpreter `make` picks (Makefile, check-python) ---

MAKE = shutil.which("make")


def _fake_python(folder, name, version=None):
    """An executable `name` that says `version` and fails as an unsupported Python does, or, with
    no version, fails to run as a pyenv shim of an unselected version does."""
    path = folder / name
    if version:
        path.write_text(f"#!/bin/sh\necho {version}\nexit 1\n")
    else:
        path.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    path.chmod(0o755)
    return path


def _check_python(tmp_path, *args, path=None):
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    env.pop("PYTHON", None)
    venv = tmp_path / "venv"
    done = subprocess.run(
        [MAKE, "-s", "-C", str(ROOT), "check-python", f"VENV={venv}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr, venv


def test_an_unsupported_python_stops_before_venv_with_the_way_to_get_one(tmp_path):
    fake = _fake_python(tmp_path, "python3.14", "3.14")
    code, said, venv = _check_python(tmp_path, f"PYTHON={fake}")
    assert code != 0 and not venv.exists()
    assert f"No supported Python: {fake} is Python 3.14." in said
    assert "3.11, 3.12 or 3.13" in said and "uv python install 3.12" in said


def test_without_python_given_a_shim_that_does_not_run_is_skipped(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir, "python3.12")  # a pyenv shim: exists, does not run
    (bin_dir / "python3.11").symlink_to(sys.executable)  # a supported interpreter
    code, said, _ = _check_python(tmp_path, path=f"{bin_dir}:{Path(MAKE).parent}")
    assert code == 0, said
    assert f"with python3.11 (Python {sys.version_info[0]}.{sys.version_info[1]})" in said


def test_with_no_supported_python_on_the_path_make_says_so(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir, "python3.12")
    _fake_python(bin_dir, "python3", "3.14")
    (bin_dir / "make").symlink_to(MAKE)  # a PATH with no other python3 on it
    code, said, venv = _check_python(tmp_path, path=str(bin_dir))
    assert code != 0 and not venv.exists()
    assert "none of python3.12 python3.11 python3.13 python3 runs and is 3.11-3.13" in said


def test_a_venv_made_by_another_python_is_named_with_the_fix(tmp_path):
    venv_python = tmp_path / "venv" / "bin"
    venv_python.mkdir(parents=True)
    _fake_python(venv_python, "python", "3.14")  # left by an earlier try with Python 3.14
    code, said, _ = _check_python(tmp_path, f"PYTHON={sys.executable}")
    assert code != 0
    assert "venv was made by Python 3.14, not by" in said and "run 'make clean'" in said
