"""store/jobdir.py: job folders and status.json, on real files in a tmp dir
(the transitions' own rules are store/record's and store/states')."""
import json
import os
import threading

import pytest

from astro_jobs.errors import JobNotFound, StorageError
from astro_jobs.store import jobdir, record, statsindex
from astro_jobs.store.layout import Job
from astro_jobs.store.states import InvalidTransition

JOB_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path / "jobs"))
    return tmp_path / "jobs"


def publish(job_id=JOB_ID, data=b"image bytes"):
    with jobdir.staged(job_id) as stage:
        path = stage.path.parent / "upload"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            jobdir.copy_input(stage, fd, len(data), "a.png")
        finally:
            os.close(fd)
            path.unlink()
        jobdir.write_status(stage, record.new(job_id, {"priority": 0}, {"file": "a.png"}))
    return Job(job_id)


def test_a_published_job_is_listed_and_read_by_job_or_by_id(jobs):
    job = publish()
    assert list(jobdir.job_ids()) == [JOB_ID]
    assert (job.input_dir / "a.png").read_bytes() == b"image bytes"
    assert jobdir.read_status(job) == jobdir.read_status(JOB_ID)
    assert jobdir.read_status(job)["state"] == "queued"
    assert sorted(os.listdir(jobs)) == [JOB_ID]  # no staging folder left


def test_a_failed_submit_leaves_nothing(jobs):
    with pytest.raises(RuntimeError), jobdir.staged(JOB_ID):
        raise RuntimeError("refused")
    assert os.listdir(jobs) == []


def test_missing_and_corrupt_status(jobs):
    with pytest.raises(JobNotFound):
        jobdir.read_status(Job(JOB_ID))
    job = publish()
    job.status_path.write_text("{not json")
    with pytest.raises(StorageError) as caught:
        jobdir.read_status(job)
    assert caught.value.code == "corrupt_status"


def test_transition_applies_the_record_under_the_lock_and_guards(jobs):
    job = publish()
    assert jobdir.transition(job, "processing", {}, guard=lambda s: False) is None
    assert jobdir.read_status(job)["state"] == "queued"
    assert jobdir.update(job, lambda s: True, {"stage": "solving"})["stage"] == "solving"
    assert jobdir.update(job, lambda s: False, {"stage": "x"}) is None
    done = jobdir.transition(job, "cancelled", record.ended(stage=None))
    assert done["state"] == "cancelled" and done["finish_event"] == {"pending": True}
    assert json.loads(job.status_path.read_bytes()) == done
    with pytest.raises(InvalidTransition):
        jobdir.transition(job, "processing", {})


def test_a_finished_job_made_unfinished_is_noted_for_stats(jobs):
    job = publish()
    jobdir.transition(job, "error", record.ended("boom"))
    assert statsindex.read_reopened(0) == (set(), 0)
    jobdir.transition(job, "queued", record.retried(jobdir.read_status(job)))
    assert statsindex.read_reopened(0) == ({JOB_ID}, 33)


def test_read_modify_writes_from_many_threads_are_never_lost(jobs):
    job = publish()

    def bump(n):
        for _ in range(20):
            with jobdir.locked(job):
                status = jobdir.read_status(job)
                status["count"] = status.get("count", 0) + 1
                jobdir.write_status(job, status)
    threads = [threading.Thread(target=bump, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert jobdir.read_status(job)["count"] == 80


def test_remove_hides_the_folder_first_and_leftovers_go(jobs):
    job = publish()
    assert jobdir.remove(job) is True
    assert jobdir.remove(job) is False
    assert os.listdir(jobs) == []
    (jobs / f".incoming-{JOB_ID}").mkdir()
    assert jobdir.remove_leftovers(older_than=3600) == 0
    assert jobdir.remove_leftovers(older_than=-1) == 1


def test_results_and_stage(jobs):
    job = publish()
    assert jobdir.check_result(job) is jobdir.ResultFile.MISSING
    job.result_path.write_text("[1]")
    assert jobdir.check_result(job) is jobdir.ResultFile.NOT_OBJECT
    job.result_path.write_text('{"solved": true}')
    assert jobdir.check_result(job) is jobdir.ResultFile.VALID
    assert jobdir.result_solved(job) is True
    assert jobdir.read_output_head(job, "result.json", 3) == b'{"s'
    assert jobdir.read_stage(job) is None
    job.stage_path.write_text("solving\n")
    assert jobdir.read_stage(job) == "solving"
    jobdir.clear_stage(job)
    assert jobdir.read_stage(job) is None
    jobdir.reset_output(job)
    assert os.listdir(job.output_dir) == []
