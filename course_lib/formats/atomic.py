"""Building a data file or folder so that it is there complete, or not at all.

A build that is interrupted (Ctrl-C, a full disk, a crash) must never be
mistaken for a finished one. So everything the kit writes is built under
`<path>.partial`, renamed into place only when complete, and only then given
its manifest, `<path>.manifest.json`, which records what it was built from.
A path without a matching manifest is rebuilt, never used.
"""

import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path


def manifest_path(path: str | Path):
    """Where the manifest of `path` lives: `<path>.manifest.json`.

    Used by the kit, not by a lesson.
    """
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def partial_path(path: str | Path):
    """Where `path` is built before it is renamed into place: `<path>.partial`.

    Used by the kit, not by a lesson.
    """
    path = Path(path)
    return path.with_name(path.name + ".partial")


def remove(path: str | Path):
    """Removes a file or a folder tree, if there is one.

    First used in lesson 12 (capstone).
    """
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def is_built(path: str | Path, fingerprint: dict | None = None):
    """Whether `path` was built completely, from `fingerprint` when one is given.

    Used by the kit, not by a lesson.

    Example:

    >>> is_built("/nonexistent/file.h5")
    False
    """
    path, manifest = Path(path), manifest_path(path)
    if not path.exists() or not manifest.is_file():
        return False
    if fingerprint is None:
        return True
    try:
        return json.loads(manifest.read_text()) == json.loads(json.dumps(fingerprint))
    except ValueError:
        return False


@contextlib.contextmanager
def building(path: str | Path, fingerprint: dict | None = None):
    """Yields a partial path to write into; puts it in place when the block ends.

    Used by the kit, not by a lesson.

    The folder `path` goes in is created when missing. On success the old
    `path` (if any) is replaced and the manifest written. On any error the
    partial build is removed, the old `path` is left as it was, and the error
    goes on.

    Args:
        path: the file or folder to build.
        fingerprint: what it is built from (JSON-serialisable), kept in the
            manifest so that `is_built` can tell a stale build.

    Example:

    ```python
    with building("data/capstone.h5", {"samples": 32768}) as partial:
        write_images(partial)
    ```
    """
    path = Path(path)
    partial = partial_path(path)
    remove(partial)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield partial
    except BaseException:
        remove(partial)
        raise
    manifest_path(path).unlink(missing_ok=True)
    remove(path)
    partial.rename(path)
    manifest_path(path).write_text(json.dumps(fingerprint or {}))


def build(
    path: str | Path,
    write: Callable[[Path], object],
    fingerprint: dict | None = None,
    force: bool = False,
):
    """Builds `path` with `write(partial_path)` unless a complete, matching build exists.

    First used in lesson 01 (in_memory_fit).

    Args:
        path: the file or folder.
        write: a function that writes the whole build at the path it is given.
        fingerprint: what it is built from (see `building`).
        force: rebuild even when a matching build exists.

    Returns:
        `path`, as a `Path`.

    Example:

    ```python
    images = build(workspace / "capstone.h5", write_images, {"samples": 24576})
    ```
    """
    if force or not is_built(path, fingerprint):
        with building(path, fingerprint) as partial:
            write(partial)
    return Path(path)
