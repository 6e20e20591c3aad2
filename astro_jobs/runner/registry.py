"""Which consumers are alive: one small JSON file per consumer process.

A consumer registers itself under ``$JOBS_DIR/consumers/`` when its first
worker starts, refreshes its file every ASTRO_JOBS_HEARTBEAT seconds and
removes it on a clean shutdown. One that died (SIGKILL, power loss) leaves
its file behind: an observer judges it from the age of its last beat, so
nothing has to clean up after a crash for ``doctor``, ``wait`` or ``stats``
to tell the truth. Files not refreshed for a day are removed.
"""
import os
import threading
import time

from .. import config
from ..store import jobdir
from ..timefmt import now_iso, parse_iso
from . import process

FORGET_AFTER_SECONDS = 86400
MISSED_BEATS = 3


class Registration:
    """This process's entry in the registry, kept by the consumer's hooks."""

    def __init__(self, instance):
        self.instance = instance
        self.lock = threading.Lock()
        self.workers = 0
        self.beats = 0
        self.started_at = None

    def worker_started(self):
        with self.lock:
            self.workers += 1
            self.started_at = self.started_at or now_iso()
            self._write()

    def worker_stopped(self):
        with self.lock:
            self.workers = max(0, self.workers - 1)
            if self.workers == 0:
                jobdir.remove_consumer(self.instance)
            else:
                self._write()

    def beat(self):
        with self.lock:
            if self.workers:
                self._write()

    def remove(self):
        with self.lock:
            self.workers = 0
            jobdir.remove_consumer(self.instance)

    def _write(self):
        self.beats += 1
        jobdir.write_consumer(self.instance, self.record())

    def record(self):
        return {
            "node": config.node(),
            "pid": os.getpid(),
            "instance": self.instance,
            "workers": self.workers,
            "started_at": self.started_at,
            "last_seen": now_iso(),
            "heartbeat_s": config.heartbeat_seconds(),
            "beat": self.beats,
        }


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
    for instance, record in jobdir.read_consumers():
        age = _age(record, now)
        if age > FORGET_AFTER_SECONDS:
            jobdir.remove_consumer(instance)
            continue
        found.append(dict(record, instance=instance, alive=alive(record, now),
                          age_s=round(age, 1) if age != float("inf") else None))
    found.sort(key=lambda c: (not c["alive"], str(c.get("node")), c.get("pid") or 0))
    return found


def alive_count():
    return sum(1 for consumer in list_consumers() if consumer["alive"])
