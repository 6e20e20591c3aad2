"""store/layout.py: every path in JOBS_DIR, with real folders in a tmp dir."""
import os

import pytest

from astro_jobs.errors import BadInput, StorageError
from astro_jobs.store import layout

JOB_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path / "jobs"))
    return tmp_path / "jobs"


def test_paths_follow_jobs_dir_and_create_nothing(jobs):
    job = layout.Job(JOB_ID)
    assert job.path == jobs / JOB_ID
    assert job.status_path == jobs / JOB_ID / "status.json"
    assert job.result_path == jobs / JOB_ID / "output" / "result.json"
    assert layout.queue_db_file() == jobs / "queue.sqlite3"
    assert layout.consumer_path("abcdef123456") == jobs / "consumers" / "abcdef123456.json"
    assert layout.status_file(str(jobs), JOB_ID) == str(job.status_path)
    assert not jobs.exists()


def test_ensure_root_makes_a_group_shared_folder(jobs):
    before = os.umask(0o022)  # a common umask would take the group's write bit
    try:
        assert layout.queue_db_path() == jobs / "queue.sqlite3"
    finally:
        os.umask(before)
    assert jobs.stat().st_mode & 0o777 == 0o770


def test_ensure_root_says_why_it_cannot(jobs, monkeypatch):
    jobs.parent.joinpath("file").write_text("")
    monkeypatch.setenv("JOBS_DIR", str(jobs.parent / "file" / "jobs"))
    with pytest.raises(StorageError, match="cannot create JOBS_DIR"):
        layout.ensure_root()


@pytest.mark.parametrize("bad", ["../" + "a" * 29, JOB_ID.upper(), JOB_ID[:-1], None, 7])
def test_a_job_id_is_checked_before_it_becomes_a_path(jobs, bad):
    with pytest.raises(BadInput) as caught:
        layout.Job(bad)
    assert caught.value.code == "invalid_job_id"


def test_a_consumer_instance_is_checked_before_it_becomes_a_path(jobs):
    with pytest.raises(BadInput):
        layout.consumer_path("../../etc/passwd")


def test_served_files_stay_inside_their_folder(jobs):
    job = layout.Job(JOB_ID)
    job.output_dir.mkdir(parents=True)
    (job.output_dir / "wcs.fits").write_bytes(b"x")
    (jobs / "secret").write_text("no")
    (job.output_dir / "link").symlink_to(jobs / "secret")
    assert job.output_file("wcs.fits") == job.output_dir / "wcs.fits"
    assert job.output_file("../status.json") is None
    assert job.output_file("link") is None
    assert job.output_file("missing") is None
    assert job.output_file("a\0b") is None


def test_staging_and_trash_are_hidden_siblings(jobs):
    job = layout.Job(JOB_ID)
    assert job.staging().path == jobs / f".incoming-{JOB_ID}"
    trash = job.trash_path()
    assert trash.parent == jobs and trash.name.startswith(f".trash-{JOB_ID}.")
    assert trash != job.trash_path()
