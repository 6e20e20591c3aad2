"""The only code that builds paths in JOBS_DIR or touches status.json.

Layout::

    $JOBS_DIR/queue.sqlite3        Huey's queue (SQLite storage only)
    $JOBS_DIR/consumers/<instance>.json
                                   one per consumer process: who, heartbeat
    $JOBS_DIR/.stats-index.json    what ``stats`` knows of finished jobs (a cache)
    $JOBS_DIR/.stats-reopened      ids of finished jobs made unfinished (retried)
    $JOBS_DIR/web-ids.sqlite3      integer ids of `astro-jobs serve` (nova's clients)
    $JOBS_DIR/web-sessions.sqlite3 live sessions of its API key, hashed
    $JOBS_DIR/<job_id>/
        input/<image>              the submitted image (a copy)
        output/result.json         the extractor's result and its files
        status.json                the truth about the job; replaced atomically
        task.log                   the extractor's stdout and stderr
        stage                      the extractor's current stage (while running)
        .lock                      held while status.json is read-modified-written

A job folder appears in one ``rename`` once it is complete, and disappears in
one ``rename`` before it is deleted, so readers never meet half a job.
"""
import contextlib
import errno
import json
import os
import re
import shutil
import stat as stat_module
import threading
import time
import uuid
from enum import Enum
from pathlib import Path

from .. import config
from ..errors import BadInput, JobNotFound, StorageError
from ..timefmt import now_iso
from .atomic import write_atomically
from .states import check_transition, is_terminal

JOB_ID = re.compile(r"[0-9a-f]{32}")
# Group-shared, never world-writable: the backend that submits and the
# consumer that runs jobs may be different users of one group.
DIR_MODE = 0o770
FILE_MODE = 0o660
QUEUE_DB = "queue.sqlite3"
CONSUMERS = "consumers"
CONSUMER_INSTANCE = re.compile(r"[0-9a-f]{6,32}")
WEB_IDS_DB = "web-ids.sqlite3"
WEB_SESSIONS_DB = "web-sessions.sqlite3"
INCOMING = ".incoming-"
STATS_INDEX = ".stats-index.json"
REOPENED = ".stats-reopened"
TRASH = ".trash-"
LOCK_TIMEOUT = 60.0


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


def queue_db_path():
    return ensure_root() / QUEUE_DB


def queue_db_file():
    """Where the SQLite queue is (or will be), without creating anything."""
    return root() / QUEUE_DB


def probe_writable():
    """Create and delete a file in JOBS_DIR; the OSError if that fails."""
    probe = root() / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc
    return None


def web_ids_db_path():
    """The web face's table of integer ids (nova's clients parse ids as integers)."""
    return ensure_root() / WEB_IDS_DB


def web_sessions_db_path():
    """The web face's live sessions of the API key, hashed (store/sessions.py)."""
    return ensure_root() / WEB_SESSIONS_DB


def storage_error(exc, what):
    if exc.errno == errno.ENOSPC:
        return StorageError(f"{what}: no space left on device", code="disk_full")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"{what}: permission denied", code="jobs_dir_unwritable")
    return StorageError(f"{what}: {exc.strerror or exc}")


def new_job_id():
    return uuid.uuid4().hex


