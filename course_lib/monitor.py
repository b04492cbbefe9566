"""Seeing memory: measurements, a live resource panel, and memory timelines.

- `peak_increase_mib`, `memory_timeline`, `plot_timelines`: what a call costs.
- `ResourcePanel`: an ipywidgets panel of process, system and GPU memory,
  refreshed by a Keras callback or a background thread.
- `enable_gpu_memory_growth`: stop TensorFlow from reserving a whole GPU.
"""

import collections
import ctypes
import ctypes.util
import gc
import resource
import sys
import threading
import time

import keras
import psutil
from memory_profiler import memory_usage

from course_lib.child import own_memory_mib

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


# --- what the machine has right now ------------------------------------------


def peak_rss_mib():
    """This process's peak resident memory since it started, in MiB.

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
    """Memory the system can still give to programs without swapping, in MiB."""
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
        gpus.append({
            "index": index,
            "name": name.decode() if isinstance(name, bytes) else name,
            "used_mib": memory.used / 2**20,
            "total_mib": memory.total / 2**20,
            "utilisation": pynvml.nvmlDeviceGetUtilizationRates(handle).gpu,
        })
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
        gpus = [{"index": i, "name": f"GPU:{i}", "used_mib": None, "total_mib": None,
                 "utilisation": None, "tf_current_mib": c, "tf_peak_mib": p}
                for i, (c, p) in tensorflow.items()]
    note = None if gpus else (
        "No GPU: no NVIDIA driver answered and TensorFlow has none, so training runs "
        "on the CPU.")
    return gpus, note


def enable_gpu_memory_growth():
    """Lets TensorFlow take GPU memory as it needs it instead of all at once.

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
                "building any model, or restart the kernel.") from error
    return gpus


# --- the live panel ------------------------------------------------------------


class ResourcePanel:
    """A live panel of this process's memory, the system's, and the GPUs'.

    Shows RSS now and at its peak, the memory the system still has available,
    and per GPU the device memory used/total, utilisation and what TensorFlow
    itself holds; without a GPU it says so. Below the figures, a chart of the
    last minute: process RSS and, with a GPU, GPU memory, drawn large enough
    to read on a projector. Display it in a notebook cell,
    then keep it fresh while code runs, either with `callback()` during
    `fit`/`evaluate`/`predict`, or with `start()` (a background thread) for
    any other code.

    Args:
        title: the heading shown above the figures.

    Example:

    ```python
    panel = ResourcePanel()
    panel  # in a notebook cell: shows the panel
    model.fit(train, epochs=2, callbacks=[panel.callback()])
    ```
    """

    def __init__(self, title="Resources"):
        import ipywidgets

        self.title = title
        self.widget = ipywidgets.HTML()
        self.updates = 0
        self.latest = None
        self.history = collections.deque()  # (time, RSS MiB, GPU MiB or None), last minute
        self._thread, self._stop = None, threading.Event()
        self._lock = threading.Lock()
        self.update()

    def snapshot(self):
        """The current figures, as a dict (also what `update` shows)."""
        gpus, note = gpu_status()
        return {"rss_mib": rss_mib(), "peak_rss_mib": peak_rss_mib(),
                "available_mib": available_mib(), "gpus": gpus, "note": note}

    def update(self):
        """Reads the figures and redraws the panel; returns the snapshot."""
        snapshot = self.snapshot()
        now = time.monotonic()
        gpu = (sum(g["used_mib"] if g["used_mib"] is not None else g["tf_current_mib"] or 0
                   for g in snapshot["gpus"]) if snapshot["gpus"] else None)
        with self._lock:
            self.updates += 1
            self.latest = snapshot
            self.history.append((now, snapshot["rss_mib"], gpu))
            while now - self.history[0][0] > CHART_SECONDS:
                self.history.popleft()
            self.widget.value = (_panel_html(self.title, snapshot, self.updates)
                                 + memory_chart_svg(self.history, now))
        return snapshot

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def running(self):
        """Whether the background thread is refreshing the panel."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval=0.5):
        """Refreshes the panel every `interval` seconds from a background thread.

        Calling it while running changes nothing: there is never more than
        one thread per panel.
        """
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, args=(interval,),
                                            name="resource-panel", daemon=True)
            self._thread.start()
        return self

    def _loop(self, interval):
        while not self._stop.wait(interval):
            self.update()

    def stop(self):
        """Stops the background thread (if any) and shows the final figures."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.update()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def callback(self, min_interval=0.5):
        """A Keras callback that refreshes the panel at most every `min_interval` s."""
        return PanelCallback(self, min_interval)


