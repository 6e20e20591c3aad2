"""The task a consumer runs for each job: claim, run the extractor, finish.

A run owns its job only while status.json says ``processing`` with the
run's attempt number. Every write a run makes is guarded by that check, so
a run that was declared dead and comes back (a frozen VM, a network
partition) can never overwrite the result of the attempt that replaced it.
"""
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import uuid

from . import config, jobdir, process
from .errors import AstroJobsError, BadInput, JobNotFound
from .queue import huey
from .states import State
from .timefmt import now_iso

logger = logging.getLogger("astro_jobs.worker")

# Identifies this consumer process among all that ever ran with the same pid
# (a container restarts its consumer as pid 1 every time).
INSTANCE = uuid.uuid4().hex[:12]
# How often a running job looks for a cancel or a new stage.
POLL_SECONDS = 0.25
LOG_TAIL_LINES = 5
JOB_ENV_MARKER = "ASTRO_JOBS_JOB_ID"


class Registry:
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
            return next((r for r in runs if r.pgid is not None), runs[0] if runs else None)

    def __contains__(self, job_id):
        with self._lock:
            return job_id in self._runs


RUNNING = Registry()


@huey.task()
def run_job(job_id):
    Run(job_id).execute()


def enqueue(job_id, priority=0):
    huey.enqueue(run_job.s(job_id, priority=priority or None))


def queued_job_ids():
    """Job ids the queue holds right now."""
    ids = set()
    for task in huey.pending():
        if task.args:
            ids.add(task.args[0])
    return ids


def extractor_command():
    """argv prefix of the extractor: ASTRO_EXTRACT_BIN, or the bundled one."""
    binary = config.extract_bin()
    if binary is None:
        return [sys.executable, "-m", "astro_jobs.extract"]
    path = binary if os.sep in binary else shutil.which(binary)
    if not path or not os.path.isfile(path):
        raise BadInput(f"extractor not found: ASTRO_EXTRACT_BIN={binary}",
                       code="extractor_not_found")
    path = os.path.abspath(path)  # the extractor runs inside output/
    if path.endswith(".py") and not os.access(path, os.X_OK):
        return [sys.executable, path]
    if not os.access(path, os.X_OK):
        raise BadInput(f"extractor is not executable: {path}", code="extractor_not_found")
    return [path]


def extractor_argv(job, status):
    params = status["params"]
    argv = extractor_command() + ["--image", str(job.input_file(status)),
                                  "--output", str(job.result_path)]
    if params.get("scale_low") is not None:
        argv += ["--scale-low", repr(params["scale_low"]),
                 "--scale-high", repr(params["scale_high"]),
                 "--scale-units", params["scale_units"]]
    if params.get("downsample") is not None:
        argv += ["--downsample", str(params["downsample"])]
    if params.get("image_width") is not None:  # a star list: the image it was measured on
        argv += ["--width", str(params["image_width"]), "--height", str(params["image_height"])]
    argv += ["--timeout", f"{params['timeout']:g}"]
    return argv