def validate_job_id(job_id):
    """A job id becomes a path: accept exactly 32 lowercase hex digits."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise BadInput(f"invalid job id {job_id!r}: expected 32 lowercase hex digits",
                       code="invalid_job_id")
    return job_id


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
    status_path = property(lambda self: self.path / "status.json")
    log_path = property(lambda self: self.path / "task.log")
    lock_path = property(lambda self: self.path / ".lock")
    stage_path = property(lambda self: self.path / "stage")
    result_path = property(lambda self: self.output_dir / "result.json")

    def input_file(self, status):
        return self.input_dir / status["input"]["file"]


def job_ids():
    """The id of every job folder, in no particular order (one directory read)."""
    match = JOB_ID.fullmatch
    with contextlib.suppress(FileNotFoundError), os.scandir(root()) as entries:
        for entry in entries:
            if match(entry.name) and entry.is_dir(follow_symlinks=False):
                yield entry.name


def note_reopened(job_id):
    """Record that a finished job is becoming unfinished (a retry), for the stats
    index; one line appended, so concurrent writers never mix."""
    try:
        fd = os.open(root() / REOPENED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise storage_error(exc, "cannot record a retry for stats") from None
    try:
        os.write(fd, job_id.encode() + b"\n")
    finally:
        os.close(fd)


def read_reopened(offset):
    """(ids noted by :func:`note_reopened` from byte ``offset`` on, the offset after)."""
    try:
        with open(root() / REOPENED, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return set(), 0
    data = data[:data.rfind(b"\n") + 1]  # a line being written counts next time
    return set(data.decode("ascii", "replace").split()), offset + len(data)


def read_stats_index():
    """The stats index as written by :func:`write_stats_index`, or None."""
    try:
        with open(root() / STATS_INDEX, "rb") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_stats_index(index):
    """Replace the stats index; False if JOBS_DIR refuses (it is only a cache)."""
    try:
        write_atomically(root() / STATS_INDEX, json.dumps(index, separators=(",", ":")).encode(),
                         FILE_MODE, durable=False)
        return True
    except OSError:
        return False


def iter_jobs():
    """Every job folder in JOBS_DIR, in no particular order."""
    try:
        entries = os.scandir(root())
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if JOB_ID.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                yield Job(entry.name, entry.path)


# -- status.json ------------------------------------------------------------

def read_status(job):
    try:
        with open(job.status_path, "rb") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise JobNotFound(f"no such job: {job.job_id}") from None
    except ValueError:
        raise StorageError(f"status.json of job {job.job_id} is not valid JSON",
                           code="corrupt_status") from None


def status_reader():
    """``read(job_id)``: read_status for scans of many jobs, whose ids come from
    :func:`job_ids` (no Path objects: a third of the cost of a scan)."""
    base = str(root())

    def read(job_id):
        try:
            with open(os.path.join(base, job_id, "status.json"), "rb") as handle:
                return json.loads(handle.read())
        except FileNotFoundError:
            raise JobNotFound(f"no such job: {job_id}") from None
        except ValueError:
            raise StorageError(f"status.json of job {job_id} is not valid JSON",
                               code="corrupt_status") from None
    return read


def write_json_atomic(path, data, durable=True):
    """Write ``data`` as JSON to ``path`` so readers see the old or the new file."""
    payload = json.dumps(data, indent=1, sort_keys=False).encode() + b"\n"
    try:
        write_atomically(path, payload, FILE_MODE, durable)
    except OSError as exc:
        raise storage_error(exc, f"cannot write {path.name} of job {path.parent.name}") from None


def write_status(job, status, durable=True):
    write_json_atomic(job.status_path, status, durable)


# flock() on NFS (and CIFS) is emulated with POSIX record locks, which belong
# to the process, not to the open file: two threads of one consumer would
# both "hold" a job's file lock, and either's release would drop the other's.
# A lock per job inside the process (striped: job ids are uniform) keeps the
# threads apart on every filesystem; the file lock keeps processes apart.
_THREAD_LOCKS = tuple(threading.RLock() for _ in range(64))


def _thread_lock(job):
    return _THREAD_LOCKS[int(job.job_id[:8], 16) % len(_THREAD_LOCKS)]


@contextlib.contextmanager
def locked(job):
    """Hold the job's lock; JobNotFound if the folder is gone."""
    from filelock import FileLock, Timeout  # only writers pay for the import

    if not job.path.is_dir():
        raise JobNotFound(f"no such job: {job.job_id}")
    timed_out = StorageError(f"job {job.job_id} stayed locked for {LOCK_TIMEOUT:.0f} s",
                             code="lock_timeout")
    in_process = _thread_lock(job)
    if not in_process.acquire(timeout=LOCK_TIMEOUT):
        raise timed_out
    try:
        lock = FileLock(str(job.lock_path), timeout=LOCK_TIMEOUT, mode=FILE_MODE)
        try:
            lock.acquire()
        except Timeout:
            raise timed_out from None
        except FileNotFoundError:
            raise JobNotFound(f"no such job: {job.job_id}") from None
        except OSError as exc:
            raise storage_error(exc, f"cannot lock job {job.job_id}") from None
        try:
            yield
        finally:
            lock.release()
    finally:
        in_process.release()


