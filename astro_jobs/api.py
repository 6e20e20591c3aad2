"""The operations behind the CLI, the web face and the Python API.

Light on purpose: ``status``, ``result``, ``list`` and ``logs`` read files
and import neither huey nor any imaging library. Only ``submit`` and
``retry`` load the queue (never the runner or notify: tests/test_imports.py),
and only ``cancel``, ``retry`` and ``prune`` take locks.
"""
import json
import os
import re
import stat
import time

from . import config
from .errors import AstroJobsError, BadInput, InvalidParameter, JobFailed, NotReady, StorageError
from .intake import params
from .store import jobdir, layout, record
from .store.layout import Job, new_job_id
from .store.states import InvalidTransition, State, is_terminal
from .timefmt import now_iso, parse_duration

DEFAULT_LIST_LIMIT = 100
STATES = tuple(s.value for s in State)
WAIT_POLL_SECONDS = 0.05
# The most `logs --follow` waits, after a cancel, for the run's last line
# (its extractor gets seconds to stop, then is killed, then the line comes).
FOLLOW_LIMIT_SECONDS = 60.0
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


# -- submit -------------------------------------------------------------------

def _safe_name(path):
    """The image's file name, fit to be a file name in input/."""
    name = _UNSAFE_NAME.sub("_", os.path.basename(os.fsdecode(path))).lstrip(".")
    if len(name.encode()) > 160:
        stem, ext = os.path.splitext(name)
        name = stem.encode()[:150].decode("utf-8", "ignore") + ext[:10]
    return name or "image"


def _open_image(path, what="image"):
    """An open descriptor on a regular, non-empty file (an image, or ``what``) under the
    size limit."""
    shown = os.fsdecode(path)
    try:
        # O_NONBLOCK: a FIFO given as the image must not hang the caller.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BadInput(f"{what} not found: {shown}", code="image_not_found") from None
    except IsADirectoryError:
        raise BadInput(f"{what} is a directory: {shown}", code="not_a_file") from None
    except PermissionError:
        raise BadInput(f"{what} is not readable: {shown}", code="image_unreadable") from None
    except OSError as exc:
        raise BadInput(f"cannot open {what} {shown}: {exc.strerror}",
                       code="image_unreadable") from None
    info = os.fstat(fd)
    try:
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(f"{what} is a directory: {shown}", code="not_a_file")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{what} is not a regular file: {shown}", code="not_a_file")
        if info.st_size == 0:
            raise BadInput(f"{what} is an empty file: {shown}", code="empty_image")
        limit = config.max_image_bytes()
        if info.st_size > limit:
            raise BadInput(f"{what} is {info.st_size / 2**20:.1f} MB, over the limit of "
                           f"{limit / 2**20:.0f} MB (ASTRO_JOBS_MAX_IMAGE_MB)",
                           code="image_too_large")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def submit(image, *, scale_low=None, scale_high=None, scale_units=None, downsample=None,
           timeout=None, priority=None, ra=None, dec=None, radius=None, sequence=None,
           hints=None, notify=None, private=False):
    """Queue ``image`` for analysis; return the new job id.

    ``ra``, ``dec`` (degrees) and ``radius`` (degrees, default 2): where the
    field centre is thought to be; tried first, then the blind search.
    ``sequence``: a name shared by the frames of one session; each frame
    first tries where the last solved frame of its sequence pointed.
    ``hints``: solver hints the extractor's contract has no flag for yet
    (nova's ``center_ra``, ``parity``, ...), kept in the job's params.
    ``notify``: a URL that gets the final status POSTed when the job ends
    (default ASTRO_JOBS_NOTIFY_URL). ``private``: ``astro-jobs serve`` shows
    the job only to a session of its API key (nova's ``publicly_visible: "n"``).
    """
    from .intake.images import inspect  # only submit parses images (keeps status light)

    checked = params.validate(scale_low, scale_high, scale_units, downsample, timeout,
                              priority, ra, dec, radius, sequence)
    checked.update(_hints(hints), **_private(private))
    return _publish(image, "image", checked, _webhook_url(notify), lambda fd: _safe_name(image),
                    lambda copy: inspect(copy, config.max_image_pixels()))