class Run:
    """One attempt at one job, inside a consumer worker thread."""

    def __init__(self, job_id):
        self.job = jobdir.Job(job_id)
        self.attempt = None
        self.pgid = None
        self.proc = None
        self.interrupted = False

    # -- ownership ----------------------------------------------------------

    def owns(self, status):
        worker = status.get("worker") or {}
        return (status["state"] == State.PROCESSING
                and status.get("attempts") == self.attempt
                and worker.get("instance") == INSTANCE)

    def claim(self):
        """queued -> processing, or None if the job is not ours to run."""
        def is_queued(status):
            self.attempt = status.get("attempts", 1)
            return status["state"] == State.QUEUED

        now = now_iso()
        worker = {"node": config.node(), "pid": os.getpid(), "instance": INSTANCE,
                  "thread": threading.current_thread().name}
        # Registered before status.json says so: a sweep that sees this job
        # processing under our pid must also find it in RUNNING.
        RUNNING.add(self)
        try:
            # Not fsynced (one fsync less per job, 2-3 ms): a power loss kills
            # the extractor anyway, and either status it leaves behind ends in
            # a new attempt: ``queued`` is re-enqueued by the sweep,
            # ``processing`` under a dead worker is requeued. The rename keeps
            # the file whole either way; the outcome (finish) is fsynced.
            status = jobdir.transition(self.job, State.PROCESSING, guard=is_queued,
                                       durable=False, started_at=now, heartbeat_at=now,
                                       worker=worker, stage=None, error=None,
                                       finished_at=None)
        except BaseException:
            RUNNING.discard(self)
            raise
        if status is None:
            RUNNING.discard(self)
        return status

    # -- the run ------------------------------------------------------------

    def execute(self):
        try:
            status = self.claim()
        except JobNotFound:
            logger.warning("job %s vanished before it ran", self.job.job_id)
            return
        if status is None:
            logger.info("job %s is not queued any more; skipped", self.job.job_id)
            return
        try:
            outcome = self.supervise(status)
        except AstroJobsError as exc:
            outcome = (State.ERROR, exc.message)
        except Exception as exc:  # our bug must still end the job, not strand it
            logger.exception("job %s: runner failed", self.job.job_id)
            outcome = (State.ERROR, f"the runner failed: {exc.__class__.__name__}: {exc}")
        finally:
            RUNNING.discard(self)
        if outcome is not None:
            self.finish(*outcome)

    def supervise(self, status):
        job, params = self.job, status["params"]
        argv = extractor_argv(job, status)
        jobdir.reset_output(job)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(job.stage_path)
        env = dict(os.environ, PYTHONUNBUFFERED="1", ASTRO_JOBS_STAGE_FILE=str(job.stage_path))
        env[JOB_ENV_MARKER] = job.job_id
        started = time.monotonic()
        fd = os.open(job.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, jobdir.FILE_MODE)
        try:
            os.write(fd, (f"--- {now_iso()} attempt {self.attempt} on {config.node()} "
                          f"pid {os.getpid()}: {' '.join(argv)}\n").encode())
            self.proc = process.spawn(argv, job.output_dir, fd, env,
                                      config.max_memory_bytes(), config.max_output_bytes())
        finally:
            os.close(fd)
        self.pgid = self.proc.pid
        try:
            jobdir.update(job, self.owns, worker=dict(status["worker"], pgid=self.pgid))
            reason = self.watch(params["timeout"], started)
        except BaseException:
            # Without supervision (JOBS_DIR failing under us) the extractor
            # must not run on: stop it before the error ends the job.
            process.kill_group(self.pgid, self.proc, grace=1.0)
            raise
        # The leader is gone; anything it left behind in its group goes too.
        process.signal_group(self.pgid, signal.SIGKILL)
        elapsed = time.monotonic() - started
        self.log(f"--- {now_iso()} extractor {process.describe_exit(self.proc.returncode)}"
                 f" after {elapsed:.2f} s" + (f" ({reason})" if reason else ""))
        return self.outcome(reason, params["timeout"])

    def watch(self, timeout, started):
        """Wait for the extractor; return why it was stopped, or None."""
        watch = process.Watch(self.proc)
        heartbeat = config.heartbeat_seconds()
        deadline = started + timeout
        next_beat = time.monotonic() + heartbeat
        stage_seen = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if watch.wait(min(POLL_SECONDS, max(remaining, 0))) is not None:
                    return None
                if time.monotonic() >= deadline:
                    process.kill_group(self.pgid, self.proc)
                    return "timeout"
                if self.interrupted:
                    return "interrupted"
                status = jobdir.read_status(self.job)
                if not self.owns(status):
                    process.kill_group(self.pgid, self.proc)
                    return "cancelled" if status["state"] == State.CANCELLED else "superseded"
                changes = {}
                stage = self.stage_changed(stage_seen)
                if stage is not None:
                    stage_seen = changes["stage"] = stage
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + heartbeat
                    changes["heartbeat_at"] = now_iso()
                if changes:
                    jobdir.update(self.job, self.owns, **changes)
        finally:
            watch.close()

    def stage_changed(self, seen):
        stage = jobdir.read_stage(self.job)
        return stage if stage and stage != seen else None

    def outcome(self, reason, timeout):
        """(state, error) to record, or None when the run must not record one."""
        if reason in ("cancelled", "superseded", "interrupted") or self.interrupted:
            return None
        if reason == "timeout":
            return (State.ERROR, f"timed out after {timeout:g} s; the extractor and its "
                                 f"children were killed.{self.log_tail()}")
        code = self.proc.returncode
        if code != 0:
            return (State.ERROR, f"the extractor {process.describe_exit(code)}.{self.log_tail()}")
        try:
            with open(self.job.result_path, "rb") as handle:
                result = json.load(handle)
                # "done" is fsynced: the result it points to must be on disk first.
                os.fsync(handle.fileno())
        except FileNotFoundError:
            return (State.ERROR, "the extractor exited with code 0 but wrote no "
                                 f"output/result.json.{self.log_tail()}")
        except ValueError:
            return (State.ERROR, "the extractor's output/result.json is not valid JSON.")
        if not isinstance(result, dict):
            return (State.ERROR, "the extractor's output/result.json is not a JSON object.")
        return (State.DONE, None)

    def log_tail(self):
        lines = [line for line in jobdir.read_log(self.job, tail=LOG_TAIL_LINES + 1)
                 .splitlines() if line.strip() and not line.startswith("--- ")]
        tail = " | ".join(lines[-LOG_TAIL_LINES:])[-600:]
        return f" Last lines of task.log: {tail}" if tail else " task.log is empty."

    def finish(self, state, error):
        done = jobdir.transition(self.job, state, guard=self.owns, finished_at=now_iso(),
                                 error=error, stage=None)
        if done is None:
            self.log(f"--- {now_iso()} this run no longer owns the job; outcome discarded")

    def log(self, line):
        try:
            with open(self.job.log_path, "ab") as handle:
                handle.write(line.encode() + b"\n")
        except OSError:
            logger.warning("job %s: cannot write task.log", self.job.job_id)

    def interrupt(self):
        """Stop the extractor now (consumer shutting down); the caller requeues."""
        self.interrupted = True
        if self.pgid is not None:
            process.kill_group(self.pgid, None, grace=1.0)