def transition(job, new_state, guard=None, durable=True, before_write=None, **changes):
    """Move the job to ``new_state`` under its lock; return the new status.

    ``guard(status)``, a pure predicate, may veto the change by returning
    False (then None is returned and nothing is written): it is how a run
    checks that the job is still the one it claimed. ``before_write()`` is
    the side effect that must happen under the lock once the change is
    decided, before it is recorded (killing what a lost run left behind).
    """
    with locked(job):
        status = read_status(job)
        if guard is not None and not guard(status):
            return None
        check_transition(status["state"], new_state)
        if before_write is not None:
            before_write()
        if is_terminal(status["state"]):
            note_reopened(job.job_id)  # before the change: see queue_stats.py
        if is_terminal(new_state):
            # Every end is an event the consumers report (notify.py); marked
            # here so that no path to a terminal state can forget it.
            changes.setdefault("finish_event", {"pending": True})
        status.update(changes, state=str(new_state), updated_at=now_iso())
        write_status(job, status, durable)
        return status


def update(job, guard, durable=False, **changes):
    """Change fields other than the state, under the lock, if ``guard`` allows."""
    with locked(job):
        status = read_status(job)
        if not guard(status):
            return None
        status.update(changes, updated_at=now_iso())
        write_status(job, status, durable)
        return status


# -- creating and removing job folders ----------------------------------------

@contextlib.contextmanager
def staged(job_id):
    """A job folder built under a hidden name and published by one rename.

    Yields the staging Job; if the block raises, the folder is removed, so a
    rejected submit leaves nothing behind.
    """
    base = ensure_root()
    final = Job(job_id, base / job_id)
    stage = Job(job_id, base / f"{INCOMING}{job_id}")
    try:
        stage.path.mkdir(mode=DIR_MODE)
        stage.input_dir.mkdir(mode=DIR_MODE)
        stage.output_dir.mkdir(mode=DIR_MODE)
        # mkdir's mode is filtered by the umask; the group bits must survive it.
        for folder in (stage.path, stage.input_dir, stage.output_dir):
            os.chmod(folder, DIR_MODE)
    except OSError as exc:
        shutil.rmtree(stage.path, ignore_errors=True)
        raise storage_error(exc, "cannot create a job folder") from None
    try:
        yield stage
        os.rename(stage.path, final.path)
    except BaseException as exc:
        shutil.rmtree(stage.path, ignore_errors=True)
        if isinstance(exc, OSError):
            raise storage_error(exc, "cannot create a job folder") from None
        raise


def copy_input(job, fd, size, name):
    """Copy exactly ``size`` bytes of ``fd`` into input/``name``; the new path.

    A file that changes while it is copied is refused.
    """
    target = job.input_dir / name
    try:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            copied = 0
            while copied < size:
                sent = os.sendfile(out, fd, copied, size - copied)
                if sent == 0:
                    break
                copied += sent
            if copied != size or os.fstat(fd).st_size != size:
                raise BadInput("image changed while it was being copied",
                               code="image_changed")
            os.fsync(out)
        finally:
            os.close(out)
    except OSError as exc:
        raise storage_error(exc, "cannot copy the image into JOBS_DIR") from None
    return target


