"""This consumer's entry in the consumers' registry (store/consumers.py).

A consumer registers itself under ``$JOBS_DIR/consumers/`` when its first
worker starts, refreshes its file every ASTRO_JOBS_HEARTBEAT seconds and
removes it on a clean shutdown. One that died (SIGKILL, power loss) leaves
its file behind: observers judge it from the age of its last beat
(``consumers.list_consumers``), so nothing has to clean up after a crash.
"""
import os
import threading

from .. import config
from ..store import consumers
from ..timefmt import now_iso


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
                consumers.remove(self.instance)
            else:
                self._write()

    def beat(self):
        with self.lock:
            if self.workers:
                self._write()

    def remove(self):
        with self.lock:
            self.workers = 0
            consumers.remove(self.instance)

    def _write(self):
        self.beats += 1
        consumers.write(self.instance, self.entry())

    def entry(self):
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
