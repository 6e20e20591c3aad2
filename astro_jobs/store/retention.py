"""Remove finished jobs past their age: job folders only, no queue.

The consumer runs this periodically (ASTRO_JOBS_RETENTION); ``prune`` runs it
on demand. It needs neither huey nor redis, so neither is imported.
"""
import time

from ..errors import AstroJobsError
from ..timefmt import parse_iso
from . import jobdir
from .layout import Job
from .states import TERMINAL

# Staging and trash folders a crashed process left behind are removed once
# this old, so a submit in progress is never touched.
LEFTOVER_SECONDS = 3600


def prune(older_than_seconds):
    """Remove terminal jobs that finished more than ``older_than_seconds`` ago."""
    cutoff = time.time() - older_than_seconds

    def expired(status):
        ended = status.get("finished_at") or status["updated_at"]
        return status["state"] in TERMINAL and parse_iso(ended) < cutoff

    removed = 0
    for job_id in jobdir.job_ids():
        job = Job(job_id)
        try:
            if not expired(jobdir.read_status(job)):
                continue  # most jobs: decided without taking the lock
            with jobdir.locked(job):
                if expired(jobdir.read_status(job)):
                    removed += jobdir.remove(job)
        except AstroJobsError:
            continue  # removed by someone else meanwhile
    jobdir.remove_leftovers(max(older_than_seconds, LEFTOVER_SECONDS))
    return removed