class PanelCallback(keras.callbacks.Callback):
    """Refreshes a `ResourcePanel` during `fit`, `evaluate` and `predict`.

    It looks at the clock after every batch and redraws only when
    `min_interval` seconds have passed, so its cost stays far below a batch.

    Args:
        panel: the `ResourcePanel` to refresh.
        min_interval: seconds between two refreshes.
    """

    def __init__(self, panel, min_interval=0.5):
        super().__init__()
        self.panel, self.min_interval = panel, float(min_interval)
        self._last = 0.0

    def _maybe_update(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last >= self.min_interval:
            self._last = now
            self.panel.update()

    on_train_batch_end = on_test_batch_end = on_predict_batch_end = _maybe_update

    def _update_now(self, *args, **kwargs):
        self._last = time.monotonic()
        self.panel.update()

    on_epoch_end = on_train_end = on_test_end = on_predict_end = _update_now


def _panel_html(title, snapshot, updates):
    """The panel's HTML; every figure sits in a span whose class names it."""

    def figure(name, value, unit="MiB"):
        shown = "-" if value is None else f"{value:,.0f}"
        return f'<span class="{name}">{shown}</span> {unit}'

    rows = [
        ("process memory (RSS)", figure("rss", snapshot["rss_mib"])),
        ("process peak", figure("peak-rss", snapshot["peak_rss_mib"])),
        ("system available", figure("available", snapshot["available_mib"])),
    ]
    for gpu in snapshot["gpus"]:
        used = (f'{figure("gpu-used", gpu["used_mib"])} of {figure("gpu-total", gpu["total_mib"])}'
                f', {figure("gpu-utilisation", gpu["utilisation"], "%")} busy')
        rows.append((f'GPU {gpu["index"]} ({gpu["name"]})', used))
        rows.append((f'GPU {gpu["index"]}, held by TensorFlow',
                     f'{figure("gpu-tf", gpu["tf_current_mib"])} '
                     f'(peak {figure("gpu-tf-peak", gpu["tf_peak_mib"])})'))
    cells = "".join(f"<tr><td>{label}</td><td style='text-align:right'>{value}</td></tr>"
                    for label, value in rows)
    note = f'<div class="gpu-note">{snapshot["note"]}</div>' if snapshot["note"] else ""
    return (f'<div class="course-resource-panel"><b>{title}</b>'
            f"<table>{cells}</table>{note}"
            f'<small>update <span class="updates">{updates}</span></small></div>')


CHART_SECONDS = 60
"""How much history the panel's chart shows."""


def memory_chart_svg(history, now, width=420, height=120):
    """An inline SVG chart of memory over the last `CHART_SECONDS` seconds.

    Args:
        history: `(time, rss_mib, gpu_mib or None)` samples, oldest first.
        now: the time of the right edge (same clock as `history`).
        width, height: the plot area in pixels.

    Returns:
        The SVG as a string: a thick line for process RSS, another for GPU
        memory when the samples have it, the top of the scale and a legend.
        Empty with fewer than two samples.
    """
    if len(history) < 2:
        return ""
    top = max(max(rss, gpu or 0) for _, rss, gpu in history) * 1.15 or 1

    def line(values, colour, name):
        points = " ".join(
            f"{width * (1 - (now - t) / CHART_SECONDS):.1f},{height * (1 - v / top):.1f}"
            for t, v in values)
        return (f'<polyline class="{name}" points="{points}" fill="none" stroke="{colour}" '
                f'stroke-width="3" stroke-linejoin="round"/>')

    rss = line([(t, r) for t, r, _ in history], "#1f77b4", "rss-line")
    gpu = [(t, g) for t, _, g in history if g is not None]
    gpu_line = line(gpu, "#ff7f0e", "gpu-line") if gpu else ""
    legend = ('<tspan fill="#1f77b4">process RSS</tspan>'
              + ('<tspan dx="16" fill="#ff7f0e">GPU memory</tspan>' if gpu else ""))
    return (f'<svg class="memory-chart" width="{width}" height="{height + 44}" '
            f'viewBox="0 -22 {width} {height + 44}" style="font: bold 15px sans-serif">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f7f7f7"/>'
            f'{rss}{gpu_line}'
            f'<text x="4" y="-6">{top:,.0f} MiB</text>'
            f'<text x="4" y="{height + 18}">-{CHART_SECONDS} s</text>'
            f'<text x="{width - 4}" y="{height + 18}" text-anchor="end">now</text>'
            f'<text x="{width // 2}" y="{height + 18}" text-anchor="middle">{legend}</text>'
            f'</svg>')


# --- memory over time ------------------------------------------------------------


class Timeline:
    """Memory samples of one call: `seconds` since it started, `mib` (RSS), its `value`."""

    def __init__(self, seconds, mib, value):
        self.seconds, self.mib, self.value = seconds, mib, value

    @property
    def peak_increase_mib(self):
        """The highest RSS during the call minus the RSS when it started."""
        return max(self.mib) - self.mib[0]


def memory_timeline(fn, *args, interval=0.05, **kwargs):
    """Runs `fn(*args, **kwargs)` and samples this process's RSS while it runs.

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
    samples, value = memory_usage((fn, args, kwargs), interval=interval, timestamps=True,
                                  retval=True)
    start = samples[0][1]
    return Timeline([t - start for _, t in samples], [m for m, _ in samples], value)


def plot_timelines(timelines, axis=None, relative=True):
    """Plots several `Timeline`s on one chart, e.g. `{"in memory": a, "streaming": b}`.

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
        axis.plot(timeline.seconds, [m - base for m in timeline.mib],
                  label=f"{label} (peak +{timeline.peak_increase_mib:,.0f} MiB)")
    axis.set(xlabel="seconds since the call started",
             ylabel="RSS increase (MiB)" if relative else "RSS (MiB)")
    axis.legend()
    return axis
