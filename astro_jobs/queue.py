"""The queue: the Huey instance (SQLite in JOBS_DIR, or Redis when a URL is
configured), built on first use from the current settings, and the one task
it carries.

The queue only carries job ids; the job folder is the truth. Losing a queue
entry costs nothing but a delay: the recovery sweep re-enqueues every
``queued`` job that the queue no longer holds.

The client enqueues by the task's name and never loads the code that runs
it: the consumer hands that code over with :func:`run_jobs_with`
(astro_jobs/consumer.py), so ``submit`` imports neither the runner nor notify.
"""
import sys
import threading
import time

from . import config, wakeup
from .errors import StorageError
from .store import layout

QUEUE_NAME = "astro-jobs"
# The longest an idle consumer goes without polling the SQLite queue: what
# a job enqueued without a wake-up (another host's submit, a lost byte) waits.
WAKEUP_WAIT = 0.1
CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 30.0


def _import_huey_without_redis():
    """Import huey so that it does not import the redis client.

    huey.storage imports redis whenever it is installed (50 ms here); the
    SQLite queue never needs it, and every ``submit`` would pay for it.
    """
    if "huey" in sys.modules or "redis" in sys.modules:
        import huey
        return huey
    sys.modules["redis"] = None  # makes ``import redis`` fail fast inside huey
    try:
        import huey
    finally:
        del sys.modules["redis"]
    return huey


_stopping = threading.Event()


def stop_taking_jobs():
    """This consumer is going away (SIGTERM): its workers take no more jobs.

    A stopping consumer requeues the jobs it interrupts; an idle worker of
    its own would otherwise take one straight back in the moments before
    the process exits, and strand it ``processing`` until a sweep.
    """
    _stopping.set()


def taking_jobs():
    """False once :func:`stop_taking_jobs` was called in this process."""
    return not _stopping.is_set()


class _StopsTaking:
    """A storage's dequeue, handing out nothing once this consumer stops taking jobs."""

    def dequeue(self):
        if _stopping.is_set():
            # Blocking storages never sleep between dequeues: an idle worker
            # would spin here until the consumer exits.
            time.sleep(WAKEUP_WAIT)
            return None
        return super().dequeue()


def _sqlite_storage(huey):
    """Huey's SQLite storage as astro-jobs runs it.

    - ``synchronous=NORMAL`` (WAL mode). Huey keeps SQLite's default FULL,
      which fsyncs the WAL on every commit: one more fsync per submit and
      per dequeue. NORMAL in WAL mode cannot corrupt the database; a power
      loss or OS crash (not a process crash) may only forget the last
      commits, which is safe because the queue is a hint: the job folder
      (fsynced before the enqueue) is the truth, the recovery sweep
      re-enqueues every ``queued`` job the queue no longer holds, and a
      forgotten dequeue delivers a job twice, whose claim is atomic.
    - In a consumer, idle workers wait on the wake-up pipe (wakeup.py).
    - An existing schema is read, not created again.
    """
    from huey.storage import SqliteStorage

    class Storage(_StopsTaking, SqliteStorage):
        wakeup = None  # a consumer's wakeup.Listener (listen_for_submits)

        @property
        def blocking(self):  # huey's workers do not sleep after a blocking storage
            return self.wakeup is not None

        def _create_connection(self):
            conn = super()._create_connection()
            conn.execute("pragma synchronous=NORMAL")
            return conn

        def dequeue(self):
            return _dequeue_or_wait(self.wakeup, super().dequeue)

        def initialize_schema(self):
            if not _schema_in_place(self):
                super().initialize_schema()
    return Storage


def _dequeue_or_wait(listener, dequeue):
    """A job, or None after waiting up to WAKEUP_WAIT for a submit's wake-up."""
    data = dequeue()
    if data is None and listener is not None and listener.wait(WAKEUP_WAIT):
        data = dequeue()
        if data is None:  # the wake-up was for a job another worker took
            listener.drain()
    return data


# What huey's SqliteStorage DDL creates (its old index task_priority_id is dropped).
_SCHEMA = {"kv", "schedule", "schedule_queue_timestamp", "task", "task_queue_priority_id",
           "counter"}


