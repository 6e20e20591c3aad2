"""A job's task.log: the extractor's output and the runner's own lines.

Appended by the runner (and the on-finish hook), read whole, by its last
lines, or followed from an offset as it grows.
"""
import os

from ..errors import StorageError
from .layout import FILE_MODE, storage_error


def read(job, tail=None):
    """task.log (its last ``tail`` lines) as text; empty if there is none yet."""
    try:
        with open(job.log_path, "rb") as handle:
            data = handle.read() if tail is None else _tail_bytes(handle, tail)
    except FileNotFoundError:
        data = b""
    return data.decode("utf-8", "replace")


def read_from(job, offset, tail=None):
    """(bytes of task.log from ``offset`` or its last ``tail`` lines, end offset)."""
    try:
        with open(job.log_path, "rb") as handle:
            if tail is not None:
                end = handle.seek(0, os.SEEK_END)
                return _tail_bytes(handle, tail, end=end), end
            handle.seek(offset)
            data = handle.read()
            return data, offset + len(data)
    except FileNotFoundError:
        return b"", offset


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
