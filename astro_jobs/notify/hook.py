"""ASTRO_JOBS_ON_FINISH: the operator's program, run once when a job ends.

An argument list, never a shell: ``PROGRAM JOB_ID STATE``, the status JSON on
stdin, stdout and stderr appended to the job's task.log, in its own session
so that a hook that hangs is killed whole at its timeout.
"""
import json
import os
import signal
import subprocess
import time

from .. import config, process
from ..store import tasklog
from ..timefmt import now_iso


def run(job, program, status):
    """Run the hook for ``status``; a short sentence of how it ended (for status.json)."""
    timeout = config.on_finish_timeout_seconds()
    tasklog.append(job, f"--- {now_iso()} on-finish hook: {program} {job.job_id} "
                           f"{status['state']}")
    started = time.monotonic()
    try:
        ended = _run(job, [program, job.job_id, status["state"]],
                     json.dumps(status).encode(), timeout)
    except OSError as exc:
        ended = f"could not start: {exc.strerror or exc}"
    tasklog.append(job, f"--- {now_iso()} on-finish hook {ended} "
                           f"after {time.monotonic() - started:.2f} s")
    return ended


def _run(job, argv, stdin_bytes, timeout):
    log = tasklog.open_for_append(job)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=log,
                                cwd=job.path, start_new_session=True, close_fds=True)
    finally:
        os.close(log)
    try:
        proc.communicate(stdin_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill_group(proc.pid, proc, grace=1.0)
        proc.wait()
        return f"killed at its timeout ({timeout:g} s, ASTRO_JOBS_ON_FINISH_TIMEOUT)"
    process.signal_group(proc.pid, signal.SIGKILL)  # what it left running in its group
    return process.describe_exit(proc.returncode)
