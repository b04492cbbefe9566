"""The environment: pyproject.toml and environment.yml agree; the kit's JupyterLab settings and
its two kernels are installed."""

import os
import re
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
    assert "python=3.11" in environment["dependencies"]


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
