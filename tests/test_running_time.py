"""A lesson's running time on the learner's machine (`measure.running_time`): the batches
counted in every process, the estimate scaled from one measured step, the Setup cell's advice."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from course_lib import config
from course_lib.measure import running_time, step_counter

REFERENCE = {"run_all_s": 120.0, "step_s": 0.04, "train": 900, "test": 270, "predict": 30}


def test_the_counter_counts_the_batches_of_fit_evaluate_predict_and_on_batch_calls(tmp_path):
    log = tmp_path / "steps.log"
    script = textwrap.dedent(
        """
        from course_lib.measure import step_counter
        step_counter.install()
        import keras
        import numpy as np
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        x, y = np.zeros((12, 2)), np.zeros((12, 1))
        model.fit(x, y, batch_size=4, epochs=2, validation_data=(x[:8], y[:8]), verbose=0)
        model.evaluate(x, y, batch_size=6, verbose=0)
        model.predict(x, batch_size=12, verbose=0)
        model.train_on_batch(x[:4], y[:4])  # a hand-written loop's steps count too
        model.train_on_batch(x[4:8], y[4:8])
        model.test_on_batch(x[:4], y[:4])
        """
    )
    env = dict(os.environ, **{step_counter.STEP_LOG_ENV: str(log)})
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    # 2 epochs of 3 batches and 2 by hand; validation 2 epochs of 2 batches, evaluate's 2 and
    # 1 by hand; predict's 1
    assert step_counter.read_log(log) == {"train": 8, "test": 7, "predict": 1}
    assert len(log.read_text().splitlines()) == 1


def test_without_the_variable_nothing_is_counted_or_written(tmp_path, monkeypatch):
    monkeypatch.delenv(step_counter.STEP_LOG_ENV, raising=False)
    before = list(sys.meta_path)
    step_counter.install()
    assert sys.meta_path == before
    assert step_counter.read_log(tmp_path / "none.log") == {"train": 0, "test": 0, "predict": 0}


def test_the_estimate_scales_the_fits_by_the_step_difference():
    assert running_time.step_equivalents(REFERENCE) == 1000
    assert running_time.estimate(REFERENCE, 0.04) == 120
    assert running_time.estimate(REFERENCE, 0.5) == pytest.approx(120 + 1000 * 0.46)
    assert running_time.estimate(REFERENCE, 0.0) == pytest.approx(80)


@pytest.fixture
def reference_host(monkeypatch):
    """A recorded Run All of lesson 03 on `lesson`, and a step time here chosen by the test."""
    times = {
        "hosts": {"lesson": "a test host"},
        "profiles": {"lesson": {"03_pydataset": REFERENCE}},
    }
    monkeypatch.setattr(running_time, "load_times", lambda: times)

    def step_here(seconds):
        monkeypatch.setattr(running_time, "training_step_seconds", lambda profile: seconds)

    return step_here


def test_the_setup_cell_says_how_long_here_and_suggests_ci_when_long(reference_host, capsys):
    reference_host(0.04)
    said = running_time.running_time_here("03_pydataset", "lesson")
    printed = capsys.readouterr().out
    assert said["estimate_s"] == 120 and "40 ms here, 40 ms on a test host" in printed
    assert "expect about 2.0 min here" in printed and "PROFILE=ci" not in printed
    reference_host(0.5)
    said = running_time.running_time_here("03_pydataset", "lesson")
    printed = capsys.readouterr().out
    assert "expect about 9.7 min here" in printed and "make lab PROFILE=ci" in printed


def test_a_lesson_or_profile_without_a_record_gets_the_step_only(reference_host, capsys):
    reference_host(0.1)
    assert running_time.running_time_here("03_pydataset", "ci")["estimate_s"] is None
    assert "No Run All time of this lesson on the 'ci' profile" in capsys.readouterr().out


def test_the_recorded_times_cover_every_lesson_on_the_lesson_profile():
    from course_lib.course import exercises

    times = json.loads(running_time.TIMES_FILE.read_text())
    lessons = {path.stem for path in exercises.SOLUTIONS.glob("*.ipynb")}
    assert set(times["profiles"]["lesson"]) == lessons
    for lesson, record in times["profiles"]["lesson"].items():
        assert record["train"] > 0 and 0 < record["step_s"] < 1, lesson
        assert record["run_all_s"] > record["train"] * record["step_s"], lesson
    assert set(times["hosts"]) == set(times["profiles"])


def test_every_lesson_runs_all_within_ten_minutes_where_a_step_takes_half_a_second():
    """The `lesson` profile is sized for a slow laptop CPU (issue: the learner's machine)."""
    times = json.loads(running_time.TIMES_FILE.read_text())
    slow = {
        lesson: running_time.estimate(record, running_time.SLOW_STEP_SECONDS) / 60
        for lesson, record in times["profiles"]["lesson"].items()
    }
    assert max(slow.values()) <= 10, {lesson: round(m, 1) for lesson, m in slow.items() if m > 10}


def test_a_step_is_measured_on_the_profiles_batch():
    assert 0 < running_time.training_step_seconds(config.get_profile("ci"), steps=2) < 60


def test_a_lesson_run_counts_its_fits_and_can_keep_the_executed_notebook(tmp_path):
    import nbformat

    notebook = tmp_path / "99_tiny.ipynb"
    setup = 'from course_lib import measure\nmeasure.running_time_here("99_tiny", "ci")'
    fit = textwrap.dedent(
        """
        import keras
        import numpy as np
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(np.zeros((12, 2)), np.zeros((12, 1)), batch_size=4, epochs=2, verbose=0)
        print("fitted")
        """
    )
    cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(fit)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)

    record = running_time.measure_lesson(notebook, "ci", keep=tmp_path / "kept")

    # the fit's 2 x 3 batches; the Setup cell's step measurement trains on top of them
    assert record["train"] >= 6 and record["test"] == record["predict"] == 0
    assert 0 < record["step_s"] < 60 and record["run_all_s"] > 0
    kept = nbformat.read(tmp_path / "kept" / notebook.name, as_version=4)
    assert "fitted" in kept.cells[1].outputs[0]["text"]
