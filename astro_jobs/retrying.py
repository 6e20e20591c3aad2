"""Run a job that ended in ``error``, was cancelled or did not solve again, from its
own input.

A retry is a new attempt of the same job: same id, input and parameters,
``attempts`` + 1, a fresh budget of ASTRO_JOBS_MAX_ATTEMPTS for crashes,
the webhook armed again, and a line in task.log; ``last_failure`` keeps how
the previous attempt ended.
"""
import json

from . import config
from .errors import AstroJobsError, StorageError
from .notify import events as notify
from .store import jobdir
from .store.states import InvalidTransition, State
from .timefmt import now_iso

REFUSED = {
    State.DONE: ("already_done", "the job solved; only a job that did not solve, ended "
                                 "in error or was cancelled can be retried"),
    State.QUEUED: ("already_queued", "the job is queued already; it will run"),
    State.PROCESSING: ("still_processing", "the job is running; cancel it first to "
                                           "retry it"),
}


def _unsolved(job, status):
    """Whether a done job did not solve: status.json's ``solved`` when it has one,
    else its result.json's."""
    if status.get("solved") is not None:
        return status["solved"] is False
    try:
        return json.loads(jobdir.read_result_bytes(job)).get("solved") is False
    except (OSError, ValueError, AttributeError):
        return False


def _check_retryable(job, status):
    if status["state"] == State.DONE and _unsolved(job, status):
        return
    refused = REFUSED.get(State(status["state"]))
    if refused is not None:
        code, message = refused
        raise InvalidTransition(message, code=code, state=status["state"])


def _changes(seen):
    attempts = seen.get("attempts", 1) + 1
    ended = f"attempt {attempts - 1} ended {seen['state']}"
    if seen.get("error"):
        ended += f": {seen['error']}"
    notify_was = seen.get("notify")
    return {
        "attempts": attempts,
        "max_attempts": attempts + config.max_attempts() - 1,
        "queued_at": now_iso(),
        "started_at": None, "finished_at": None, "heartbeat_at": None,
        "worker": None, "stage": None, "error": None, "solved": None,
        "last_failure": ended,
        "finish_event": None,
        "notify": notify.new_notify(notify_was["url"]) if notify_was else None,
    }


def retry(job_id):
    """Put an ``error``, ``cancelled`` or unsolved ``done`` job back to ``queued``;
    its new status."""
    job = jobdir.Job(job_id)
    seen = jobdir.read_status(job)
    _check_retryable(job, seen)
    changes = _changes(seen)

    def unchanged(status):
        _check_retryable(job, status)
        return status.get("attempts") == seen.get("attempts") and \
            status["state"] == seen["state"]

    status = jobdir.transition(job, State.QUEUED, guard=unchanged, **changes)
    if status is None:
        raise StorageError("the job changed while it was being retried; try again",
                           code="retry_conflict")
    jobdir.append_log(job, f"--- {now_iso()} retry: attempt {changes['attempts']} "
                           f"queued ({changes['last_failure']})")
    _enqueue_or_restore(job, seen, status)
    return status


def _enqueue_or_restore(job, seen, status):
    """Enqueue the retried job; if the queue refuses, the job ends as it was."""
    try:
        from .runner.worker import enqueue
        enqueue(job.job_id, status["params"].get("priority", 0))
    except Exception as exc:
        restore = {key: seen.get(key) for key in _changes(seen)}
        jobdir.transition(job, seen["state"], guard=lambda s: s["attempts"] == status["attempts"]
                          and s["state"] == State.QUEUED, **restore)
        if isinstance(exc, AstroJobsError):
            raise
        raise StorageError(f"the queue refused the job: {exc.__class__.__name__}: {exc}",
                           code="queue_unavailable") from None
