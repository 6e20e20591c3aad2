"""Integer ids for job ids: nova's clients parse submission and job ids as
integers (KStars converts them with toInt), our jobs are named by 32 hex digits.

One SQLite table in JOBS_DIR, so the numbers survive restarts and every
server sharing JOBS_DIR hands out and resolves the same ones. A number, once
given, never changes its job: lookups are cached for the life of the process.
"""
import sqlite3
import threading

from ... import api
from ...errors import StorageError

_SCHEMA = ("CREATE TABLE IF NOT EXISTS ids ("
           "number INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL UNIQUE)")
BUSY_TIMEOUT = 30.0
MAX_NUMBER = 2**63 - 1  # SQLite's largest integer


class IdMap:
    """job id <-> integer, backed by ``$JOBS_DIR/web-ids.sqlite3``."""

    def __init__(self):
        self._local = threading.local()
        self._by_number = {}
        self._by_job = {}

    def _connection(self):
        path = str(api.web_ids_path())
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.path != path:
            try:
                conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
                conn.execute(_SCHEMA)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open the web id table: {exc}",
                                   code="storage_error") from None
            self._local.conn, self._local.path = conn, path
        return conn

    def number(self, job_id):
        """The integer of ``job_id``, given on first use."""
        api.validate_job_id(job_id)
        if job_id in self._by_job:
            return self._by_job[job_id]
        conn = self._connection()
        try:
            conn.execute("INSERT OR IGNORE INTO ids (job_id) VALUES (?)", (job_id,))
            (number,) = conn.execute("SELECT number FROM ids WHERE job_id = ?",
                                     (job_id,)).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record a web id: {exc}", code="storage_error") \
                from None
        self._remember(number, job_id)
        return number

    def job_id(self, number):
        """The job id behind ``number``, or None if it was never given."""
        if not 0 < number <= MAX_NUMBER:
            return None
        if number in self._by_number:
            return self._by_number[number]
        try:
            row = self._connection().execute("SELECT job_id FROM ids WHERE number = ?",
                                             (number,)).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the web id table: {exc}",
                               code="storage_error") from None
        if row is None:
            return None
        self._remember(number, row[0])
        return row[0]

    def numbers(self):
        """Every number given whose job still exists, in order."""
        try:
            rows = self._connection().execute("SELECT number, job_id FROM ids ORDER BY number")
            return [number for number, job_id in rows
                    if api.job_exists(job_id)]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the web id table: {exc}",
                               code="storage_error") from None

    def _remember(self, number, job_id):
        self._by_number[number] = job_id
        self._by_job[job_id] = number
