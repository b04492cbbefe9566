import pytest

from course_lib import config


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "ci")
    assert config.get_profile().name == "ci"
    monkeypatch.delenv(config.PROFILE_ENV)
    assert config.get_profile().name == "lesson"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match=r"'huge'.*'ci', 'lesson', 'large'.*COURSE_PROFILE"):
        config.get_profile()


def test_profiles_grow_and_large_is_bigger_than_a_laptop():
    ci, lesson, large = (config.get_profile(n) for n in ("ci", "lesson", "large"))
    assert ci.image_bytes < lesson.image_bytes < large.image_bytes
    assert large.image_bytes > 16 * 2**30  # more than a 16 GB laptop's RAM
    for profile in (ci, lesson, large):
        assert profile.n_samples == sum(profile.split_sizes.values())
        assert profile.block_size % profile.chunk_rows == 0


def test_data_dir_per_profile(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "nested" / "data"))
    assert config.data_dir("ci") == tmp_path / "nested" / "data" / "ci"
    assert config.data_dir("ci").is_dir()


def test_default_data_dir_is_in_the_checkout(monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    assert config.data_dir("ci").parent.parent / "pyproject.toml" == (
        config._repository_root() / "pyproject.toml"
    )


def test_unwritable_data_dir_says_how_to_fix(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(blocker / "data"))
    with pytest.raises(PermissionError, match=r"a-file.*cannot be written.*COURSE_DATA_DIR"):
        config.data_dir("ci")
