"""The task a consumer runs for each job: claim, run the extractor, finish.

A run owns its job only while status.json says ``processing`` with the
run's attempt number. Every write a run makes is guarded by that check, so
a run that was declared dead and comes back (a frozen VM, a network
partition) can never overwrite the result of the attempt that replaced it.
"""
import json
import logging
import os
import threading
import time

from .. import config, process, queue
from ..errors import AstroJobsError, JobNotFound
from ..identity import INSTANCE
from ..notify import events as notify
from ..store import jobdir, record, sequences, tasklog
from ..store.layout import Job
from ..store.states import State
from ..timefmt import now_iso
from . import command as extractor
from .judge import Outcome, StopReason, judge
from .supervise import start

logger = logging.getLogger("astro_jobs.runner.worker")
LOG_TAIL_LINES = 5


class Runs:
    """The runs in progress in this process, by job id.

    A job may be in the queue twice (a re-enqueue raced a slow claim); the
    second task's run is registered beside the first, never instead of it,
    or the sweep would take the running job for an abandoned one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._runs = {}

    def add(self, run):
        with self._lock:
            self._runs.setdefault(run.job.job_id, []).append(run)

    def discard(self, run):
        with self._lock:
            runs = self._runs.get(run.job.job_id, [])
            if run in runs:
                runs.remove(run)
            if not runs:
                self._runs.pop(run.job.job_id, None)

    def get(self, job_id):
        """The run that got furthest (has an extractor), if any."""
        with self._lock:
            runs = self._runs.get(job_id, [])
            return next((r for r in runs if r.supervisor is not None),
                        runs[0] if runs else None)

    def __contains__(self, job_id):
        with self._lock:
            return job_id in self._runs


RUNNING = Runs()


def run_job(job_id):
    """What the queue's run_job task does in a consumer (see queue.run_jobs_with)."""
    Run(job_id).execute()


def log_tail(job):
    """The last lines the extractor wrote, as a sentence for an error message."""
    lines = [line for line in tasklog.read(job, tail=LOG_TAIL_LINES + 1).splitlines()
             if line.strip() and not line.startswith("--- ")]
    tail = " | ".join(lines[-LOG_TAIL_LINES:])[-600:]
    return f" Last lines of task.log: {tail}" if tail else " task.log is empty."


def make_room(job, outcome):
    """A failed run on a full disk: remove its output/ so the error can be recorded."""
    if outcome.state != State.ERROR or not jobdir.out_of_space(job):
        return outcome
    # Most likely filled by this run's own files, worth nothing now.
    jobdir.reset_output(job)
    return Outcome(State.ERROR, f"{outcome.error} The filesystem of JOBS_DIR is full: "
                                "the run's output/ was removed.")


def remember_sequence(job, status, outcome):
    """A solved frame of a sequence becomes the hint of its next frames."""
    name = status["params"].get("sequence") if status else None
    if not name or outcome.state != State.DONE:
        return
    try:
        result = json.loads(jobdir.read_result_bytes(job))
        calibration = result.get("calibration") if result.get("solved") is True else None
        if isinstance(calibration, dict):
            sequences.record(name, job.job_id, calibration)
    except (OSError, ValueError, AttributeError, AstroJobsError) as exc:
        # A hint for the next frame, never a reason to fail this one.
        logger.warning("job %s: sequence %s not updated: %s", job.job_id, name, exc)


def ended_fields(job, outcome):
    """status.json's changes when a run ends. ``solved``: "done" with nothing found
    is an outcome of its own, so the result's verdict goes into the status."""
    solved = jobdir.result_solved(job) if outcome.state == State.DONE else None
    return record.ended(outcome.error, stage=None, solved=solved)


def hand_back(job):
    """A job taken from the queue as this consumer stops: back in the queue,
    for another consumer now or for this one's successor."""
    try:
        status = jobdir.read_status(job)
        if status["state"] == State.QUEUED:
            queue.enqueue(job.job_id, record.priority(status))
    except AstroJobsError as exc:  # the recovery sweep re-enqueues it later
        logger.warning("job %s not handed back to the queue: %s", job.job_id, exc)


