"""The real thing: JupyterLab in headless Chromium runs lesson 00 and the panel moves.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
Without them the test is skipped with the reason, unless
`COURSE_REQUIRE_BROWSER=1` (set by `.ci/run`) turns the skip into a failure.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "output"
NOTEBOOK = "00_setup_and_data.ipynb"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(browser_tools, data_root, tmp_path):
    """A JupyterLab server on 127.0.0.1 with a token, serving a copy of lesson 00."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, folder / NOTEBOOK)  # autosave must not touch git
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "COURSE_PROFILE": "ci",
        "COURSE_DATA_DIR": str(data_root),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--allow-root",
    ]
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                    json.load(reply)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer; see {tmp_path / 'lab.log'}")
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


NOTEBOOK_JS = "const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
KERNEL_IDLE = (
    NOTEBOOK_JS
    + """
return !!(nb && nb.sessionContext && nb.sessionContext.session &&
          nb.sessionContext.session.kernel &&
          nb.sessionContext.session.kernel.status === 'idle' && nb.content);"""
)
STATE = (
    NOTEBOOK_JS
    + """
const cells = nb.content.widgets.filter(c => c.model.type === 'code');
const training = cells.findIndex(c => c.model.sharedModel.getSource().includes('panel.callback'));
// The model says whether a cell runs (or waits to): a cell scrolled out of view may have no
// prompt in the page, so the prompt's "[*]" is only a fallback.
const prompt = c => (c.node.querySelector('.jp-InputPrompt') || {}).textContent || '';
const running = c => c.model.executionState === 'running' || prompt(c).includes('*');
const errors = cells.filter(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
const figure = name => {
  const span = document.querySelector('.course-resource-panel .' + name);
  return span ? span.textContent : null;
};
return {updates: figure('updates'), rss: figure('rss'), any_running: cells.some(running),
        training_running: training >= 0 && running(cells[training]) &&
                          cells.slice(0, training).every(c => c.model.executionCount !== null),
        done: cells.every(c => c.model.executionCount !== null) && !cells.some(running) &&
              nb.sessionContext.session.kernel.status === 'idle',
        errors: errors.map(c => c.model.sharedModel.getSource().slice(0, 80))};"""
)


def test_lesson_00_runs_in_jupyterlab_and_the_panel_updates_while_training(lab, chromium):
    url, token = lab
    started = time.perf_counter()
    chromium.get(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
    deadline = time.time() + 180
    while not chromium.execute_script(KERNEL_IDLE):
        assert time.time() < deadline, "the notebook and its kernel did not come up"
        time.sleep(0.5)
    chromium.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    seen = []
    deadline = time.time() + 600
    while True:
        state = chromium.execute_script(STATE)
        seen.append(state)
        assert not state["errors"], f"cells failed: {state['errors']}"
        started_running = any(s["any_running"] for s in seen)
        if started_running and state["done"] and state["updates"] is not None:
            break
        assert time.time() < deadline, f"lesson 00 did not finish; last state {state}"
        time.sleep(0.2)
    duration = time.perf_counter() - started

    during_training = {s["updates"] for s in seen if s["training_running"] and s["updates"]}
    rss_values = {s["rss"] for s in seen if s["rss"]}
    OUTPUT.mkdir(exist_ok=True)
    panel = chromium.find_element("css selector", ".course-resource-panel")
    chromium.execute_script("arguments[0].scrollIntoView({block: 'center'});", panel)
    time.sleep(0.5)
    screenshot = OUTPUT / "lesson00_resource_panel.png"
    chromium.save_screenshot(str(screenshot))
    print(
        f"browser test: {duration:.1f} s; panel update counts seen while training: "
        f"{sorted(during_training, key=int)}; RSS values seen: {sorted(rss_values)}; "
        f"screenshot {screenshot}"
    )
    assert len(during_training) >= 2, (
        f"the panel did not change while the model trained; states seen: {seen[-20:]}"
    )
    assert "MiB" in panel.text and ("No GPU" in panel.text or "GPU 0" in panel.text)
    assert screenshot.stat().st_size > 10_000
