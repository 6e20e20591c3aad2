"""Every path in JOBS_DIR: the only code that joins them.

Layout::

    $JOBS_DIR/queue.sqlite3        Huey's queue (SQLite storage only)
    $JOBS_DIR/consumers/<instance>.json
                                   one per consumer process: who, heartbeat
    $JOBS_DIR/.stats-index.json    what ``stats`` knows of finished jobs (a cache)
    $JOBS_DIR/.stats-reopened      ids of finished jobs made unfinished (retried)
    $JOBS_DIR/web-ids.sqlite3      integer ids of `astro-jobs serve` (nova's clients)
    $JOBS_DIR/web-sessions.sqlite3 live sessions of its API key, hashed
    $JOBS_DIR/sequences/<name>.json
                                   the last solved frame of each sequence (and .lock)
    $JOBS_DIR/<job_id>/
        input/<image>              the submitted image (a copy)
        output/result.json         the extractor's result and its files
        status.json                the truth about the job; replaced atomically
        task.log                   the extractor's stdout and stderr
        stage                      the extractor's current stage (while running)
        .lock                      held while status.json is read-modified-written
    $JOBS_DIR/.incoming-<job_id>/  a job folder being built (published by rename)
    $JOBS_DIR/.trash-<job_id>.<x>/ a job folder being deleted

Nothing here creates anything except :func:`ensure_root`.
"""
import errno
import os
import re
import uuid
from pathlib import Path

from .. import config
from ..errors import BadInput, StorageError

JOB_ID = re.compile(r"[0-9a-f]{32}")
# Group-shared, never world-writable: the backend that submits and the
# consumer that runs jobs may be different users of one group.
DIR_MODE = 0o770
FILE_MODE = 0o660
QUEUE_DB = "queue.sqlite3"
WAKEUP = ".wakeup"
CONSUMERS = "consumers"
CONSUMER_INSTANCE = re.compile(r"[0-9a-f]{6,32}")
WEB_IDS_DB = "web-ids.sqlite3"
WEB_SESSIONS_DB = "web-sessions.sqlite3"
INCOMING = ".incoming-"
TRASH = ".trash-"
STATS_INDEX = ".stats-index.json"
REOPENED = ".stats-reopened"
STATUS = "status.json"
SEQUENCES = "sequences"


def root():
    return Path(config.jobs_dir())


def ensure_root():
    """JOBS_DIR, created if missing; a clear error if it cannot be used."""
    path = root()
    try:
        if not path.is_dir():
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask; the group bits must survive it.
            os.chmod(path, DIR_MODE)
    except OSError as exc:
        raise storage_error(exc, f"cannot create JOBS_DIR {path}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(f"JOBS_DIR is not writable: {path}", code="jobs_dir_unwritable")
    return path


def storage_error(exc, what):
    """The StorageError (with its code) for an OSError met while doing ``what``."""
    if exc.errno == errno.ENOSPC:
        return StorageError(f"{what}: no space left on device", code="disk_full")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"{what}: permission denied", code="jobs_dir_unwritable")
    return StorageError(f"{what}: {exc.strerror or exc}")


def queue_db_path():
    """Where the SQLite queue is, JOBS_DIR created if missing."""
    return ensure_root() / QUEUE_DB


def queue_db_file():
    """Where the SQLite queue is (or will be), without creating anything."""
    return root() / QUEUE_DB


def wakeup_path():
    """The named pipe by which a submit wakes an idle consumer (wakeup.py)."""
    return root() / WAKEUP


def web_ids_db_path():
    """The web face's table of integer ids (nova's clients parse ids as integers)."""
    return ensure_root() / WEB_IDS_DB


def web_sessions_db_path():
    """The web face's live sessions of the API key, hashed (store/sessions.py)."""
    return ensure_root() / WEB_SESSIONS_DB


def stats_index_path():
    return root() / STATS_INDEX


def reopened_path():
    return root() / REOPENED


def consumers_dir():
    return root() / CONSUMERS


def sequences_dir():
    return root() / SEQUENCES


def consumer_path(instance):
    if not isinstance(instance, str) or not CONSUMER_INSTANCE.fullmatch(instance):
        raise BadInput(f"invalid consumer instance {instance!r}", code="invalid_parameter")
    return consumers_dir() / f"{instance}.json"


def probe_path():
    """A fresh name for a file that proves JOBS_DIR writable."""
    return root() / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def new_job_id():
    return uuid.uuid4().hex


def validate_job_id(job_id):
    """A job id becomes a path: accept exactly 32 lowercase hex digits."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise BadInput(f"invalid job id {job_id!r}: expected 32 lowercase hex digits",
                       code="invalid_job_id")
    return job_id


def status_file(base, job_id):
    """status.json of a job id listed in folder ``base`` (a str: scans of many
    jobs skip Path objects, a third of their cost)."""
    return os.path.join(base, job_id, STATUS)


class Job:
    """Paths of one job folder (existing or not)."""

    __slots__ = ("job_id", "path")

    def __init__(self, job_id, path=None):
        self.job_id = validate_job_id(job_id)
        self.path = Path(path) if path is not None else root() / job_id

    def __repr__(self):
        return f"Job({self.job_id!r})"

    input_dir = property(lambda self: self.path / "input")
    output_dir = property(lambda self: self.path / "output")
    status_path = property(lambda self: self.path / STATUS)
    log_path = property(lambda self: self.path / "task.log")
    lock_path = property(lambda self: self.path / ".lock")
    stage_path = property(lambda self: self.path / "stage")
    result_path = property(lambda self: self.output_dir / "result.json")

    def staging(self):
        """The hidden folder this job is built in before it is published."""
        return Job(self.job_id, self.path.with_name(f"{INCOMING}{self.job_id}"))

    def trash_path(self):
        """A fresh hidden name the folder is renamed to before it is deleted."""
        return self.path.with_name(f"{TRASH}{self.job_id}.{uuid.uuid4().hex[:8]}")

    def input_file(self, status):
        return self.input_dir / status["input"]["file"]

    def output_file(self, relative):
        """A file the extractor wrote, by its name in result.json; None if absent.

        The name comes from the extractor's output: it must stay inside output/.
        """
        return self.contained_file("output", relative)

    def contained_input(self, status):
        """The job's input file as ``contained_file`` finds it, or None."""
        return self.contained_file("input", (status.get("input") or {}).get("file"))

    def contained_file(self, folder, relative):
        """``folder/relative`` of this job as a path free of symlinks, if it is a
        regular file that stays inside that folder of this job once every link
        is resolved (resolve and compare); else None. Served files pass here: a
        link planted in input/ or output/ never leads out of the job."""
        if not isinstance(relative, str) or not relative or "\0" in relative:
            return None
        try:
            job_folder = self.path.resolve()
            base = (self.path / folder).resolve()
            path = (base / relative).resolve()
        except (OSError, RuntimeError):  # a loop of links, a name too long
            return None
        if job_folder != root().resolve() / self.job_id or base != job_folder / folder:
            return None  # the job folder or its input/ or output/ is itself a link
        if base not in path.parents or not path.is_file():
            return None
        return path
