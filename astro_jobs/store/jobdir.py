"""Job folders: create, list, lock, read and write status.json, remove.

Paths come from ``layout``; the status record's shape and its changes from
``record``: this module applies them under the job's lock and puts the bytes
on disk. A job folder appears in one ``rename`` once it is complete, and
disappears in one ``rename`` before it is deleted, so readers never meet
half a job.
"""
import contextlib
import json
import os
import shutil
import threading
import time
from enum import Enum

from ..errors import BadInput, JobNotFound, StorageError
from . import record
from .atomic import write_atomically
from .layout import (
    DIR_MODE,
    FILE_MODE,
    INCOMING,
    JOB_ID,
    TRASH,
    Job,
    ensure_root,
    probe_path,
    root,
    status_file,
    storage_error,
)
from .states import check_transition, is_terminal

LOCK_TIMEOUT = 60.0
# Below this much free space a failed run's output/ is removed so that its
# error can still be recorded.
SPACE_RESERVE = 1024 * 1024


def job_ids():
    """The id of every job folder, in no particular order (one directory read)."""
    match = JOB_ID.fullmatch
    with contextlib.suppress(FileNotFoundError), os.scandir(root()) as entries:
        for entry in entries:
            if match(entry.name) and entry.is_dir(follow_symlinks=False):
                yield entry.name


def probe_writable():
    """Create and delete a file in JOBS_DIR; the OSError if that fails."""
    probe = probe_path()
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc
    return None


# -- status.json ------------------------------------------------------------

def read_status(job):
    """The job's status record. ``job``: a Job, or (scans of many jobs) an id
    that :func:`job_ids` listed, read without building Path objects."""
    if isinstance(job, str):
        job_id, path = job, status_file(str(root()), job)
    else:
        job_id, path = job.job_id, job.status_path
    try:
        with open(path, "rb") as handle:
            return record.loads(handle.read())
    except FileNotFoundError:
        raise JobNotFound(f"no such job: {job_id}") from None
    except ValueError:
        raise StorageError(f"status.json of job {job_id} is not valid JSON",
                           code="corrupt_status") from None


def write_status(job, status, durable=True):
    """Replace status.json so readers see the old record or the new one."""
    _write(job.status_path, record.dumps(status), durable)


def write_json_atomic(path, data, durable=True):
    """Write ``data`` as JSON to ``path`` (a file of JOBS_DIR other than
    status.json) so readers see the old or the new file."""
    _write(path, json.dumps(data, indent=1).encode() + b"\n", durable)


def _write(path, payload, durable):
    try:
        write_atomically(path, payload, FILE_MODE, durable)
    except OSError as exc:
        raise storage_error(exc, f"cannot write {path.name} of {path.parent.name}") from None


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


def transition(job, new_state, changes, guard=None, durable=True, before_write=None):
    """Move the job to ``new_state`` with ``changes`` (built by ``record``) under
    its lock; the new status.

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
            from . import statsindex  # a reopened job only: submit never needs it

            statsindex.note_reopened(job.job_id)  # before the change: see report/stats.py
        write_status(job, record.apply(status, changes, new_state), durable)
        return status


def update(job, guard, changes, durable=False):
    """Change fields other than the state, under the lock, if ``guard`` allows."""
    with locked(job):
        status = read_status(job)
        if not guard(status):
            return None
        write_status(job, record.apply(status, changes), durable)
        return status


# -- creating and removing job folders ----------------------------------------

@contextlib.contextmanager
def staged(job_id):
    """A job folder built under a hidden name and published by one rename.

    Yields the staging Job; if the block raises, the folder is removed, so a
    rejected submit leaves nothing behind.
    """
    final = Job(job_id, ensure_root() / job_id)
    stage = final.staging()
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
    trash = job.trash_path()
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


def out_of_space(job):
    """Whether the job's filesystem is (nearly) full."""
    try:
        stat = os.statvfs(job.path)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < SPACE_RESERVE


# -- what a job produced ----------------------------------------------------------

def read_result_bytes(job):
    with open(job.result_path, "rb") as handle:
        return handle.read()


def read_output_head(job, relative, limit):
    """The first ``limit`` bytes of an output file, or None if there is none."""
    path = job.output_file(relative)
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


def clear_stage(job):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(job.stage_path)


def read_stage(job):
    try:
        with open(job.stage_path, "rb") as handle:
            return handle.read(64).decode("ascii", "replace").strip() or None
    except OSError:
        return None
