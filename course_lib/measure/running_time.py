"""How long a lesson runs on this machine: one training step measured, Run All scaled.

Lesson running times differ several-fold between machines, almost all of it in
the fits: a step of the small convnet takes 37 ms on one 2-core laptop-class
host and 500 ms on another. Each lesson's Setup cell calls `running_time_here`,
which times one training step here and scales the lesson's Run All, measured
on the kit's reference host (`lesson_times.json`, written by `measure_lessons`
with `python -m course_lib.measure.running_time`), by the difference:

    here = Run All there + steps x (step here - step there)

where `steps` counts the lesson's training batches (in every process it starts)
plus a third of its evaluation and prediction batches, a forward pass being
about a third of a training step.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from course_lib import config
from course_lib.measure import step_counter

TIMES_FILE = Path(__file__).with_name("lesson_times.json")
"""Run All of each solution notebook on the reference host, per profile."""

LONG_MINUTES = 5
"""Above this estimate, the Setup cell suggests the `ci` profile."""

SLOW_STEP_SECONDS = 0.5
"""The slow host the lesson times are sized for: Run All under 10 minutes at this step."""


def training_step_seconds(profile: str | config.Profile | None = None, steps: int = 5) -> float:
    """Seconds of one training step of the small convnet on a batch of `profile`'s.

    Used by the kit, not by a lesson. `running_time_here` calls it.

    The median of `steps` steps, after one that builds and compiles the model.
    """
    from course_lib import models

    p = config.get_profile(profile)
    model = models.small_convnet(p.image_shape, p.n_classes)
    x = np.random.default_rng(0).integers(0, 256, (p.batch_size, *p.image_shape), np.uint8)
    y = np.arange(p.batch_size) % p.n_classes
    model.train_on_batch(x, y)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def step_equivalents(batches: dict) -> float:
    """Training batches plus a third of evaluation and prediction batches."""
    return batches["train"] + (batches["test"] + batches["predict"]) / 3


def estimate(reference: dict, step_here: float) -> float:
    """Seconds Run All takes at `step_here` s a step, from `reference` (one lesson, one profile)."""
    difference = step_here - reference["step_s"]
    return max(reference["run_all_s"] + step_equivalents(reference) * difference, 1.0)


def load_times() -> dict:
    """The reference host's measurements (`TIMES_FILE`; none before the first)."""
    if not TIMES_FILE.exists():
        return {"hosts": {}, "profiles": {}}
    return json.loads(TIMES_FILE.read_text())


def running_time_here(lesson: str, profile: str | config.Profile | None = None) -> dict:
    """Times one training step here and prints how long this lesson's Run All should take.

    First used in lesson 00 (setup_and_data). Every lesson's Setup cell calls it.

    Args:
        lesson: the notebook's name without `.ipynb`, e.g. `"03_pydataset"`.
        profile: the course profile (default: `COURSE_PROFILE`).

    Returns:
        `{"step_s": ..., "estimate_s": ...}` (`estimate_s` is None where the
        reference host has no figure for this lesson and profile).

    Example:

    ```python
    running_time_here("00_setup_and_data")
    # One training step of this lesson's model: 41 ms here, 37 ms on the machine ...
    ```
    """
    p = config.get_profile(profile)
    step = training_step_seconds(p)
    log = os.environ.get(step_counter.STEP_LOG_ENV)
    if log:  # measure_lessons is timing this lesson: it wants this machine's step too
        with open(log, "a") as file:
            file.write(f"step {step}\n")
    times = load_times()
    reference = times["profiles"].get(p.name, {}).get(lesson)
    shape = "x".join(map(str, p.image_shape[:2]))
    said = f"One training step of this lesson's model ({p.batch_size} images of {shape}): "
    said += f"{step * 1e3:,.0f} ms here"
    if reference is None:
        print(said + f". No Run All time of this lesson on the {p.name!r} profile is recorded.")
        return {"step_s": step, "estimate_s": None}
    seconds = estimate(reference, step)
    where = times["hosts"].get(p.name, "the kit's reference machine")
    print(
        said + f", {reference['step_s'] * 1e3:,.0f} ms on {where}, where Run All "
        f"({step_equivalents(reference):,.0f} steps of fits) took "
        f"{reference['run_all_s'] / 60:,.1f} min: expect about {seconds / 60:,.1f} min here."
    )
    if seconds > LONG_MINUTES * 60 and p.name != "ci":
        print(
            "That is long for a first pass: restart JupyterLab with `make lab PROFILE=ci` "
            "(a fifth of the samples, at 32x32; the figures change, what they show does not)."
        )
    return {"step_s": step, "estimate_s": seconds}