def _publish(path, what, checked, webhook_url, name_for, inspect):
    """Copy ``path`` into a new job folder, record it, enqueue it; the job id.

    ``name_for(fd)`` names the copy in input/; ``inspect(copy)`` describes it
    (or refuses it) for status.json's ``input``; ``webhook_url`` (or None)
    gets the finish event.
    """
    fd, size = _open_image(path, what)
    job_id = new_job_id()
    try:
        name = name_for(fd)
        with jobdir.staged(job_id) as stage:
            copy = jobdir.copy_input(stage, fd, size, name)
            info = dict(inspect(copy), file=name, bytes=size)
            checked["image"] = os.fsdecode(path)
            jobdir.write_status(stage, record.new(job_id, checked, info, webhook_url))
    finally:
        os.close(fd)
    _enqueue_or_withdraw(job_id, checked["priority"])
    return job_id


def _webhook_url(notify):
    """The checked webhook URL (default ASTRO_JOBS_NOTIFY_URL), or None."""
    from .intake.urls import validate_url

    return validate_url(notify if notify is not None else config.notify_url())


def _hints(hints):
    if not hints:
        return {}
    if not isinstance(hints, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool)))
            for k, v in hints.items()):
        raise InvalidParameter("{hints} must be a dict of names to plain values")
    return {"hints": dict(hints)}


def _private(private):
    if not isinstance(private, bool):
        raise InvalidParameter("{private} must be True or False")
    return {"private": True} if private else {}


def submit_sources(sources, width, height, *, hints=None, notify=None, private=False,
                   **options):
    """Queue a star list for solving (no star detection); return the new job id.

    ``sources``: a CSV of ``x,y[,flux]`` or an astrometry.net ``.xyls`` table,
    measured on an image of ``width`` x ``height`` pixels. ``options`` are
    those of :func:`submit`.
    """
    from .intake import starlists as sourcelist

    checked = params.validate(**options)
    checked.update(_hints(hints), **_private(private))
    webhook_url = _webhook_url(notify)
    for name, value in (("width", width), ("height", height)):
        if value is None:
            raise InvalidParameter("{width} and {height} are required with a star list")
        checked[f"image_{name}"] = params.positive(name, value, int, sourcelist.MAX_DIMENSION)

    def name_for(fd):
        fits = os.pread(fd, 8, 0) == b"SIMPLE  "
        return os.path.splitext(_safe_name(sources))[0] + (".xyls" if fits else ".csv")

    return _publish(sources, "star list", checked, webhook_url, name_for, lambda copy: dict(
        sourcelist.inspect(copy), width=checked["image_width"],
        height=checked["image_height"]))


def _enqueue_or_withdraw(job_id, priority):
    """Enqueue a published job; if the queue refuses, take the job back."""
    try:
        from .queue import enqueue
        enqueue(job_id, priority)
    except AstroJobsError:
        jobdir.remove(Job(job_id))
        raise
    except Exception as exc:
        jobdir.remove(Job(job_id))
        raise StorageError(f"the queue refused the job: {exc.__class__.__name__}: {exc}",
                           code="queue_unavailable") from None


# -- reading ------------------------------------------------------------------

def status(job_id):
    """The job's status.json, as a dict."""
    return jobdir.read_status(Job(job_id))


def _ready_job(job_id):
    job = Job(job_id)
    current = jobdir.read_status(job)
    state = current["state"]
    if state == State.DONE:
        return job
    if state == State.ERROR:
        raise JobFailed(current.get("error") or "the job ended in error",
                        code="job_failed", state=state)
    if state == State.CANCELLED:
        raise JobFailed("the job was cancelled", code="job_cancelled", state=state)
    raise NotReady(f"the job is {state}; its result is not ready", state=state)


def result_bytes(job_id):
    """result.json of a done job, byte for byte."""
    job = _ready_job(job_id)
    try:
        return jobdir.read_result_bytes(job)
    except OSError:
        raise StorageError(f"job {job_id} is done but its result.json is missing",
                           code="result_missing") from None


def result(job_id):
    """The extractor's result of a done job, as a dict."""
    return json.loads(result_bytes(job_id))


NO_EXPLANATION = "the extractor found no solution and gave no reason"


def unsolved_explanation(status):
    """Why a done job found no solution: the result's sentence. None unless the job
    is done with ``"solved": false``."""
    if status.get("state") != State.DONE or status.get("solved") is not False:
        return None
    try:
        found = result(status["job_id"])
    except (AstroJobsError, ValueError):
        return NO_EXPLANATION
    explanation = found.get("explanation") if isinstance(found, dict) else None
    return explanation if isinstance(explanation, str) and explanation else NO_EXPLANATION


