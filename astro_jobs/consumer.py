"""Everything a consumer process loads: the job task, periodic prune, recovery.

``huey_consumer tasks.huey`` imports this through the top-level tasks.py.
"""
import logging
import threading

from huey import crontab
from huey.signals import SIGNAL_INTERRUPTED

from . import config, recovery, retention
from .queue import huey
from .worker import run_job  # noqa: F401  (registers the task)

logger = logging.getLogger("astro_jobs.consumer")
sweeper = recovery.Sweeper()
_started = threading.Event()
_stop = threading.Event()


@huey.on_startup()
def start_sweeper():
    """Sweep for lost jobs as the consumer starts, then every heartbeat."""
    if _started.is_set():  # a startup hook runs in every worker thread
        return
    _started.set()
    threading.Thread(target=sweeper.run_forever, args=(_stop,), name="astro-jobs-sweeper",
                     daemon=True).start()


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal, task, *args, **kwargs):
    """SIGTERM: kill each running extractor and put its job back at once."""
    if task.name.endswith("run_job") and task.args:
        recovery.interrupt_running(task.args[0])


@huey.periodic_task(crontab(minute="*/5"))
def prune_old_jobs():
    removed = retention.prune(config.retention_seconds())
    if removed:
        logger.info("pruned %d jobs older than ASTRO_JOBS_RETENTION", removed)
    return removed