def measure_lesson(notebook: Path, profile: str, keep: Path | None = None) -> dict:
    """Runs `notebook` (Run All, in a new kernel) and counts its batches in every process.

    Used by the kit, not by a lesson. `measure_lessons` calls it.

    Args:
        notebook: a solution notebook.
        profile: the data profile the kernel uses.
        keep: a folder to save the executed notebook in, with its outputs (the figures
            `INSTRUCTORS.md` quotes come from such a run); default: not saved.

    Raises:
        RuntimeError: if the notebook fails, with the end of its error.
    """
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sitecustomize.py").write_text(
            "from course_lib.measure import step_counter\n\nstep_counter.install()\n"
        )
        log = Path(folder, "steps.log")
        root = str(Path(config.__file__).resolve().parents[1])
        paths = [folder, root, os.environ.get("PYTHONPATH", "")]
        env = dict(
            os.environ,
            COURSE_PROFILE=profile,
            PYTHONPATH=os.pathsep.join(p for p in paths if p),
            **{step_counter.STEP_LOG_ENV: str(log)},
        )
        jupyter = Path(sys.executable).with_name("jupyter")
        started = time.perf_counter()
        done = subprocess.run(
            [str(jupyter), "execute", "--timeout=7200", str(notebook)]
            + ([f"--output={Path(keep).resolve() / notebook.name}"] if keep else []),
            env=env,
            capture_output=True,
            text=True,
            cwd=notebook.parent,
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(f"{notebook.name} failed on {profile!r}:\n{done.stderr[-3000:]}")
        steps = [line.split()[1] for line in log.read_text().splitlines() if line[:4] == "step"]
        return {
            "run_all_s": round(seconds, 1),
            "step_s": round(float(steps[0]), 5),
            **step_counter.read_log(log),
        }


def host() -> str:
    """This machine in a few words: cores, CPU, float32 matmul speed."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(5):
        a @ a
    gflops = 5 * 2 * 2048**3 / (time.perf_counter() - started) / 1e9
    return f"a {os.cpu_count()}-core {platform.machine()} host ({gflops:,.0f} GFLOPS float32)"


def measure_lessons(profile: str, lessons: list[str] | None = None, keep: Path | None = None):
    """Measures Run All of the solution notebooks and records it in `TIMES_FILE`.

    Used by the kit, not by a lesson.

    Run `python -m course_lib.measure.running_time --profile lesson [--keep DIR] [lesson ...]`
    on an otherwise idle machine; `--keep` saves the executed notebooks in DIR.
    """
    from course_lib.course import exercises

    times = load_times()
    times["hosts"][profile] = host()
    recorded = times["profiles"].setdefault(profile, {})
    TIMES_FILE.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    for notebook in sorted(exercises.SOLUTIONS.glob("*.ipynb")):
        if lessons and notebook.stem not in lessons:
            continue
        recorded[notebook.stem] = measure_lesson(notebook, profile, keep)
        print(notebook.stem, recorded[notebook.stem], flush=True)
        TIMES_FILE.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=measure_lessons.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="lesson", choices=sorted(config.PROFILES))
    parser.add_argument("--keep", type=Path, help="save the executed notebooks in this folder")
    parser.add_argument("lessons", nargs="*", help="notebook names, e.g. 03_pydataset")
    args = parser.parse_args(argv)
    measure_lessons(args.profile, args.lessons, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
