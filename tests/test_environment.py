"""pyproject.toml and environment.yml must list the same requirements."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(map(_normalise, project["dependencies"]
                      + project["optional-dependencies"]["dev"]))
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(pip_lists) == 1, "environment.yml needs one pip: section"
    listed = dict(map(_normalise, pip_lists[0]))
    missing = {n: s for n, s in wanted.items() if n not in listed}
    extra = {n: s for n, s in listed.items() if n not in wanted}
    different = {n: (wanted[n], listed[n]) for n in wanted.keys() & listed.keys()
                 if wanted[n] != listed[n]}
    assert not (missing or extra or different), (
        f"environment.yml disagrees with pyproject.toml: missing {missing}, "
        f"extra {extra}, different ranges {different}")
    assert "python=3.11" in environment["dependencies"]
