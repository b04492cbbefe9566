"""The course as a website (`make site`): a lesson run and rendered in the ci profile, then
read in headless Chromium as a learner would: code, a table, a plot, the link to the next page.
The configuration is checked on two lessons; the site is built for one (lesson 00, 15 s of the
ci profile), whose "next" link leads to its learner copy."""

import time

import pytest
import yaml

from course_lib.course import exercises, site

OUTPUT = exercises.NOTEBOOKS.parent / "tests" / "output"
LESSONS = ["00", "03"]  # for the configuration
BUILT = ["00"]  # prints tables and draws plots; the quickest lesson to run


def test_an_unknown_lesson_is_named_with_the_ones_there_are():
    with pytest.raises(ValueError, match=r"No lesson numbered 99; the lessons are 00, 01"):
        site.lessons(["05", "99"])


def test_the_configuration_runs_the_solutions_and_shows_the_learner_copies_as_they_are(tmp_path):
    config = site.site_config(site.lessons(LESSONS), tmp_path / "src", tmp_path / "site")
    sections = {list(entry)[0]: list(entry.values())[0] for entry in config["nav"]}
    assert [list(page.values())[0] for page in sections["Lessons, with solutions"]] == [
        "solutions/00_setup_and_data.ipynb",
        "solutions/03_pydataset.ipynb",
    ]
    assert len(sections["Lessons as learners get them"]) == 2
    plugin = config["plugins"][1]["mkdocs-jupyter"]
    assert plugin["execute"] and not plugin["allow_errors"]
    assert plugin["execute_ignore"] == ["lessons/*.ipynb"]
    assert "navigation.footer" in config["theme"]["features"]  # the link to the next page
    yaml.safe_dump(config)  # MkDocs reads it as YAML


@pytest.fixture(scope="module")
def built(data_root, tmp_path_factory):
    """The site for lesson 00, built once (ci profile: `data_root` sets it)."""
    folder = tmp_path_factory.mktemp("site")
    started = time.perf_counter()
    root = site.build_site(BUILT, folder)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    print(f"site for lessons {BUILT}: {seconds:.0f} s, {size / 2**20:.1f} MiB")
    return root


def test_the_site_has_a_home_page_and_both_versions_of_its_lesson(built):
    assert (built / "index.html").is_file()
    solved = (built / "solutions" / "00_setup_and_data.html").read_text()
    blank = (built / "lessons" / "00_setup_and_data.html").read_text()
    assert "00 ·" in solved and "00 ·" in blank
    assert "### BEGIN SOLUTION" not in blank and "YOUR CODE HERE" in blank
    assert "All checks passed" in solved  # the solution ran, its checks passed


def test_a_lesson_page_shows_code_outputs_and_leads_to_the_next_lesson(built, chromium):
    page = built / "solutions" / "00_setup_and_data.html"
    chromium.get(page.as_uri())
    find = chromium.find_elements
    code = find("css selector", ".jp-CodeCell .jp-InputArea pre")
    tables = find("css selector", ".jp-OutputArea table")
    plots = find("css selector", ".jp-OutputArea img")
    assert len(code) > 10, "the page shows the lesson's code"
    assert any("MiB on disk" in table.text for table in tables), "the layouts table is rendered"
    assert plots and plots[0].size["width"] > 200, "a plot is drawn"
    OUTPUT.mkdir(exist_ok=True)
    chromium.execute_script("arguments[0].scrollIntoView({block: 'center'});", plots[0])
    time.sleep(0.3)
    screenshot = OUTPUT / "site_lesson00.png"
    chromium.save_screenshot(str(screenshot))
    print(f"site page: {len(code)} code cells, {len(tables)} tables, {len(plots)} plots")
    print(f"screenshot: {screenshot}")

    following = chromium.find_element("css selector", "a.md-footer__link--next")
    assert "00" in following.get_attribute("aria-label")
    following.click()
    assert chromium.current_url.endswith("lessons/00_setup_and_data.html")
    assert chromium.find_element("css selector", "h1").text.startswith("00 ·")
    assert "YOUR CODE HERE" in chromium.page_source  # the learner copy, as learners get it
