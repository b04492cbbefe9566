"""Interrupted training resumes where it stopped (BackupAndRestore)."""

import pytest

from course_lib.course import resume


def test_a_crashed_fit_resumes_from_its_last_epoch(ci_data, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(resume.SimulatedCrash):
        resume.fit_resumable(ci_data["hdf5"], backup, epochs=4, crash_after_epoch=2)
    assert backup.exists() and any(backup.iterdir())  # the state of epoch 2 was saved
    resumed = resume.fit_resumable(ci_data["hdf5"], backup, epochs=4)
    assert resumed["epochs_run"] == [2, 3]  # epochs 0 and 1 are not trained again
    assert resumed["loader_epochs"] == [2, 3]  # and their sample orders are not replayed
    assert len(resumed["losses"]) == 2
    assert not backup.exists() or not any(backup.iterdir())  # removed once training finished
    fresh = resume.fit_resumable(ci_data["hdf5"], tmp_path / "other", epochs=2)
    assert fresh["epochs_run"] == fresh["loader_epochs"] == [0, 1]
