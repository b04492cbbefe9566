"""Measuring memory: this process, the system, the GPUs, and what a call costs.

- `rss_mib`, `peak_rss_mib`, `available_mib`: the figures right now;
  `smaps_rollup_mib` and `children_memory`: a process's own memory (USS, PSS).
- `gpu_status`: per GPU, device memory used/total, utilisation, and what
  TensorFlow itself holds; `enable_gpu_memory_growth` stops TensorFlow from
  reserving a whole GPU.
- `peak_increase_mib`, `memory_timeline`, `plot_timelines`: what a call costs.

`monitor` shows these figures live; `child` measures another process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import sys
import tracemalloc
from collections.abc import Callable, Sequence

import psutil
from memory_profiler import memory_usage

from course_lib.scale_out.child import own_memory_mib

_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if ctypes.util.find_library("c") else None


def rss_mib():
    """This process's resident memory (RSS), in MiB.

    Used by the kit, not by a lesson.
    """
    return psutil.Process().memory_info().rss / 2**20


def smaps_rollup_mib(pid: int | str = "self"):
    """A process's RSS, PSS and USS in MiB, from `/proc/PID/smaps_rollup` (Linux 4.14+).

    Used by the kit, not by a lesson.

    USS is the memory only this process holds (`Private_Clean +
    Private_Dirty`): what ending it would free. PSS shares each shared page
    out among the processes that map it. The kernel walks the process's
    page tables to answer, so a read costs milliseconds for a process that
    maps a framework (tens for TensorFlow): read it every so often, not in
    a tight loop.

    Raises:
        OSError: where the kernel has no `smaps_rollup` (not Linux, or
            older), or the process has ended (`FileNotFoundError`).

    Example:

    >>> memory = smaps_rollup_mib()
    >>> memory["uss"] <= memory["pss"] <= memory["rss"]
    True
    """
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0]) / 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "uss": fields["Private_Clean"] + fields["Private_Dirty"],
    }


def children_memory():
    """`smaps_rollup_mib` of each live process this one started, by pid.

    Used by the kit, not by a lesson.

    These are the worker processes of a `PyDataset` with
    `use_multiprocessing=True` (Keras's pool) while an epoch runs, Grain's
    workers, a local tf.data service: any child, at any depth. One that
    ends while it is read is left out.
    """
    memory = {}
    for child in psutil.Process().children(recursive=True):
        try:
            memory[child.pid] = smaps_rollup_mib(child.pid)
        except (FileNotFoundError, ProcessLookupError, KeyError):  # ended, or a zombie
            pass
    return memory


def release_free_memory():
    """Collects garbage and hands freed heap memory back to the OS.

    Used by the kit, not by a lesson.

    glibc keeps freed blocks for reuse, so without this a new allocation can
    fit in memory that RSS already counts, and measure as zero.
    """
    gc.collect()
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def peak_increase_mib(fn: Callable, *args, interval: float = 0.002, repeat: int = 3, **kwargs):
    """Measures how far `fn(*args, **kwargs)` raises this process's RSS, in MiB.

    First used in lesson 01 (in_memory_fit).

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

    ```python
    import numpy as np
    round(peak_increase_mib(lambda: np.ones(2**26, np.uint8).sum()))  # -> 64
    ```
    """
    increases = []
    for _ in range(repeat):
        release_free_memory()
        baseline = rss_mib()
        peak = memory_usage((fn, args, kwargs), interval=interval, max_usage=True)
        increases.append(peak - baseline)
    return max(max(increases), 0.0)


def traced_peak_mib(fn: Callable, *args, **kwargs) -> float:
    """The peak of what `fn(*args, **kwargs)` allocates through Python and NumPy, in MiB.

    First used in lesson 01 (in_memory_fit).

    `tracemalloc` counts every allocation exactly (NumPy reports its array
    buffers to it), so unlike RSS the figure depends neither on the allocator
    nor on sampling; memory allocated by C libraries on their own (TensorFlow,
    HDF5) is not counted. The result of `fn` counts while it is returned,
    then is dropped.

    Example:

    >>> import numpy as np
    >>> round(traced_peak_mib(lambda: np.ones(2**20, np.uint8)))
    1
    """
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn(*args, **kwargs)
        return (tracemalloc.get_traced_memory()[1] - before) / 2**20
    finally:
        if not was_tracing:
            tracemalloc.stop()


# --- what the machine has right now ------------------------------------------


def peak_rss_mib():
    """This process's peak resident memory since it started, in MiB.

    Used by the kit, not by a lesson.

    Linux: its own `VmHWM`. Not `ru_maxrss`, which Linux carries across
    `exec`, so a notebook kernel started by a big server would show the
    server's peak. Elsewhere, `ru_maxrss` (bytes on macOS).
    """
    own = own_memory_mib("VmHWM")
    if own:
        return own
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def available_mib():
    """Memory the system can still give to programs without swapping, in MiB.

    Used by the kit, not by a lesson.
    """
    return psutil.virtual_memory().available / 2**20


def _nvml_gpus():
    """Device memory and utilisation from the NVIDIA driver, or `[]` without one."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no package, no driver, or no NVIDIA GPU
        return []
    gpus = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        name = pynvml.nvmlDeviceGetName(handle)
        gpus.append(
            {
                "index": index,
                "name": name.decode() if isinstance(name, bytes) else name,
                "used_mib": memory.used / 2**20,
                "total_mib": memory.total / 2**20,
                "utilisation": pynvml.nvmlDeviceGetUtilizationRates(handle).gpu,
            }
        )
    return gpus


def _tensorflow_gpu_mib():
    """`{gpu index: (current, peak) MiB}` that TensorFlow itself allocated.

    Asks only when TensorFlow is already imported and has started its
    runtime, so that looking never initialises a GPU (which would make
    `enable_gpu_memory_growth` too late).
    """
    if "tensorflow" not in sys.modules:
        return {}
    import tensorflow as tf
    from tensorflow.python.eager import context

    if not getattr(context.context(), "_initialized", False):
        return {}
    usage = {}
    for index, _ in enumerate(tf.config.list_physical_devices("GPU")):
        info = tf.config.experimental.get_memory_info(f"GPU:{index}")
        usage[index] = (info["current"] / 2**20, info["peak"] / 2**20)
    return usage


def gpu_status():
    """What the GPUs are doing, merged from the NVIDIA driver and TensorFlow.

    Used by the kit, not by a lesson.

    Returns:
        `(gpus, note)`: a list of dicts (`index`, `name`, `used_mib`,
        `total_mib`, `utilisation` in %, and `tf_current_mib` /
        `tf_peak_mib` once TensorFlow has started), and a sentence for
        the panel when there is no GPU to show.
    """
    gpus = _nvml_gpus()
    tensorflow = _tensorflow_gpu_mib()
    for gpu in gpus:
        current, peak = tensorflow.get(gpu["index"], (None, None))
        gpu.update(tf_current_mib=current, tf_peak_mib=peak)
    if not gpus and tensorflow:  # a GPU without NVML (another vendor, or no nvidia-ml-py)
        gpus = [
            {
                "index": i,
                "name": f"GPU:{i}",
                "used_mib": None,
                "total_mib": None,
                "utilisation": None,
                "tf_current_mib": c,
                "tf_peak_mib": p,
            }
            for i, (c, p) in tensorflow.items()
        ]
    note = (
        None
        if gpus
        else (
            "No GPU: no NVIDIA driver answered and TensorFlow has none, so training runs "
            "on the CPU."
        )
    )
    return gpus, note


def enable_gpu_memory_growth():
    """Lets TensorFlow take GPU memory as it needs it instead of all at once.

    First used in lesson 00 (setup_and_data).

    By default TensorFlow reserves nearly all the memory of every GPU it sees
    when it first uses one, so that its own allocator never waits for the
    driver. That is fast, but the GPU then looks full to other programs (and
    to you). Memory growth makes it allocate as needed; it must be set before
    anything runs on the GPU.

    Returns:
        The physical GPUs it was set for (an empty list on a CPU-only machine).

    Raises:
        RuntimeError: when TensorFlow has already initialised the GPUs; call
            it in the Setup cell, before building a model, or restart the kernel.

    Example:

    >>> enable_gpu_memory_growth()
    []
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as error:
            raise RuntimeError(
                "TensorFlow has already initialised the GPU, so memory growth can no "
                "longer be set. Call enable_gpu_memory_growth() in the Setup cell, before "
                "building any model, or restart the kernel."
            ) from error
    return gpus


# --- memory over time ------------------------------------------------------------


class Timeline:
    """Memory samples of one call: `seconds` since it started, `mib` (RSS), its `value`.

    Used by the kit, not by a lesson.
    """

    def __init__(self, seconds: Sequence[float], mib: Sequence[float], value: object):
        self.seconds, self.mib, self.value = seconds, mib, value

    @property
    def peak_increase_mib(self):
        """The highest RSS during the call minus the RSS when it started."""
        return max(self.mib) - self.mib[0]


def memory_timeline(fn: Callable, *args, interval: float = 0.05, **kwargs):
    """Runs `fn(*args, **kwargs)` and samples this process's RSS while it runs.

    First used in lesson 01 (in_memory_fit).

    Uses memory-profiler's `memory_usage` with timestamps.

    Returns:
        A `Timeline`.

    Example:

    ```python
    timeline = memory_timeline(lambda: np.ones(10**8, np.uint8).sum())
    round(timeline.peak_increase_mib, -1)  # -> 100.0
    ```
    """
    release_free_memory()
    samples, value = memory_usage(
        (fn, args, kwargs), interval=interval, timestamps=True, retval=True
    )
    start = samples[0][1]
    return Timeline([t - start for _, t in samples], [m for m, _ in samples], value)


def plot_timelines(
    timelines: dict[str, Timeline], axis: object | None = None, relative: bool = True
):
    """Plots several `Timeline`s on one chart, e.g. `{"in memory": a, "streaming": b}`.

    First used in lesson 01 (in_memory_fit).

    Args:
        timelines: dict from a label to a `Timeline`.
        axis: a matplotlib axis (default: a new figure).
        relative: plot each RSS minus its value at the start of its call.

    Returns:
        The axis.
    """
    import matplotlib.pyplot as plt

    if axis is None:
        _, axis = plt.subplots(figsize=(7, 3.5))
    for label, timeline in timelines.items():
        base = timeline.mib[0] if relative else 0
        axis.plot(
            timeline.seconds,
            [m - base for m in timeline.mib],
            label=f"{label} (peak +{timeline.peak_increase_mib:,.0f} MiB)",
        )
    axis.set(
        xlabel="seconds since the call started",
        ylabel="RSS increase (MiB)" if relative else "RSS (MiB)",
    )
    axis.legend()
    return axis
