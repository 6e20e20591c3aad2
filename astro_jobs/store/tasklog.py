"""A job's task.log: the extractor's output and the runner's own lines.

Appended by the runner (and the on-finish hook), read whole, by its last
lines, or followed from an offset as it grows.
"""
import errno
import os
import re
import stat

from ..errors import StorageError
from .layout import FILE_MODE, storage_error

# The runner opens each attempt in task.log with a line of its own
# ("--- <time> attempt N on <node> pid P: <argv>", runner/worker.py) and
# closes it with another ("--- <time> extractor ...").
RUN_HEADER = re.compile(rb"--- \S+ attempt \d+ on ")
LOG_PROBE_BYTES = 65536


def _open(job):
    """task.log for reading, never through a symlink: a log planted as a link to
    another file reads as refused (ELOOP), not as that file."""
    try:
        fd = os.open(job.log_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "task.log is a symlink") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "task.log is not a regular file")
    return os.fdopen(fd, "rb")


def read(job, tail=None):
    """task.log (its last ``tail`` lines) as text; empty if there is none yet."""
    try:
        with _open(job) as handle:
            data = handle.read() if tail is None else _tail_bytes(handle, tail)
    except FileNotFoundError:
        data = b""
    return data.decode("utf-8", "replace")


def read_from(job, offset, tail=None):
    """(bytes of task.log from ``offset`` or its last ``tail`` lines, end offset)."""
    try:
        with _open(job) as handle:
            if tail is not None:
                end = handle.seek(0, os.SEEK_END)
                return _tail_bytes(handle, tail, end=end), end
            handle.seek(offset)
            data = handle.read()
            return data, offset + len(data)
    except FileNotFoundError:
        return b"", offset


def run_open(job):
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


def open_for_append(job):
    """A descriptor appending to task.log, for an extractor's stdout and stderr."""
    try:
        return os.open(job.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise storage_error(exc, f"cannot open task.log of job {job.job_id}") from None


def append(job, line):
    """Add one line of the runner's own to task.log; False if it cannot be written."""
    try:
        fd = open_for_append(job)
    except StorageError:
        return False
    try:
        os.write(fd, line.encode() + b"\n")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
