"""Find jobs whose worker is gone and put them back in the queue.

The queue is a hint: Huey forgets a task the moment a worker takes it, so a
consumer killed mid-job (kill -9, OOM, power loss) would strand its job in
``processing``. The job folder is the truth, and this sweep reconciles the
two: a ``processing`` job whose worker is dead goes back to ``queued`` (or,
past its attempt limit, to ``error``), and a ``queued`` job that the queue
no longer holds is enqueued again. Claiming is atomic, so a job enqueued
twice still runs once.
"""
import logging
import os
import threading
import time

from .. import config, process
from ..errors import AstroJobsError
from ..identity import INSTANCE, JOB_ENV_MARKER
from ..notify import events as notify
from ..queue import enqueue, queued_job_ids
from ..store import jobdir, record
from ..store.layout import Job
from ..store.retention import LEFTOVER_SECONDS
from ..store.states import TERMINAL, State
from .worker import RUNNING

logger = logging.getLogger("astro_jobs.runner.recovery")


class Observations:
    """When this observer last saw each job change, on its own monotonic clock.

    Liveness across nodes is judged by watching a run's heartbeat counter
    move, never by comparing a timestamp another node wrote with our wall
    clock: nodes' clocks may disagree by minutes. An observer that has just
    started knows nothing yet and waits one full limit before it calls a run
    dead, so it neither kills live runs nor waits forever.
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.seen = {}  # job id -> (token, when it was first seen)

    def unchanged_for(self, job_id, token):
        """Seconds since ``token`` of the job was first seen (0 if it just changed)."""
        now = self.clock()
        last = self.seen.get(job_id)
        if last is None or last[0] != token:
            self.seen[job_id] = (token, now)
            return 0.0
        return now - last[1]

    def forget(self, job_id):
        self.seen.pop(job_id, None)

    def keep_only(self, job_ids):
        for job_id in set(self.seen) - set(job_ids):
            del self.seen[job_id]


def beat_token(status):
    """What changes while a run is alive: its identity and its heartbeat."""
    return (status["state"], status.get("attempts"), record.instance(status),
            status.get("beat"), status.get("heartbeat_at"))


def worker_is_dead(status, observations):
    """Whether the worker recorded in a ``processing`` status has gone."""
    worker = record.worker(status)
    if worker.get("node") == config.node():
        if worker.get("pid") == os.getpid():
            # Ourselves: alive only if it is this incarnation and it runs the job.
            return worker.get("instance") != INSTANCE or status["job_id"] not in RUNNING
        if worker.get("pid") and not process.pid_alive(worker["pid"]):
            return True
    # Another node, or a live pid that may have been reused: a heartbeat that
    # stopped moving for three beats of ours.
    stalled = observations.unchanged_for(status["job_id"], beat_token(status))
    return stalled > config.stale_after_seconds()


def requeue(job, seen, reason):
    """Give a job whose run was lost another attempt, or end it past the limit.

    ``seen`` is the status the decision was made on: if the job changed since
    (it finished, or someone else recovered it first), nothing happens.
    """
    worker = record.worker(seen)

    def unchanged(status):
        return (status["state"] == State.PROCESSING
                and status.get("attempts") == seen.get("attempts")
                and status.get("worker") == seen.get("worker"))

    # Orphans are killed under the job's lock: if the run was not dead after
    # all, it cannot record an outcome before this transition (finishing
    # needs the lock), and afterwards it no longer owns the job.
    decided = {"guard": unchanged, "before_write": lambda: _kill_orphans(job, worker)}
    attempts = seen.get("attempts", 1)
    if attempts >= record.attempt_limit(seen):
        status = jobdir.transition(job, State.ERROR, record.gave_up(seen, reason), **decided)
    else:
        status = jobdir.transition(job, State.QUEUED, record.requeued(seen, reason), **decided)
        if status is not None:
            enqueue(job.job_id, record.priority(status))
    if status is not None:
        logger.warning("job %s: %s during attempt %s; now %s",
                       job.job_id, reason, attempts, status["state"])
    return status


def _kill_orphans(job, worker):
    """Kill what the lost run left running of the job on this node.

    Called under the job's lock while the job is still ``processing`` under
    the lost run, so no other run of the job can exist here yet: every
    process carrying the job's marker belongs to the lost one, whatever
    session or process group it moved to. Nobody will read what they make,
    so they get no grace.
    """
    if worker.get("node") == config.node():
        process.kill_marked(f"{JOB_ENV_MARKER}={job.job_id}")


class Sweeper:
    """Reconciles job folders with the queue; one per consumer process."""

    def __init__(self):
        self.finished = set()  # terminal jobs never change: skip re-reading them
        self.observations = Observations()
        self.lock = threading.Lock()

    def sweep(self):
        with self.lock:
            return self._sweep()

    def _sweep(self):
        counts = {"requeued": 0, "reenqueued": 0}
        present = set()
        in_queue = []  # the queue's job ids, read once and only if needed
        for job_id in jobdir.job_ids():
            present.add(job_id)
            if job_id in self.finished:
                continue
            try:
                job = Job(job_id)
                self._reconcile(job, jobdir.read_status(job), counts, in_queue)
            except AstroJobsError as exc:
                logger.warning("sweep: job %s: %s", job_id, exc)
        self.finished &= present  # forget pruned jobs
        self.observations.keep_only(present - self.finished)
        jobdir.remove_leftovers(LEFTOVER_SECONDS)
        if any(counts.values()):
            logger.warning("sweep: %s", counts)
        return counts

    def _reconcile(self, job, status, counts, in_queue):
        """Requeue a lost run, or re-enqueue a queued job the queue forgot."""
        state = status["state"]
        if state in TERMINAL and record.pending_event(status):
            notify.offer(job.job_id)  # read again next sweep until reported
        elif state in TERMINAL:
            self.finished.add(job.job_id)
            self.observations.forget(job.job_id)
        elif state == State.PROCESSING and worker_is_dead(status, self.observations):
            if requeue(job, status, "its worker died"):
                counts["requeued"] += 1
        elif state == State.QUEUED and self.observations.unchanged_for(
                job.job_id, beat_token(status) + (status["updated_at"],)) \
                > config.stale_after_seconds():
            if not in_queue:
                in_queue.append(queued_job_ids())
            if job.job_id not in in_queue[0]:
                enqueue(job.job_id, record.priority(status))
                counts["reenqueued"] += 1
            # Watched afresh: a job still waiting its turn is checked again later.
            self.observations.forget(job.job_id)

    def run_forever(self, stop):
        while not stop.is_set():
            try:
                self.sweep()
            except Exception:  # a sweep must never kill the consumer
                logger.exception("recovery sweep failed")
            stop.wait(config.heartbeat_seconds())


def interrupt_running(job_id):
    """The consumer is stopping fast (SIGTERM): stop the run, requeue the job."""
    run = RUNNING.get(job_id)
    if run is None:
        return None
    seen = jobdir.read_status(run.job)
    if not run.owns(seen):
        return None
    run.interrupt()
    return requeue(run.job, seen, "its consumer was stopped")