def wait(job_id, timeout=None, poll=WAIT_POLL_SECONDS, progress=None):
    """Block until the job is terminal; its status. NotReady after ``timeout`` s.

    ``progress(status)``, if given, is called after each look at the job.
    """
    job = Job(job_id)
    timeout = params.positive("timeout", timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    last_mtime = None
    while True:
        try:
            mtime = os.stat(job.status_path).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime != last_mtime or mtime is None:
            current = jobdir.read_status(job)
            if is_terminal(current["state"]):
                return current
            last_mtime = mtime
        if progress is not None:
            progress(current)
        if deadline is not None and time.monotonic() >= deadline:
            alive = consumers_alive()
            raise NotReady(f"the job is still {current['state']} after {timeout:g} s"
                           + ("" if alive else f"; {NO_CONSUMER}"),
                           code="wait_timeout", state=current["state"],
                           consumers_alive=alive)
        time.sleep(poll)


NO_CONSUMER = ("no consumer is alive for this JOBS_DIR: start one (the Procfile's worker "
               "or the systemd unit) and the job will run")


def consumers_alive():
    """How many consumers of this JOBS_DIR beat recently (store/consumers.py)."""
    from .store.consumers import alive_count
    return alive_count()


def list_jobs(state=None, limit=DEFAULT_LIST_LIMIT):
    """Statuses of jobs, newest first, optionally only those in ``state``."""
    params.choice("state", state, [s.value for s in State])
    limit = params.positive("limit", limit, int)
    jobs = []
    for job_id in jobdir.job_ids():
        try:
            current = jobdir.read_status(job_id)  # by id: no Path per job
        except AstroJobsError:
            continue  # pruned while we looked
        if state is None or current["state"] == state:
            jobs.append(current)
    jobs.sort(key=lambda s: (s["created_at"], s["job_id"]), reverse=True)
    return jobs[:limit]


def logs(job_id, tail=None):
    """The job's task.log (its last ``tail`` lines) as text."""
    from .store import tasklog  # the log's readers only: submit and status never need it

    job = Job(job_id)
    jobdir.read_status(job)  # JobNotFound for a job that does not exist
    tail = params.number("tail", tail, int, 0, 10**7)
    return tasklog.read(job, tail)


def follow_logs(job_id, tail=None, poll=WAIT_POLL_SECONDS):
    """task.log as it grows, in chunks of bytes, until the job has ended and the
    log is drained (``tail -f`` that stops by itself), its last line included."""
    from .store import tasklog

    job = Job(job_id)
    jobdir.read_status(job)  # JobNotFound for a job that does not exist
    tail = params.number("tail", tail, int, 0, 10**7)
    data, offset = tasklog.read_from(job, 0, tail)
    ended = None  # (state, monotonic time) once the job is terminal
    while True:
        if data:
            yield data
        if ended is None:
            state = jobdir.read_status(job)["state"]
            ended = (state, time.monotonic()) if is_terminal(state) else None
        data, offset = tasklog.read_from(job, offset)
        if not data and ended is not None and _log_finished(job, *ended):
            return
        if not data:
            time.sleep(poll)


def _log_finished(job, state, ended_at):
    """Whether the ended job's runs have all written their last line. A cancel
    ends the job first; its run then stops the extractor (TERM, then KILL
    seconds later) and only then says so in task.log. That run writes while
    its consumer lives; past FOLLOW_LIMIT_SECONDS nobody waits any longer."""
    from .store import tasklog

    if state != State.CANCELLED or not tasklog.run_open(job):
        return True
    waited = time.monotonic() - ended_at
    if waited > FOLLOW_LIMIT_SECONDS:
        return True
    return waited > config.stale_after_seconds() and not _consumer_alive(job)


def _consumer_alive(job):
    """Whether the consumer the job's status names is alive (the registry says)."""
    from .store.consumers import list_consumers

    instance = record.instance(jobdir.read_status(job))
    return any(entry.get("instance") == instance and entry.get("alive")
               for entry in list_consumers())


# -- changing -----------------------------------------------------------------

def cancel(job_id):
    """Cancel a queued or running job; its new status. A running extractor is killed."""
    job = Job(job_id)
    # Cancelling twice is fine; cancelling a finished job is refused by the
    # transition table (already_finished). The run notices within a fraction
    # of a second and kills its extractor.
    changed = jobdir.transition(job, State.CANCELLED, record.ended(stage=None),
                                guard=lambda s: s["state"] != State.CANCELLED)
    return changed if changed is not None else jobdir.read_status(job)


def prune(older_than):
    """Remove terminal jobs older than ``older_than`` (``"12h"``, or seconds); the count."""
    from .store import retention  # job folders only: neither huey nor the queue

    seconds = parse_duration(older_than) if isinstance(older_than, str) else \
        params.number("older_than", older_than, float, 0)
    return retention.prune(seconds)


# -- retry: a new attempt of the same job (same id, input and parameters) ---------

RETRY_REFUSED = {
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
    refused = RETRY_REFUSED.get(State(status["state"]))
    if refused is not None:
        code, message = refused
        raise InvalidTransition(message, code=code, state=status["state"])


def retry(job_id):
    """Run a job that ended in error, was cancelled or did not solve again; its new
    status.

    ``attempts`` + 1, a fresh budget of ASTRO_JOBS_MAX_ATTEMPTS for crashes,
    the webhook armed again, and a line in task.log; ``last_failure`` keeps
    how the previous attempt ended.
    """
    job = Job(job_id)
    seen = jobdir.read_status(job)
    _check_retryable(job, seen)
    changes = record.retried(seen)

    def unchanged(status):
        _check_retryable(job, status)
        return status.get("attempts") == seen.get("attempts") and \
            status["state"] == seen["state"]

    status = jobdir.transition(job, State.QUEUED, changes, guard=unchanged)
    if status is None:
        raise StorageError("the job changed while it was being retried; try again",
                           code="retry_conflict")
    from .store import tasklog

    tasklog.append(job, f"--- {now_iso()} retry: attempt {changes['attempts']} "
                        f"queued ({changes['last_failure']})")
    _enqueue_or_restore(job, seen, status, changes)
    return status


def _enqueue_or_restore(job, seen, status, changes):
    """Enqueue the retried job; if the queue refuses, the job ends as it was."""
    try:
        from .queue import enqueue
        enqueue(job.job_id, record.priority(status))
    except Exception as exc:
        restore = {key: seen.get(key) for key in changes}
        jobdir.transition(job, seen["state"], restore,
                          guard=lambda s: s["attempts"] == status["attempts"]
                          and s["state"] == State.QUEUED)
        if isinstance(exc, AstroJobsError):
            raise
        raise StorageError(f"the queue refused the job: {exc.__class__.__name__}: {exc}",
                           code="queue_unavailable") from None


def activity(hours=24, now=None):
    """Jobs that ended in each of the last ``hours`` clock hours (solved, unsolved,
    error, cancelled), oldest first: a night at a glance."""
    from .report.stats import activity as per_hour

    return per_hour(now, params.number("hours", hours, int, 1, 24 * 31))


def stats(now=None):
    """The queue at a glance: counts, oldest queued job, recent run times, consumers."""
    from .report.stats import collect

    return collect(now)


# -- sessions of astro-jobs serve's API key ----------------------------------

def open_session(ttl):
    """A new session key of the API key, live for ``ttl`` seconds, on every
    server sharing JOBS_DIR."""
    from .store import sessions
    return sessions.create(ttl)


def session_alive(session):
    from .store import sessions
    return sessions.alive(session)


def close_session(session):
    from .store import sessions
    sessions.end(session)


# -- what the web face needs of a job's folder (it never imports the store) --------

def worker_of(status):
    """Who runs (or last ran) the job: node, pid, instance, ... ({} while queued)."""
    return record.worker(status)


def validate_job_id(job_id):
    """``job_id`` if it is one (32 lowercase hex digits); BadInput otherwise."""
    return layout.validate_job_id(job_id)


def job_exists(job_id):
    return Job(job_id).status_path.exists()


def input_path(status):
    """The submitted image's copy in the job's input/; None if it is not a regular
    file inside input/ (a planted link leads nowhere)."""
    return Job(status["job_id"]).contained_input(status)


def output_path(job_id, name):
    """An output file by its name in result.json's ``files``; None if absent (or
    if the name leads outside output/)."""
    return Job(job_id).output_file(name)


def output_head(job_id, name, limit):
    """The first ``limit`` bytes of output file ``name``, or None if there is none."""
    return jobdir.read_output_head(Job(job_id), name, limit)


def web_ids_path():
    """Where the web face keeps its integer ids (JOBS_DIR created if missing)."""
    return layout.web_ids_db_path()
