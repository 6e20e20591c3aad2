"""The status record: the one owner of status.json's shape.

Every field a job's status.json can hold is declared in :class:`Status`
(and its parts); it is made by :func:`new`, serialized by :func:`dumps` and
read back by :func:`loads`, and every change a writer makes is built here:
the transitions (:func:`claimed`, :func:`requeued`, :func:`retried`,
:func:`gave_up`, :func:`ended`) and the smaller updates (:func:`beat`,
:func:`at_stage`, :func:`with_pgid`, :func:`with_event`, :func:`with_webhook`). ``jobdir``
applies them under the job's lock. Readers take the optional parts through
:func:`worker`, :func:`event` and :func:`webhook`, which always return a
dict. docs/contract.md says the same for callers.

Pure: values in, values out; no file is touched here.
"""
import json
from typing import Optional, TypedDict

from .. import config
from ..timefmt import now_iso
from .states import State, is_terminal


class Worker(TypedDict, total=False):
    """Who runs the current attempt: set when it is claimed, None while queued."""

    node: str  # ASTRO_JOBS_NODE, or the hostname
    pid: int  # the consumer process
    instance: str  # the consumer incarnation (pids are reused)
    thread: str  # the consumer's worker thread
    pgid: int  # the extractor's process group, once it started


class Webhook(TypedDict, total=False):
    """``notify``: the webhook of a job submitted with one."""

    url: str
    attempts: int  # deliveries tried for the current finish event
    delivered_at: Optional[str]
    last_error: Optional[str]
    next_attempt_at: Optional[str]


class FinishEvent(TypedDict, total=False):
    """``finish_event``: the report of the job's end, leased by one consumer."""

    pending: bool
    owner: Optional[str]  # the consumer instance holding the lease
    lease_until: Optional[str]
    hook: Optional[dict]  # how ASTRO_JOBS_ON_FINISH ended, once it ran
    settled_at: str


class Status(TypedDict, total=False):
    """status.json. The first fifteen fields are always there (in this order);
    the rest appear once something sets them."""

    job_id: str
    state: str  # a State's value
    created_at: str  # ISO 8601 UTC, as timefmt.iso writes them
    updated_at: str
    started_at: Optional[str]
    finished_at: Optional[str]
    params: dict  # intake.params' checked parameters, plus "image" and "hints"
    input: dict  # the copy in input/: file, bytes, and what its header said
    attempts: int  # the number of the current (or last) attempt
    max_attempts: int
    worker: Optional[Worker]
    stage: Optional[str]  # the extractor's stage while it runs
    heartbeat_at: Optional[str]
    error: Optional[str]  # a sentence, when state is error
    solved: Optional[bool]  # once done, whether the result found a solution; else None
    notify: Optional[Webhook]
    beat: Optional[int]  # the run's heartbeat counter: what observers watch
    last_failure: str  # how the previous attempt ended (recovery, retry)
    queued_at: str  # when a retry queued the job again
    finish_event: Optional[FinishEvent]


def new(job_id, params, image, notify_url=None) -> Status:
    """A just-submitted job's status."""
    now = now_iso()
    status = Status(job_id=job_id, state=State.QUEUED.value, created_at=now, updated_at=now,
                    started_at=None, finished_at=None, params=params, input=image,
                    attempts=1, max_attempts=config.max_attempts(), worker=None, stage=None,
                    heartbeat_at=None, error=None, solved=None)
    if notify_url:
        status["notify"] = new_webhook(notify_url)
    return status


def new_webhook(url) -> Webhook:
    return Webhook(url=url, attempts=0, delivered_at=None, last_error=None,
                   next_attempt_at=None)


def dumps(status) -> bytes:
    return json.dumps(status, indent=1, sort_keys=False).encode() + b"\n"


def loads(data) -> Status:
    """The record in ``data``; ValueError if it is not one (not JSON, no state)."""
    status = json.loads(data)
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        raise ValueError("not a status record")
    return status


