"""Sessions of ``astro-jobs serve``'s API key: which are live, until when.

One SQLite table in JOBS_DIR holds the SHA-256 of each session key and its
expiry, so every server sharing JOBS_DIR honours a login and a logout at
once, and a copy of the table logs nobody in.
"""
import hashlib
import secrets
import sqlite3
import time

from ..errors import StorageError
from . import layout

_SCHEMA = "CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY, expires REAL NOT NULL)"
BUSY_TIMEOUT = 30.0
KEY_BYTES = 24


def _digest(session):
    return hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()


def _run(statement, args=()):
    """Run one statement in its own connection; the rows it returns."""
    try:
        conn = sqlite3.connect(str(layout.web_sessions_db_path()), timeout=BUSY_TIMEOUT,
                               isolation_level=None)
        try:
            conn.execute(_SCHEMA)
            return conn.execute(statement, args).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot use the session table: {exc}",
                           code="storage_error") from None


def create(ttl):
    """A new session key, live for ``ttl`` seconds."""
    session = secrets.token_hex(KEY_BYTES)
    now = time.time()
    _run("DELETE FROM sessions WHERE expires <= ?", (now,))
    _run("INSERT INTO sessions (digest, expires) VALUES (?, ?)", (_digest(session), now + ttl))
    return session


def alive(session):
    """Is ``session`` a key ``create`` gave that has neither expired nor ended?"""
    if not isinstance(session, str) or len(session) != 2 * KEY_BYTES:
        return False
    rows = _run("SELECT expires FROM sessions WHERE digest = ?", (_digest(session),))
    return bool(rows) and rows[0][0] > time.time()


def end(session):
    """End ``session`` on every server sharing JOBS_DIR (nothing if unknown)."""
    if isinstance(session, str) and session:
        _run("DELETE FROM sessions WHERE digest = ?", (_digest(session),))