def remove(job):
    """Delete a job folder: hide it with one rename, then delete at leisure."""
    trash = job.path.with_name(f"{TRASH}{job.job_id}.{uuid.uuid4().hex[:8]}")
    try:
        os.rename(job.path, trash)
    except FileNotFoundError:
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def remove_leftovers(older_than):
    """Delete staging and trash folders a crashed process left behind."""
    removed = 0
    cutoff = time.time() - older_than
    with contextlib.suppress(FileNotFoundError), os.scandir(root()) as entries:
        for entry in entries:
            if not entry.name.startswith((INCOMING, TRASH)):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
    return removed


def reset_output(job):
    """Empty output/ so a new attempt never mixes with an earlier one's files."""
    # A first attempt finds output/ empty, as submit made it: keep it rather
    # than delete and re-create it (about 1 ms of each job's overhead).
    with contextlib.suppress(FileNotFoundError), os.scandir(job.output_dir) as entries:
        if next(entries, None) is None:
            os.chmod(job.output_dir, DIR_MODE)
            return
    shutil.rmtree(job.output_dir, ignore_errors=True)
    job.output_dir.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(job.output_dir, DIR_MODE)


# Below this much free space a failed run's output/ is removed so that its
# error can still be recorded.
SPACE_RESERVE = 1024 * 1024


def out_of_space(job):
    """Whether the job's filesystem is (nearly) full."""
    try:
        stat = os.statvfs(job.path)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < SPACE_RESERVE


# -- reading what a job produced --------------------------------------------

def read_result_bytes(job):
    with open(job.result_path, "rb") as handle:
        return handle.read()


def _open_log(job):
    """task.log for reading, never through a symlink: a log planted as a link to
    another file reads as refused (ELOOP), not as that file."""
    try:
        fd = os.open(job.log_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "task.log is a symlink") from None
        raise
    if not stat_module.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "task.log is not a regular file")
    return os.fdopen(fd, "rb")


def read_log(job, tail=None):
    try:
        with _open_log(job) as handle:
            if tail is None:
                data = handle.read()
            else:
                data = _tail_bytes(handle, tail)
    except FileNotFoundError:
        data = b""
    return data.decode("utf-8", "replace")


def read_log_from(job, offset, tail=None):
    """(bytes of task.log from ``offset`` or its last ``tail`` lines, end offset)."""
    try:
        with _open_log(job) as handle:
            if tail is not None:
                end = handle.seek(0, os.SEEK_END)
                return _tail_bytes(handle, tail, end=end), end
            handle.seek(offset)
            data = handle.read()
            return data, offset + len(data)
    except FileNotFoundError:
        return b"", offset


# The runner opens each attempt in task.log with a line of its own
# ("--- <time> attempt N on <node> pid P: <argv>", runner/worker.py) and
# closes it with another ("--- <time> extractor ...").
RUN_HEADER = re.compile(rb"--- \S+ attempt \d+ on ")
LOG_PROBE_BYTES = 65536


def log_run_open(job):
    """Whether task.log's last runner line opens an attempt: its run has not yet
    written how it ended. Unknown (no runner line near the end of a long log)
    counts as open; no log at all as closed."""
    try:
        with open(job.log_path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, end - LOG_PROBE_BYTES))
            ours = [line for line in handle.read().split(b"\n") if line.startswith(b"--- ")]
    except FileNotFoundError:
        return False
    if not ours:
        return end > LOG_PROBE_BYTES
    return RUN_HEADER.match(ours[-1]) is not None


def _tail_bytes(handle, lines, block=65536, end=None):
    """The last ``lines`` lines (of the first ``end`` bytes) without reading a large
    log whole."""
    if lines <= 0:
        return b""
    end = handle.seek(0, os.SEEK_END) if end is None else end
    data = b""
    position = end
    while position > 0 and data.count(b"\n") <= lines:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
    return b"\n".join(data.split(b"\n")[-lines - 1:]) if data.endswith(b"\n") else \
        b"\n".join(data.split(b"\n")[-lines:])