# -- reading the optional parts -------------------------------------------------

def _part(status, name):
    value = status.get(name)
    return value if isinstance(value, dict) else {}


def worker(status) -> Worker:
    """The current attempt's worker ({} while queued)."""
    return _part(status, "worker")


def event(status) -> FinishEvent:
    """The finish event ({} before the job ended)."""
    return _part(status, "finish_event")


def webhook(status) -> Webhook:
    """The webhook part ({} for a job without one)."""
    return _part(status, "notify")


def instance(status):
    return worker(status).get("instance")


def priority(status):
    return status["params"].get("priority", 0)


def pending_event(status):
    return bool(event(status).get("pending"))


# -- changes: what a writer passes to jobdir.transition / jobdir.update ----------

def worker_of(node, pid, instance_id, thread) -> Worker:
    return Worker(node=node, pid=pid, instance=instance_id, thread=thread)


def claimed(run_worker):
    """queued -> processing by ``run_worker``."""
    now = now_iso()
    return {"started_at": now, "heartbeat_at": now, "beat": 0, "worker": run_worker,
            "stage": None, "error": None, "finished_at": None, "solved": None}


def requeued(seen, reason):
    """processing -> queued: the run ``seen`` was lost; the next attempt."""
    return {"attempts": seen.get("attempts", 1) + 1, "started_at": None,
            "heartbeat_at": None, "beat": None, "worker": None,
            "last_failure": f"{reason} during attempt {seen.get('attempts', 1)} "
                            f"({where(seen)})",
            "stage": None}


def where(status):
    """The lost run's place, as requeued's and gave_up's sentences say it."""
    run = worker(status)
    return f"node {run.get('node')}, pid {run.get('pid')}"


def attempt_limit(status):
    return status.get("max_attempts") or config.max_attempts()


def gave_up(seen, reason):
    """processing -> error: the run ``seen`` was lost at its last attempt."""
    attempts, limit = seen.get("attempts", 1), attempt_limit(seen)
    return ended(f"{reason} during attempt {attempts} of {limit} ({where(seen)}); giving up.",
                 stage=None)


def retried(seen):
    """error|cancelled|done unsolved -> queued: an operator's retry of the attempt
    ``seen``."""
    attempts = seen.get("attempts", 1) + 1
    failure = f"attempt {attempts - 1} ended {seen['state']}"
    if seen.get("error"):
        failure += f": {seen['error']}"
    hook = webhook(seen)
    return {
        "attempts": attempts,
        "max_attempts": attempts + config.max_attempts() - 1,
        "queued_at": now_iso(),
        "started_at": None, "finished_at": None, "heartbeat_at": None,
        "worker": None, "stage": None, "error": None, "solved": None,
        "last_failure": failure,
        "finish_event": None,
        "notify": new_webhook(hook["url"]) if hook else None,
    }


def ended(error=None, **more):
    """-> done|error|cancelled: when, and why if it failed (``error``: a sentence)."""
    changes = {"finished_at": now_iso(), **more}
    if error is not None:
        changes["error"] = error
    return changes


def beat(count):
    return {"heartbeat_at": now_iso(), "beat": count}


def at_stage(stage):
    return {"stage": stage}


def with_pgid(status, pgid):
    return {"worker": dict(worker(status), pgid=pgid)}


def with_event(status, **changes):
    return {"finish_event": dict(event(status), **changes)}


def with_webhook(status, **changes):
    return {"notify": dict(webhook(status), **changes)}


def apply(status, changes, state=None):
    """``status`` with ``changes`` (and the new ``state``) made, stamped now.

    A move to a terminal state marks the finish event pending: every end is
    reported (notify.events), whichever path made it.
    """
    if state is not None:
        if is_terminal(state):
            changes = dict(changes)
            changes.setdefault("finish_event", {"pending": True})
        status.update(changes, state=str(state), updated_at=now_iso())
    else:
        status.update(changes, updated_at=now_iso())
    return status
