"""The resource panel, its callback and thread, timelines, and the GPU paths (faked)."""

import multiprocessing
import os
import threading
import time
import types

import keras
import matplotlib
import numpy as np
import pytest

from course_lib.measure import memory, monitor

# Runs on both backends: the live panel reads the backend's devices and a fit's worker processes.
pytestmark = pytest.mark.backend

matplotlib.use("Agg")


def test_panel_shows_memory_and_updates():
    panel = monitor.ResourcePanel()
    first = panel.latest
    block = np.ones(200 * 2**20, np.uint8)  # 200 MiB, touched
    second = panel.update()
    assert panel.updates == 2
    assert second["rss_mib"] - first["rss_mib"] > 150
    assert second["peak_rss_mib"] >= second["rss_mib"] - 1 and second["available_mib"] > 0
    assert f'class="rss">{second["rss_mib"]:,.0f}<' in panel.widget.value
    del block


def test_without_a_gpu_the_panel_says_so(monkeypatch):
    monkeypatch.setattr(memory, "_nvml_gpus", lambda: [])
    monkeypatch.setattr(memory, "_tensorflow_gpu_mib", lambda: {})
    panel = monitor.ResourcePanel()
    assert "No GPU" in panel.widget.value and "gpu-used" not in panel.widget.value


def test_gpu_figures_from_the_driver_and_tensorflow(monkeypatch):
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=lambda h: b"Fake H100",
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=3 * 2**30, total=80 * 2**30),
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=57),
    )
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
    monkeypatch.setattr(memory, "_tensorflow_gpu_mib", lambda: {0: (1024.0, 2048.0)})
    gpus, note = memory.gpu_status()
    assert note is None and gpus[0]["name"] == "Fake H100"
    assert gpus[0]["used_mib"] == 3072 and gpus[0]["total_mib"] == 81920
    html = monitor.ResourcePanel().widget.value
    for text in (
        "Fake H100",
        'class="gpu-used">3,072<',
        'class="gpu-total">81,920<',
        'class="gpu-utilisation">57<',
        'class="gpu-tf">1,024<',
        'class="gpu-tf-peak">2,048<',
    ):
        assert text in html


def _hold_own_memory(mib, ready, done):
    block = np.ones(mib * 2**20, np.uint8)  # written: pages of its own, not shared
    ready.set()
    done.wait(60)
    del block


def test_panel_shows_a_worker_process_by_its_own_memory_not_its_rss():
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    shared = np.ones(150 * 2**20, np.uint8)  # the parent's: the child's RSS maps it too
    child = ctx.Process(target=_hold_own_memory, args=(100, ready, done))
    child.start()
    try:
        assert ready.wait(30)
        shared[::4096].sum()  # the child reads the shared block: RSS grows, USS does not
        plain, panel = monitor.ResourcePanel(), monitor.ResourcePanel(workers=True)
        own = panel.latest["workers"][child.pid]
        assert 95 < own["uss"] < 130 and own["uss"] <= own["pss"] <= own["rss"]
        assert panel.workers_seen[child.pid] == own["uss"]
        assert f'class="worker-uss">{own["uss"]:,.0f}<' in panel.widget.value
        assert plain.latest["workers"] == {} and "worker-uss" not in plain.widget.value
    finally:
        done.set()
        child.join(30)
    del shared


class _SlowBatches(keras.utils.PyDataset):
    def __len__(self):
        return 12

    def __getitem__(self, index):
        time.sleep(0.05)
        return np.zeros((8, 4), "float32"), np.zeros((8, 2), "float32")


def test_panel_lists_the_worker_processes_of_a_fit():
    panel = monitor.ResourcePanel(workers=True)
    shown = []

    class Look(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            shown.append(panel.widget.value.count('class="worker-uss"'))

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    loader = _SlowBatches(workers=2, use_multiprocessing=True)
    before = set(memory.children_memory())  # children other tests may have left running
    model.fit(loader, epochs=1, verbose=0, callbacks=[panel.callback(0.0), Look()])
    pool = set(panel.workers_seen) - before
    assert max(shown) >= 2 and len(pool) >= 2  # both pool workers, each in its own row
    assert os.getpid() not in panel.workers_seen
    assert all(0 < uss < memory.rss_mib() for uss in panel.workers_seen.values())


def _panel_threads():
    return [t for t in threading.enumerate() if t.name == "resource-panel"]


def test_thread_mode_starts_once_and_stops_cleanly():
    before = len(_panel_threads())
    panel = monitor.ResourcePanel()
    for _ in range(3):
        panel.start(interval=0.01)
        panel.start(interval=0.01)  # twice: still one thread
        assert panel.running and len(_panel_threads()) == before + 1
        count = panel.updates
        threading.Event().wait(0.1)
        assert panel.updates > count
        panel.stop()
        panel.stop()  # twice: harmless
        assert not panel.running and len(_panel_threads()) == before
    with monitor.ResourcePanel() as other:
        assert other.running
    assert not other.running and len(_panel_threads()) == before


@pytest.mark.parametrize("min_interval, expect_every_batch", [(0.0, True), (60.0, False)])
def test_callback_is_throttled_by_time(min_interval, expect_every_batch):
    panel = monitor.ResourcePanel()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((640, 4)), np.zeros((640, 2))
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[panel.callback(min_interval)])
    batches = 2 * 64
    if expect_every_batch:
        assert panel.updates >= batches
    else:  # one update at the first batch, then only at epoch and training ends
        assert panel.updates <= 1 + 1 + 2 + 1
    assert not _panel_threads() or all(t.daemon for t in _panel_threads())


def test_memory_timeline_and_plot():
    timeline = memory.memory_timeline(lambda: np.ones(150 * 2**20, np.uint8).sum(), interval=0.01)
    assert timeline.value == 150 * 2**20
    assert 100 < timeline.peak_increase_mib < 300
    assert timeline.seconds[0] == 0 and timeline.seconds == sorted(timeline.seconds)
    axis = memory.plot_timelines({"ones": timeline})
    assert "peak +" in axis.get_legend().get_texts()[0].get_text()


def test_memory_growth_on_a_cpu_only_machine():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU; the CPU-only path is what is tested here")
    assert memory.enable_gpu_memory_growth() == []


def test_the_panel_charts_the_last_minute(monkeypatch):
    panel = monitor.ResourcePanel()
    assert "memory-chart" not in panel.widget.value  # one sample: nothing to draw yet
    for _ in range(4):
        panel.update()
    html = panel.widget.value
    assert 'class="rss-line"' in html and 'class="gpu-line"' not in html
    points = html.split('class="rss-line" points="')[1].split('"')[0].split()
    assert len(points) == 5 and all(0 <= float(p.split(",")[1]) <= 120 for p in points)
    assert 'class="rss"' in html  # the numbers stay
    old = time.monotonic() - 2 * monitor.CHART_SECONDS
    panel.history.appendleft((old, 1.0, None))
    panel.update()
    assert all(time.monotonic() - t <= monitor.CHART_SECONDS for t, _, _ in panel.history)
    svg = monitor.memory_chart_svg([(0, 100, 50), (30, 200, 80), (60, 150, 120)], now=60)
    assert 'class="gpu-line"' in svg and "GPU memory" in svg and "230 MiB" in svg
