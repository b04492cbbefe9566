"""The closing lines of `make test`: each phase's wall time, the total, the ten slowest items,
and what passed, failed and was skipped in all the suites together.

`make test` writes one `PHASE SECONDS` line per phase (install, lint, each suite) and one JUnit
XML report per suite (pytest's `--junitxml`, whose times are setup + call + teardown), then runs
this file on them. Not a test module: pytest imports it only for its (absent) doctests.

Example:

    python tests/timings.py build/test-times build/tests-tensorflow.xml build/tests-jax.xml
"""

import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def phase_seconds(path):
    """`[(phase, seconds)]` from the `PHASE SECONDS` lines `make test` wrote, in order."""
    phases = []
    for line in Path(path).read_text().splitlines():
        name, seconds = line.rsplit(" ", 1)
        phases.append((name, float(seconds)))
    return phases


def slowest_items(reports, count=10):
    """The `count` slowest test items of JUnit reports: `[(seconds, suite, item)]`."""
    items = []
    for report in reports:
        suite = Path(report).stem.removeprefix("tests-")
        for case in ElementTree.parse(report).iter("testcase"):
            module = case.get("classname", "")
            path = module.removesuffix(".ipynb").replace(".", "/")
            path += ".ipynb" if module.endswith(".ipynb") else ".py"
            name = f"{path}::{case.get('name')}"
            items.append((float(case.get("time", 0)), suite, name))
    return sorted(items, reverse=True)[:count]


def outcomes(reports):
    """`(passed, failed, skipped)` over the JUnit reports (errors count as failed)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for report in reports:
        for case in ElementTree.parse(report).iter("testcase"):
            tags = {child.tag for child in case}
            outcome = (
                "failed"
                if tags & {"failure", "error"}
                else "skipped"
                if "skipped" in tags
                else "passed"
            )
            counts[outcome] += 1
    return counts["passed"], counts["failed"], counts["skipped"]


def minutes(seconds):
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def main(times, *reports):
    phases = phase_seconds(times)
    print("\nmake test, wall time of each phase:")
    for name, seconds in phases:
        print(f"  {name:<18} {minutes(seconds):>14}")
    print(f"  {'total':<18} {minutes(sum(s for _, s in phases)):>14}")
    reports = [report for report in reports if Path(report).is_file()]
    if reports:
        print("the ten slowest items (setup + call + teardown):")
        for seconds, suite, name in slowest_items(reports):
            print(f"  {seconds:7.1f} s  {suite:<10} {name}")
        passed, failed, skipped = outcomes(reports)
        print(f"suites: {passed} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main(*sys.argv[1:])