class Run:
    """One attempt at one job, inside a consumer worker thread."""

    def __init__(self, job_id):
        self.job = Job(job_id)
        self.attempt = None
        self.supervisor = None
        self.interrupted = threading.Event()

    def owns(self, status):
        """Whether ``status`` still says this run is the job's current attempt."""
        return (status["state"] == State.PROCESSING
                and status.get("attempts") == self.attempt
                and record.instance(status) == INSTANCE)

    def claim(self):
        """queued -> processing, or None if the job is not ours to run."""
        worker = record.worker_of(config.node(), os.getpid(), INSTANCE,
                                  threading.current_thread().name)
        # Registered before status.json says so: a sweep that sees this job
        # processing under our pid must also find it in RUNNING.
        RUNNING.add(self)
        try:
            # Not fsynced: after a power loss either status left behind ends
            # in a new attempt (the sweep re-enqueues ``queued`` and requeues
            # ``processing`` under a dead worker). The outcome is fsynced. A
            # stopping consumer claims nothing: what it requeues goes elsewhere.
            status = jobdir.transition(self.job, State.PROCESSING, record.claimed(worker),
                                       guard=lambda s: s["state"] == State.QUEUED
                                       and queue.taking_jobs(),
                                       durable=False)
        except BaseException:
            RUNNING.discard(self)
            raise
        if status is None:
            RUNNING.discard(self)
        else:
            self.attempt = status.get("attempts", 1)
        return status

    def execute(self):
        try:
            status = self.claim()
        except JobNotFound:
            logger.warning("job %s vanished before it ran", self.job.job_id)
            return
        if status is None and not queue.taking_jobs():
            return hand_back(self.job)
        if status is None:
            logger.info("job %s is not queued any more; skipped", self.job.job_id)
            return
        try:
            outcome = self.run_extractor(status)
        except AstroJobsError as exc:
            outcome = Outcome(State.ERROR, exc.message)
        except Exception as exc:  # our bug must still end the job, not strand it
            logger.exception("job %s: runner failed", self.job.job_id)
            outcome = Outcome(State.ERROR,
                              f"the runner failed: {exc.__class__.__name__}: {exc}")
        finally:
            RUNNING.discard(self)
        if outcome is not None:
            self.finish(outcome, status)

    def run_extractor(self, status):
        """Spawn, supervise and judge one extractor; the Outcome to record, or None."""
        started = time.monotonic()
        self.supervisor = self.spawn(extractor.argv(self.job, status))
        try:
            jobdir.update(self.job, self.owns,
                          record.with_pgid(status, self.supervisor.proc.pid))
            reason = self.supervisor.watch(status["params"]["timeout"])
        except BaseException:
            # Without supervision (JOBS_DIR failing under us) the extractor
            # must not run on: stop it before the error ends the job.
            self.supervisor.stop(grace=1.0)
            raise
        if self.interrupted.is_set():
            reason = StopReason.INTERRUPTED  # it may have died of our own kill
        if reason is StopReason.EXITED:
            self.supervisor.sweep_group()
        else:
            self.supervisor.stop()
        return self.judge(reason, time.monotonic() - started, status["params"]["timeout"])

    def spawn(self, argv):
        header = (f"--- {now_iso()} attempt {self.attempt} on {config.node()} "
                  f"pid {os.getpid()}: {' '.join(argv)}")
        return start(self.job, argv, header, self.owns, self.interrupted.is_set,
                     run_id=f"{self.job.job_id}.{self.attempt}.{INSTANCE}")

    def judge(self, reason, elapsed, timeout):
        code = self.supervisor.proc.returncode
        ended = (f"extractor {process.describe_exit(code)} after {elapsed:.2f} s"
                 if reason is StopReason.EXITED else
                 f"extractor stopped after {elapsed:.2f} s ({reason.value})")
        tasklog.append(self.job, f"--- {now_iso()} {ended}")
        result = jobdir.check_result(self.job) \
            if reason is StopReason.EXITED and code == 0 else None
        return judge(reason, code, result, timeout, log_tail(self.job))

    def finish(self, outcome, status=None):
        outcome = make_room(self.job, outcome)
        # Before ``done``: a client that waits for this frame and then
        # submits the next must find it in its sequence.
        remember_sequence(self.job, status, outcome)
        done = jobdir.transition(self.job, outcome.state, ended_fields(self.job, outcome),
                                 guard=self.owns)
        if done is None:
            tasklog.append(self.job, f"--- {now_iso()} this run no longer owns the job; "
                                     "outcome discarded")
        # Reported on notify's threads: this worker goes on to the next job. A
        # cancel that beat us has an event too.
        notify.offer(self.job.job_id)

    def interrupt(self):
        """Stop the extractor now (consumer shutting down); the caller requeues."""
        self.interrupted.set()
        if self.supervisor is not None:
            self.supervisor.stop(grace=1.0)
