"""The files behind ``stats``' index of finished jobs (report/stats.py owns
what goes in them).

``.stats-index.json`` is a cache, replaced whole; ``.stats-reopened`` is a
list of ids, one line appended per finished job made unfinished (a retry),
so concurrent writers never mix.
"""
import json
import os

from .atomic import write_atomically
from .layout import FILE_MODE, reopened_path, stats_index_path, storage_error


def note_reopened(job_id):
    """Record that a finished job is becoming unfinished (a retry)."""
    try:
        fd = os.open(reopened_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise storage_error(exc, "cannot record a retry for stats") from None
    try:
        os.write(fd, job_id.encode() + b"\n")
    finally:
        os.close(fd)


def read_reopened(offset):
    """(ids noted by :func:`note_reopened` from byte ``offset`` on, the offset after)."""
    try:
        with open(reopened_path(), "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return set(), 0
    data = data[:data.rfind(b"\n") + 1]  # a line being written counts next time
    return set(data.decode("ascii", "replace").split()), offset + len(data)


def read():
    """The index as :func:`write` wrote it, or None."""
    try:
        with open(stats_index_path(), "rb") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write(index):
    """Replace the index; False if JOBS_DIR refuses (it is only a cache)."""
    try:
        write_atomically(stats_index_path(), json.dumps(index, separators=(",", ":")).encode(),
                         FILE_MODE, durable=False)
        return True
    except OSError:
        return False
