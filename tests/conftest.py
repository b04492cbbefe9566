"""Fixtures shared by the tests: the ci data, and headless Chromium for the browser tests."""

import os
import shutil

import pytest

from course_lib import config
from course_lib.course import course_data


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A private COURSE_DATA_DIR for the session, with the ci data built once."""
    root = tmp_path_factory.mktemp("course-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.DATA_DIR_ENV, str(root))
        patch.setenv(config.PROFILE_ENV, "ci")
        patch.delenv(course_data.USER_HDF5_ENV, raising=False)
        course_data.ensure_all("ci", progress=False)
        yield root


@pytest.fixture
def ci_data(data_root, monkeypatch):
    """Paths of the core ci layouts (`CORE_LAYOUTS`), with the environment pointing at them."""
    monkeypatch.setenv(config.DATA_DIR_ENV, str(data_root))
    monkeypatch.setenv(config.PROFILE_ENV, "ci")
    monkeypatch.delenv(course_data.USER_HDF5_ENV, raising=False)
    return {layout: course_data.layout_path(layout, "ci") for layout in course_data.CORE_LAYOUTS}


@pytest.fixture
def fresh_data_dir(tmp_path, monkeypatch):
    """An empty COURSE_DATA_DIR, for tests that build, break or rebuild data."""
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(course_data.USER_HDF5_ENV, raising=False)
    assert not os.listdir(tmp_path)
    return tmp_path


# --- headless Chromium (Debian's chromium and chromium-driver; `.ci/run` installs them) ---

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _missing():
    missing = [
        name
        for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
        if path is None
    ]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    return missing


@pytest.fixture
def browser_tools():
    missing = _missing()
    if missing:
        message = (
            f"browser test skipped: {', '.join(missing)} not found. Install Debian's "
            f"chromium and chromium-driver (`.ci/run` does) to run it."
        )
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(message.replace("skipped", "required but cannot run"))
        pytest.skip(message)


@pytest.fixture
def chromium(browser_tools, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
