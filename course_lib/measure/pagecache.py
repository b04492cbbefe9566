"""The page cache: evicting files from it and measuring how much of them it holds.

Linux keeps recently read file pages in free memory, so the second read of a
file that fits in RAM comes from memory, not from the disk. A dataset bigger
than memory never gets that far: every epoch reads it from the disk. To
measure that case on a small file, drop the file's pages first ("cold"), then
read it.

`evict(path)` asks the kernel to drop a file's clean pages
(`posix_fadvise(..., POSIX_FADV_DONTNEED)`; no root needed, and it touches
only that file). `resident_fraction(path)` says how much of a file is still in
memory (`mincore`, what `fincore` prints). The kernel may refuse to drop a
page, for instance one that is mapped or still dirty, so `evict` checks and
raises `EvictionFailed` instead of letting a warm read pass for a cold one.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import time
from pathlib import Path

import numpy as np

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
RESIDENT_LIMIT = 0.02
"""`evict` accepts at most this share of a file still resident."""
SETTLE_SECONDS = (0.05, 0.1, 0.2, 0.4)
"""`evict`'s waits before it drops a file's pages again (see `evict`)."""


class EvictionFailed(RuntimeError):
    """A file's pages could not be dropped from the page cache.

    Used by the kit, not by a lesson.
    """


def files_of(path: str | Path):
    """The regular files at `path`: the file itself, or every file under a folder.

    Used by the kit, not by a lesson.
    """
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    if not path.is_file():
        raise FileNotFoundError(f"No file or folder at {str(path)[:150]}.")
    return [path]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    )
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    return libc


def resident_bytes(file: str | Path):
    """Returns `(resident, total)` bytes of one file in the page cache.

    Used by the kit, not by a lesson.

    Maps the file without reading it and asks the kernel which of its pages
    are in memory (`mincore(2)`), as `fincore` does.

    Raises:
        OSError: if the file cannot be mapped or the call fails.
    """
    size = os.path.getsize(file)
    if size == 0:
        return 0, 0
    libc = _libc()
    fd = os.open(file, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"mmap failed for {file}")
        try:
            pages = (size + PAGE - 1) // PAGE
            vector = ctypes.create_string_buffer(pages)
            if libc.mincore(address, size, vector) != 0:
                raise OSError(ctypes.get_errno(), f"mincore failed for {file}")
            resident = int((np.frombuffer(vector.raw, np.uint8) & 1).sum())
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)
    return min(resident * PAGE, size), size


def resident_fraction(path: str | Path):
    """The share of a file's (or a folder's files') bytes in the page cache.

    First used in lesson 09 (files_and_records).

    Example:

    ```python
    resident_fraction("data/lesson/course.h5")  # -> 1.0 after a read, ~0.0 after evict
    ```
    """
    resident = total = 0
    for file in files_of(path):
        in_memory, size = resident_bytes(file)
        resident, total = resident + in_memory, total + size
    return resident / total if total else 0.0


def evict(path: str | Path):
    """Drops a file's (or every file under a folder's) pages from the page cache.

    Used by the kit, not by a lesson.

    Dirty pages are written first (`fsync`), since the kernel drops only clean
    ones. Then the residency is measured. Pages being read while they are
    dropped (another reader's, or readahead still in flight: this VM's disk
    reads ahead up to 8 MiB, its `read_ahead_kb`) can land a moment later, so
    a file still cached is dropped again after each of `SETTLE_SECONDS`, and
    one still cached after the last is an error.

    Args:
        path: a file or a folder.

    Returns:
        The share of the bytes still resident after eviction (at most
        `RESIDENT_LIMIT`).

    Raises:
        FileNotFoundError: if nothing is at `path`.
        EvictionFailed: if more than `RESIDENT_LIMIT` of the bytes stay in
            memory (a file system that ignores the request, such as tmpfs,
            or pages another process keeps mapped or locked). A cold figure
            must not be reported then.

    Example:

    ```python
    evict("data/lesson/course.h5")  # -> 0.0; the next read comes from the disk
    ```
    """
    files = files_of(path)
    for wait in (*SETTLE_SECONDS, None):
        _drop(files)
        left = resident_fraction(path)
        if left <= RESIDENT_LIMIT:
            return left
        if wait is not None:
            time.sleep(wait)  # reads still in flight land, then they are dropped too
    raise EvictionFailed(
        f"{str(path)[:150]}: {left:.0%} of its bytes are still in the page cache "
        f"after eviction, so a read now would not be cold. This happens on "
        f"tmpfs (RAM-backed folders such as /dev/shm, often /tmp) and for pages "
        f"another process keeps mapped or reading; put the data on a disk-backed "
        f"folder (COURSE_DATA_DIR) and close other readers."
    )


def _drop(files):
    """Writes each file's dirty pages, then asks the kernel to drop its cached pages."""
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