def contained_file(job, folder, relative):
    """``folder/relative`` of ``job`` as a path free of symlinks, if it is a
    regular file that stays inside that folder of that job once every link is
    resolved (resolve and compare); else None. Served files pass here: a link
    planted in input/ or output/ never leads out of the job."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    try:
        job_folder = job.path.resolve()
        base = (job.path / folder).resolve()
        path = (base / relative).resolve()
    except (OSError, RuntimeError):  # a loop of links, a name too long
        return None
    if job_folder != root().resolve() / job.job_id or base != job_folder / folder:
        return None  # the job folder or its input/ or output/ is itself a link
    if base not in path.parents or not path.is_file():
        return None
    return path


def output_file(job, relative):
    """A file the extractor wrote, by its name in result.json; None if absent.

    The name comes from the extractor's output: it must stay inside output/.
    """
    return contained_file(job, "output", relative)


def input_path(job, status):
    """The job's input file as ``contained_file`` finds it, or None."""
    return contained_file(job, "input", (status.get("input") or {}).get("file"))


def read_output_head(job, relative, limit):
    """The first ``limit`` bytes of an output file, or None if there is none."""
    path = output_file(job, relative)
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read(limit)


class ResultFile(str, Enum):
    """What the extractor left at output/result.json."""

    VALID = "valid"
    MISSING = "missing"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"


def check_result(job):
    """Whether result.json is a JSON object, made durable before ``done`` points to it."""
    try:
        with open(job.result_path, "rb") as handle:
            result = json.load(handle)
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return ResultFile.MISSING
    except ValueError:
        return ResultFile.NOT_JSON
    return ResultFile.VALID if isinstance(result, dict) else ResultFile.NOT_OBJECT


def result_solved(job):
    """Whether the job's result.json says ``"solved": true``; None if it says nothing."""
    try:
        with open(job.result_path, "rb") as handle:
            result = json.load(handle)
    except (OSError, ValueError):
        return None
    return result.get("solved") is True if isinstance(result, dict) else None


def open_log(job):
    """A descriptor appending to task.log, for an extractor's stdout and stderr."""
    try:
        return os.open(job.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise storage_error(exc, f"cannot open task.log of job {job.job_id}") from None


def append_log(job, line):
    """Add one line of the runner's own to task.log; False if it cannot be written."""
    try:
        fd = open_log(job)
    except StorageError:
        return False
    try:
        os.write(fd, line.encode() + b"\n")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def clear_stage(job):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(job.stage_path)


def read_stage(job):
    try:
        with open(job.stage_path, "rb") as handle:
            return handle.read(64).decode("ascii", "replace").strip() or None
    except OSError:
        return None


# -- the consumer registry (owned by consumers.py) ----------------------------

def consumer_path(instance):
    if not isinstance(instance, str) or not CONSUMER_INSTANCE.fullmatch(instance):
        raise BadInput(f"invalid consumer instance {instance!r}", code="invalid_parameter")
    return root() / CONSUMERS / f"{instance}.json"


def write_consumer(instance, record):
    """Replace a consumer's registry file atomically (no fsync: it is a beat)."""
    path = consumer_path(instance)
    try:
        if not path.parent.is_dir():
            ensure_root()
            path.parent.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(path.parent, DIR_MODE)
    except OSError as exc:
        raise storage_error(exc, "cannot create the consumers folder in JOBS_DIR") from None
    write_json_atomic(path, record, durable=False)


def read_consumers():
    """(instance, record) of every registered consumer; unreadable files skipped."""
    try:
        entries = list(os.scandir(root() / CONSUMERS))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        instance, ext = os.path.splitext(entry.name)
        if ext != ".json" or not CONSUMER_INSTANCE.fullmatch(instance):
            continue
        try:
            with open(entry.path, "rb") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue  # removed meanwhile, or not ours
        if isinstance(record, dict):
            found.append((instance, record))
    return found


def remove_consumer(instance):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(consumer_path(instance))
