"""The Huey instance: SQLite in JOBS_DIR, or Redis when a URL is configured.

The queue only carries job ids; the job folder is the truth. Losing a queue
entry costs nothing but a delay: the recovery sweep re-enqueues every
``queued`` job that the queue no longer holds.
"""
import sys

from . import config
from .errors import StorageError
from .store import jobdir

QUEUE_NAME = "astro-jobs"
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


def _sqlite_storage(huey):
    """Huey's SQLite storage with ``synchronous=NORMAL`` (WAL mode).

    Huey keeps SQLite's default FULL, which fsyncs the WAL on every commit:
    one more fsync per submit (2-3 ms here, a third of an in-process submit)
    and per dequeue. NORMAL in WAL mode cannot corrupt the database; a power
    loss or OS crash (not a process crash) may only forget the last commits.
    That is safe here because the queue is a hint: the job folder (written
    with fsync before the enqueue) is the truth, and the recovery sweep
    re-enqueues every ``queued`` job the queue no longer holds; a forgotten
    dequeue just delivers a job twice, and claiming it is atomic.
    """
    from huey.storage import SqliteStorage

    class Storage(SqliteStorage):
        def _create_connection(self):
            conn = super()._create_connection()
            conn.execute("pragma synchronous=NORMAL")
            return conn
    return Storage


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
    return huey.SqliteHuey(QUEUE_NAME, filename=str(jobdir.queue_db_path()),
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
    # A Redis host that drops packets must fail a submit in seconds, not hang
    # it for the kernel's TCP timeout. The socket timeout stays well above
    # the 1 s BZPOPMIN wait. Options in the URL's query string win.
    pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                         socket_timeout=SOCKET_TIMEOUT)
    # Priority storage: honours --priority and pops with BZPOPMIN, so an
    # idle consumer picks up a new job the moment it is pushed.
    return huey.PriorityRedisHuey(QUEUE_NAME, connection_pool=pool, results=False,
                                  utc=True)


huey = _create()
