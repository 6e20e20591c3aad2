"""store/retention.py: finished jobs past their age go, nothing else does."""
import os
import time

import pytest

from astro_jobs.store import jobdir, record, retention
from astro_jobs.store.layout import Job
from astro_jobs.timefmt import iso


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path))
    return tmp_path


def job(n, state, finished_ago):
    job_id = f"{n:032x}"
    with jobdir.staged(job_id) as stage:
        status = record.new(job_id, {}, {"file": "a.png"})
        status.update(state=state, finished_at=iso(time.time() - finished_ago)
                      if finished_ago is not None else None)
        jobdir.write_status(stage, status)
    return job_id


def test_prune_removes_old_finished_jobs_only(jobs):
    old = [job(1, "done", 7200), job(2, "error", 7200), job(3, "cancelled", 7200)]
    kept = [job(4, "done", 60), job(5, "queued", None), job(6, "processing", None)]
    os.mkdir(jobs / f".trash-{9:032x}.abcd1234")  # a crash's leftover, recent: kept
    assert retention.prune(3600) == 3
    assert sorted(jobdir.job_ids()) == sorted(kept)
    assert not any(Job(job_id).path.exists() for job_id in old)
    assert (jobs / f".trash-{9:032x}.abcd1234").exists()
