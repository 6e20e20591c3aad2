"""Everything a consumer process loads: the job task, periodic prune, recovery.

``huey_consumer astro_jobs.consumer.huey`` names this module (it imports
from anywhere); ``tasks.py`` at the top of a checkout is the same, for the
Procfile's old command line. Importing it builds the Huey instance from the
current settings (``huey`` below, which huey_consumer reads) and makes the
queue's run_job task run jobs in this process: it is the consumer's entry,
never imported by the client side.
"""
import atexit
import logging
import threading

from huey import crontab
from huey.signals import SIGNAL_INTERRUPTED

from . import config, queue
from .identity import INSTANCE
from .runner import recovery, warm
from .runner.registration import Registration
from .runner.worker import run_job
from .store import retention

huey = queue.get_huey()
queue.run_jobs_with(run_job)
queue.listen_for_submits()
logger = logging.getLogger("astro_jobs.consumer")
sweeper = recovery.Sweeper()
registration = Registration(INSTANCE)
_started = threading.Event()
_stop = threading.Event()


@huey.on_startup()
def start_housekeeping():
    """Register this consumer and beat; sweep for lost jobs at start, then every heartbeat."""
    registration.worker_started()  # a startup hook runs in every worker thread
    if _started.is_set():
        return
    _started.set()
    atexit.register(registration.remove)
    # Two threads: a long sweep (a large JOBS_DIR on NFS) must not delay the
    # beat that tells observers this consumer is alive.
    for name, target in (("astro-jobs-registry", keep_registered),
                         ("astro-jobs-sweeper", sweeper.run_forever)):
        threading.Thread(target=target, args=(_stop,), name=name, daemon=True).start()


@huey.on_startup()
def start_warm_extractor():
    """This worker's warm extractor, ready before its first job (runner/warm.py)."""
    try:
        warm.prestart()
    except Exception:  # its first job will try again, or run cold
        logger.exception("warm extractor did not start")


@huey.on_shutdown()
def worker_stopped():
    """The last worker to stop removes this consumer from the registry."""
    warm.stop()
    registration.worker_stopped()


def keep_registered(stop):
    """Refresh this consumer's registry file every heartbeat."""
    while not stop.wait(config.heartbeat_seconds()):
        try:
            registration.beat()
        except Exception:  # a full or unreachable JOBS_DIR must not kill the consumer
            logger.exception("consumer registry beat failed")


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal, task, *args, **kwargs):
    """SIGTERM: kill each running extractor and put its job back at once."""
    queue.stop_taking_jobs()  # before any job is back in the queue
    if task.name.endswith("run_job") and task.args:
        recovery.interrupt_running(task.args[0])


@huey.periodic_task(crontab(minute="*/5"))
def prune_old_jobs():
    removed = retention.prune(config.retention_seconds())
    if removed:
        logger.info("pruned %d jobs older than ASTRO_JOBS_RETENTION", removed)
    return removed
