"""The consumers' registry: ``consumers/<instance>.json``, one per consumer
process (runner/registration.py writes this process's), and who is alive.

A consumer that died (SIGKILL, power loss) leaves its file behind: an
observer judges it from the age of its last beat, so nothing has to clean up
after a crash for ``doctor``, ``wait`` or ``stats`` to tell the truth. Files
not refreshed for a day are removed by whoever lists the consumers.
"""
import contextlib
import json
import os
import time

from .. import config, process
from ..timefmt import parse_iso
from .jobdir import write_json_atomic
from .layout import (
    CONSUMER_INSTANCE,
    DIR_MODE,
    consumer_path,
    consumers_dir,
    ensure_root,
    storage_error,
)

FORGET_AFTER_SECONDS = 86400
MISSED_BEATS = 3


def write(instance, entry):
    """Replace a consumer's file atomically (no fsync: it is a beat)."""
    path = consumer_path(instance)
    try:
        if not path.parent.is_dir():
            ensure_root()
            path.parent.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(path.parent, DIR_MODE)
    except OSError as exc:
        raise storage_error(exc, "cannot create the consumers folder in JOBS_DIR") from None
    write_json_atomic(path, entry, durable=False)


def read_all():
    """(instance, entry) of every registered consumer; unreadable files skipped."""
    try:
        entries = list(os.scandir(consumers_dir()))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        instance, ext = os.path.splitext(entry.name)
        if ext != ".json" or not CONSUMER_INSTANCE.fullmatch(instance):
            continue
        try:
            with open(entry.path, "rb") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue  # removed meanwhile, or not ours
        if isinstance(data, dict):
            found.append((instance, data))
    return found


def remove(instance):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(consumer_path(instance))


def alive(record, now=None):
    """Whether the consumer behind ``record`` is alive, as seen from here.

    On its own node a dead pid settles it at once; elsewhere (or for a pid
    that may have been reused) the last beat must be younger than three
    beats of that consumer's own period, as for a running job.
    """
    if record.get("node") == config.node() and record.get("pid") \
            and not process.pid_alive(record["pid"]):
        return False
    period = record.get("heartbeat_s") or config.heartbeat_seconds()
    return _age(record, now) <= MISSED_BEATS * period + 1


def _age(record, now=None):
    try:
        return (time.time() if now is None else now) - parse_iso(record["last_seen"])
    except (KeyError, TypeError, ValueError):
        return float("inf")


def list_consumers(now=None):
    """Every registered consumer as a plain dict with ``alive`` and ``age_s``.

    Alive ones first. Files older than a day are removed on the way.
    """
    now = time.time() if now is None else now
    found = []
    for instance, record in read_all():
        age = _age(record, now)
        if age > FORGET_AFTER_SECONDS:
            remove(instance)
            continue
        found.append(dict(record, instance=instance, alive=alive(record, now),
                          age_s=round(age, 1) if age != float("inf") else None))
    found.sort(key=lambda c: (not c["alive"], str(c.get("node")), c.get("pid") or 0))
    return found


def alive_count():
    return sum(1 for consumer in list_consumers() if consumer["alive"])
