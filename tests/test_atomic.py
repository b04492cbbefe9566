"""Builds are there complete or not at all: interrupted, half-written, stale builds are redone."""

import json

import pytest

from course_lib.formats import atomic


def write_text(text):
    def write(path):
        path.write_text(text)

    return write


def test_a_build_lands_with_its_manifest(tmp_path):
    path = atomic.build(tmp_path / "data.txt", write_text("v1"), {"samples": 10})
    assert path.read_text() == "v1" and not atomic.partial_path(path).exists()
    assert json.loads(atomic.manifest_path(path).read_text()) == {"samples": 10}
    assert atomic.is_built(path, {"samples": 10}) and not atomic.is_built(path, {"samples": 11})


def test_an_interrupted_build_leaves_nothing_and_an_old_build_stays(tmp_path):
    path = tmp_path / "data.txt"

    def crash(partial):
        partial.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.build(path, crash)
    assert not path.exists() and not atomic.partial_path(path).exists()
    assert not atomic.manifest_path(path).exists()
    atomic.build(path, write_text("v1"), {"v": 1})
    with pytest.raises(KeyboardInterrupt):
        atomic.build(path, crash, {"v": 2})
    assert path.read_text() == "v1" and atomic.is_built(path, {"v": 1})


def test_half_written_and_stale_builds_are_redone_matching_ones_reused(tmp_path):
    path = tmp_path / "folder"
    path.mkdir()  # left by an old exists()-checked build: no manifest
    calls = []

    def write(partial):
        calls.append(partial)
        partial.mkdir()
        (partial / "rows").write_text(str(len(calls)))

    atomic.build(path, write, {"rows": 1})
    atomic.build(path, write, {"rows": 1})
    assert len(calls) == 1 and (path / "rows").read_text() == "1"
    atomic.build(path, write, {"rows": 2})
    assert len(calls) == 2 and (path / "rows").read_text() == "2"
    atomic.build(path, write, {"rows": 2}, force=True)
    assert len(calls) == 3
