"""The closing lines of `make test` (`tests/timings.py`): phases, total, slowest items, outcomes."""

import timings

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_fast" time="0.5"/>
<testcase classname="tests.test_a" name="test_broken" time="2.0"><failure message="x"/></testcase>
<testcase classname="notebooks.solutions.03_pydataset.ipynb" name="Cell 13" time="17.6"/>
<testcase classname="tests.test_b" name="test_skipped" time="0.0"><skipped message="y"/></testcase>
</testsuite></testsuites>"""


def test_the_summary_gives_phases_total_slowest_items_and_outcomes(tmp_path, capsys):
    times = tmp_path / "test-times"
    times.write_text("install 74\nlint 1\nTensorFlow suite 561\n")
    report = tmp_path / "tests-tensorflow.xml"
    report.write_text(REPORT)
    timings.main(str(times), str(report), str(tmp_path / "tests-jax.xml"))  # jax: not run
    said = capsys.readouterr().out
    lines = said.splitlines()
    assert [" ".join(line.split()) for line in lines[2:6]] == [
        "install 1 min 14.0 s",
        "lint 0 min 01.0 s",
        "TensorFlow suite 9 min 21.0 s",
        "total 10 min 36.0 s",
    ]
    slowest = lines.index("the ten slowest items (setup + call + teardown):")
    assert lines[slowest + 1].split() == [
        "17.6",
        "s",
        "tensorflow",
        "notebooks/solutions/03_pydataset.ipynb::Cell",
        "13",
    ]
    assert lines[slowest + 2].endswith("tests/test_a.py::test_broken")
    assert lines[-1] == "suites: 2 passed, 1 failed, 1 skipped"
