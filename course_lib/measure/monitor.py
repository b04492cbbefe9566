"""Seeing memory live: a resource panel that people look at, not read.

`ResourcePanel` is an ipywidgets panel of process, system and GPU memory (the
figures from `memory`), with a chart of the last minute, refreshed by a Keras
callback during `fit` or by a background thread for any other code.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence

import keras

from course_lib.measure import memory

# --- the live panel ------------------------------------------------------------


class ResourcePanel:
    """A live panel of this process's memory, the system's, and the GPUs'.

    First used in lesson 00 (setup_and_data).

    Shows RSS now and at its peak, the memory the system still has available,
    and per GPU the device memory used/total, utilisation and what TensorFlow
    itself holds; without a GPU it says so. With `workers=True` it also lists
    each process this one started (a `PyDataset`'s worker processes while an
    epoch runs) with its own memory, USS, and its PSS: RSS would count the
    pages it shares with this process as if they were its own (lesson 04).
    Below the figures, a chart of the last minute: process RSS and, with a
    GPU, GPU memory, drawn large enough to read on a projector. Display it
    in a notebook cell, then keep it fresh while code runs, either with
    `callback()` during `fit`/`evaluate`/`predict`, or with `start()` (a
    background thread) for any other code.

    Args:
        title: the heading shown above the figures.
        workers: also show the child processes' memory. Off by default:
            reading a process's USS costs milliseconds (`memory.smaps_rollup_mib`).

    Attributes:
        workers_seen: `{pid: largest USS in MiB}` of every child process an
            update has seen (with `workers=True`), to read after a `fit`.

    Example:

    ```python
    panel = ResourcePanel(workers=True)
    panel  # in a notebook cell: shows the panel
    model.fit(train, epochs=2, callbacks=[panel.callback()])
    ```
    """

    def __init__(self, title: str = "Resources", workers: bool = False):
        import ipywidgets

        self.title, self.workers = title, workers
        self.workers_seen = {}
        self.widget = ipywidgets.HTML()
        self.updates = 0
        self.latest = None
        self.history = collections.deque()  # (time, RSS MiB, GPU MiB or None), last minute
        self._thread, self._stop = None, threading.Event()
        self._lock = threading.Lock()
        self.update()

    def snapshot(self):
        """The current figures, as a dict (also what `update` shows)."""
        gpus, note = memory.gpu_status()
        return {
            "rss_mib": memory.rss_mib(),
            "peak_rss_mib": memory.peak_rss_mib(),
            "available_mib": memory.available_mib(),
            "gpus": gpus,
            "note": note,
            "workers": memory.children_memory() if self.workers else {},
        }

    def update(self):
        """Reads the figures and redraws the panel; returns the snapshot."""
        snapshot = self.snapshot()
        now = time.monotonic()
        gpu = (
            sum(
                g["used_mib"] if g["used_mib"] is not None else g["tf_current_mib"] or 0
                for g in snapshot["gpus"]
            )
            if snapshot["gpus"]
            else None
        )
        with self._lock:
            self.updates += 1
            self.latest = snapshot
            for pid, own in snapshot["workers"].items():
                self.workers_seen[pid] = max(own["uss"], self.workers_seen.get(pid, 0.0))
            self.history.append((now, snapshot["rss_mib"], gpu))
            while now - self.history[0][0] > CHART_SECONDS:
                self.history.popleft()
            self.widget.value = _panel_html(self.title, snapshot, self.updates) + memory_chart_svg(
                self.history, now
            )
        return snapshot

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def running(self):
        """Whether the background thread is refreshing the panel."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval: float = 0.5):
        """Refreshes the panel every `interval` seconds from a background thread.

        Calling it while running changes nothing: there is never more than
        one thread per panel.
        """
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, args=(interval,), name="resource-panel", daemon=True
            )
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

    def callback(self, min_interval: float = 0.5):
        """A Keras callback that refreshes the panel at most every `min_interval` s."""
        return PanelCallback(self, min_interval)


class PanelCallback(keras.callbacks.Callback):
    """Refreshes a `ResourcePanel` during `fit`, `evaluate` and `predict`.

    Used by the kit, not by a lesson.

    It looks at the clock after every batch and redraws only when
    `min_interval` seconds have passed, so its cost stays far below a batch.

    Args:
        panel: the `ResourcePanel` to refresh.
        min_interval: seconds between two refreshes.
    """

    def __init__(self, panel: ResourcePanel, min_interval: float = 0.5):
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
        used = (
            f"{figure('gpu-used', gpu['used_mib'])} of {figure('gpu-total', gpu['total_mib'])}"
            f", {figure('gpu-utilisation', gpu['utilisation'], '%')} busy"
        )
        rows.append((f"GPU {gpu['index']} ({gpu['name']})", used))
        rows.append(
            (
                f"GPU {gpu['index']}, held by TensorFlow",
                f"{figure('gpu-tf', gpu['tf_current_mib'])} "
                f"(peak {figure('gpu-tf-peak', gpu['tf_peak_mib'])})",
            )
        )
    for pid, own in snapshot["workers"].items():
        rows.append(
            (
                f"worker process {pid}, own (USS)",
                f"{figure('worker-uss', own['uss'])} (PSS {figure('worker-pss', own['pss'])})",
            )
        )
    cells = "".join(
        f"<tr><td>{label}</td><td style='text-align:right'>{value}</td></tr>"
        for label, value in rows
    )
    note = f'<div class="gpu-note">{snapshot["note"]}</div>' if snapshot["note"] else ""
    return (
        f'<div class="course-resource-panel"><b>{title}</b>'
        f"<table>{cells}</table>{note}"
        f'<small>update <span class="updates">{updates}</span></small></div>'
    )


CHART_SECONDS = 60
"""How much history the panel's chart shows."""


def memory_chart_svg(
    history: Sequence[tuple[float, float, float | None]],
    now: float,
    width: int = 420,
    height: int = 120,
):
    """An inline SVG chart of memory over the last `CHART_SECONDS` seconds.

    Used by the kit, not by a lesson.

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
            for t, v in values
        )
        return (
            f'<polyline class="{name}" points="{points}" fill="none" stroke="{colour}" '
            f'stroke-width="3" stroke-linejoin="round"/>'
        )

    rss = line([(t, r) for t, r, _ in history], "#1f77b4", "rss-line")
    gpu = [(t, g) for t, _, g in history if g is not None]
    gpu_line = line(gpu, "#ff7f0e", "gpu-line") if gpu else ""
    legend = '<tspan fill="#1f77b4">process RSS</tspan>' + (
        '<tspan dx="16" fill="#ff7f0e">GPU memory</tspan>' if gpu else ""
    )
    return (
        f'<svg class="memory-chart" width="{width}" height="{height + 44}" '
        f'viewBox="0 -22 {width} {height + 44}" style="font: bold 15px sans-serif">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f7f7f7"/>'
        f"{rss}{gpu_line}"
        f'<text x="4" y="-6">{top:,.0f} MiB</text>'
        f'<text x="4" y="{height + 18}">-{CHART_SECONDS} s</text>'
        f'<text x="{width - 4}" y="{height + 18}" text-anchor="end">now</text>'
        f'<text x="{width // 2}" y="{height + 18}" text-anchor="middle">{legend}</text>'
        f"</svg>"
    )