def _schema_in_place(storage):
    """Whether the queue's tables exist: huey would otherwise run its DDL under
    an exclusive lock, every time a process opens the queue, on a connection
    it then closes. One read on the connection kept for the enqueue does."""
    with storage.db() as cursor:
        cursor.execute("select name from sqlite_master")
        names = {row[0] for row in cursor.fetchall()}
    return _SCHEMA <= names and "task_priority_id" not in names


def _create():
    url = config.queue_url()
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise config.ConfigError(
                f"ASTRO_JOBS_QUEUE_URL must be a redis:// URL, got {url!r}")
        return _redis_huey(url)
    huey = _import_huey_without_redis()
    # A generous busy timeout: under a burst of submits writers wait their
    # turn instead of reporting "database is locked" to a caller.
    return huey.SqliteHuey(QUEUE_NAME, filename=str(layout.queue_db_path()),
                           results=False, utc=True, timeout=60,
                           storage_class=_sqlite_storage(huey))


def _redis_huey(url):
    try:
        import redis
    except ImportError:
        raise StorageError("ASTRO_JOBS_QUEUE_URL is a Redis URL but the redis package "
                           "is not installed: pip install 'astro-jobs[redis]'",
                           code="redis_missing") from None
    import huey
    from huey.storage import PriorityRedisStorage

    class Storage(_StopsTaking, PriorityRedisStorage):
        pass

    # A Redis host that drops packets must fail a submit in seconds, not hang
    # it for the kernel's TCP timeout. The socket timeout stays well above
    # the 1 s BZPOPMIN wait. Options in the URL's query string win.
    pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                         socket_timeout=SOCKET_TIMEOUT)
    # Priority storage: honours --priority and pops with BZPOPMIN, so an
    # idle consumer picks up a new job the moment it is pushed.
    return huey.PriorityRedisHuey(QUEUE_NAME, connection_pool=pool, results=False,
                                  utc=True, storage_class=Storage)


_built = {}  # (queue URL, JOBS_DIR) -> (Huey instance, its run_job task)
_build_lock = threading.Lock()
_job_runner = None


def get_huey():
    """The Huey instance for the current settings, built on first use."""
    return _current()[0]


def _current():
    key = (config.queue_url(), config.jobs_dir())
    with _build_lock:
        if key not in _built:
            huey = _create()
            _built[key] = huey, _register_tasks(huey)
        return _built[key]


# Huey names a task by its function's module and name. Jobs enqueued by an
# earlier release carry the name of the module that held run_job then: those
# names stay registered, so an upgrade never strands a queued job.
OLD_TASK_MODULES = ("astro_jobs.worker", "astro_jobs.runner.worker")


def _register_tasks(huey):
    """Register run_job (and its old names) on ``huey``; the current one."""
    for module in OLD_TASK_MODULES:
        _task(huey, module)
    return _task(huey, __name__)


def _task(huey, module):
    def run_job(job_id):
        if _job_runner is None:
            raise RuntimeError("run_job outside a consumer: import astro_jobs.consumer")
        _job_runner(job_id)
    run_job.__module__ = module
    return huey.task()(run_job)


def run_jobs_with(runner):
    """Make ``runner(job_id)`` what the run_job task does in this process."""
    global _job_runner
    _job_runner = runner


def enqueue(job_id, priority=0):
    """Put the job's id in the queue (its folder must be published already)."""
    huey, run_job = _current()
    try:
        huey.enqueue(run_job.s(job_id, priority=priority or None))
    except Exception as exc:
        if "disk is full" in str(exc):  # SQLite's SQLITE_FULL
            raise StorageError("cannot enqueue the job: no space left on device",
                               code="disk_full") from None
        raise
    if not config.queue_url():  # Redis wakes its consumers itself (BZPOPMIN)
        wakeup.notify(layout.wakeup_path())


def listen_for_submits():
    """In a consumer on the SQLite queue: idle workers wake when a job is enqueued."""
    storage = get_huey().storage
    if hasattr(storage, "wakeup") and storage.wakeup is None:
        storage.wakeup = wakeup.Listener(layout.wakeup_path())


def queued_job_ids():
    """Job ids the queue holds right now."""
    ids = set()
    for task in get_huey().pending():
        if task.args:
            ids.add(task.args[0])
    return ids
