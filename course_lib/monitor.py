"""Measuring the memory a piece of code uses."""

import ctypes
import ctypes.util
import gc

import psutil
from memory_profiler import memory_usage

_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if ctypes.util.find_library("c") else None


def rss_mib():
    """This process's resident memory (RSS), in MiB."""
    return psutil.Process().memory_info().rss / 2**20


def release_free_memory():
    """Collects garbage and hands freed heap memory back to the OS.

    glibc keeps freed blocks for reuse, so without this a new allocation can
    fit in memory that RSS already counts, and measure as zero.
    """
    gc.collect()
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def peak_increase_mib(fn, *args, interval=0.002, repeat=3, **kwargs):
    """Measures how far `fn(*args, **kwargs)` raises this process's RSS, in MiB.

    Uses memory-profiler's `memory_usage`, which samples RSS from a helper
    process while `fn` runs. memory-profiler calls a function again when it
    ran too briefly to be sampled, so `fn` should be repeatable and should not
    return large objects (one left alive from a previous call would count).

    Args:
        fn: the function to measure.
        *args: its positional arguments.
        interval: sampling interval in seconds.
        repeat: measure this many times and keep the largest, since a peak
            shorter than the sampling interval can be missed.
        **kwargs: its keyword arguments.

    Returns:
        The peak RSS during the call minus the RSS just before it, in MiB.

    Example:

    >>> import numpy as np
    >>> round(peak_increase_mib(lambda: np.ones(2**26, np.uint8).sum()))
    64
    """
    increases = []
    for _ in range(repeat):
        release_free_memory()
        baseline = rss_mib()
        peak = memory_usage((fn, args, kwargs), interval=interval, max_usage=True)
        increases.append(peak - baseline)
    return max(max(increases), 0.0)
