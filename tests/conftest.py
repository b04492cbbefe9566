import os

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
