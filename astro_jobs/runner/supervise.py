"""Keep one extractor company until it ends: heartbeat, stage, timeout, cancel.

The supervisor only watches and stops; what the end means for the job is
``judge.judge``'s to say.
"""
import logging
import os
import signal
import time

from .. import config, process
from ..identity import JOB_ENV_MARKER
from ..store import jobdir, record, tasklog
from ..store.states import State
from . import command as extractor
from . import warm
from .judge import StopReason

logger = logging.getLogger("astro_jobs.runner.supervise")
# How often a running job looks for a cancel or a new stage.
POLL_SECONDS = 0.25
# One run (job, attempt, consumer instance): what a run kills when it ends.
# The job marker alone would also match a newer attempt of the same job.
RUN_ENV_MARKER = "ASTRO_JOBS_RUN"


def extractor_env(job, environ, run_id):
    """The extractor's environment: ours, plus where to report its stage and
    the markers by which anything it starts can be found again."""
    return dict(environ, PYTHONUNBUFFERED="1", ASTRO_JOBS_STAGE_FILE=str(job.stage_path),
                **{JOB_ENV_MARKER: job.job_id, RUN_ENV_MARKER: run_id})


def start(job, argv, header, owns, stopping, run_id):
    """Start the job's extractor in a fresh output/, ``header`` first in task.log;
    its Supervisor. ``run_id`` names this run in its processes' environment."""
    jobdir.reset_output(job)
    jobdir.clear_stage(job)
    tasklog.append(job, header)
    fd = tasklog.open_for_append(job)
    try:
        proc = launch(argv, job.output_dir, fd, extractor_env(job, os.environ, run_id),
                      process.limits(config.max_memory_bytes(), config.max_output_bytes()))
    finally:
        os.close(fd)
    return Supervisor(job, proc, owns, stopping, f"{RUN_ENV_MARKER}={run_id}")


def launch(argv, cwd, log_fd, env, limits):
    """The bundled extractor in this thread's warm extractor, unless it is off
    or fails to start; any other program (ASTRO_EXTRACT_BIN) cold."""
    args = extractor.bundled_args(argv)
    if args is not None and config.warm_solver():
        try:
            return warm.spawn(args, cwd, log_fd, env, limits)
        except (OSError, ValueError) as exc:
            logger.warning("warm extractor unavailable, running the job cold: %s", exc)
    return process.spawn(argv, cwd, log_fd, env, limits)


class Supervisor:
    """Watches one running extractor on behalf of the run that owns the job.

    ``owns(status)`` tells whether the job is still the run's; ``stopping()``
    whether the consumer is shutting down.
    """

    def __init__(self, job, proc, owns, stopping, marker):
        self.job, self.proc, self.owns, self.stopping = job, proc, owns, stopping
        self.marker = marker
        # Everything the run starts starts after its extractor.
        self.started = process.start_time(proc.pid)
        self.stage_seen = None
        self.beats = 0

    def watch(self, timeout):
        """Wait for the extractor to end or be stopped; why it ended."""
        deadline = time.monotonic() + timeout
        heartbeat = config.heartbeat_seconds()
        next_beat = time.monotonic() + heartbeat
        watch = process.Watch(self.proc)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if watch.wait(min(POLL_SECONDS, max(remaining, 0))) is not None:
                    return StopReason.EXITED
                reason = self._reason_to_stop(deadline)
                if reason is not None:
                    return reason
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + heartbeat
                    self.beats += 1
                    # The counter is what observers watch: it tells them the run
                    # is alive without comparing clocks of different nodes.
                    self._record(record.beat(self.beats))
                else:
                    self._record({})
        finally:
            watch.close()

    def _reason_to_stop(self, deadline):
        if time.monotonic() >= deadline:
            return StopReason.TIMEOUT
        if self.stopping():
            return StopReason.INTERRUPTED
        status = jobdir.read_status(self.job)
        if self.owns(status):
            return None
        if status["state"] == State.CANCELLED:
            return StopReason.CANCELLED
        return StopReason.SUPERSEDED

    def _record(self, changes):
        """Write a new stage and/or heartbeat, if there is one, while we own the job."""
        stage = jobdir.read_stage(self.job)
        if stage and stage != self.stage_seen:
            self.stage_seen = stage
            changes = dict(changes, **record.at_stage(stage))
        if changes:
            jobdir.update(self.job, self.owns, changes)

    def stop(self, grace=process.TERM_GRACE):
        """Kill the extractor's whole group (TERM, then KILL), reap it, and
        kill whatever of the run lives on in other sessions."""
        try:
            process.kill_group(self.proc.pid, self.proc, grace=grace)
            self.proc.wait()
        finally:
            process.kill_marked(self.marker, self.started)

    def sweep_group(self):
        """The leader ended (by itself, a crash or a SIGKILL from outside):
        anything it left behind, in its group or in a session of its own
        (solve-field), goes too."""
        process.signal_group(self.proc.pid, signal.SIGKILL)
        process.kill_marked(self.marker, self.started)
