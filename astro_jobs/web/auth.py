"""Who may submit and cancel: nova's API key, turned into session keys.

With ``ASTRO_JOBS_API_KEY`` set, only that key logs in (wrong keys are
throttled per address), and a session key is a random key whose hash the
store keeps until it expires (``ASTRO_JOBS_SESSION_TTL``) or logs out: every
server sharing JOBS_DIR honours both at once. Unset, the server is a local,
single-user one: any key logs in and any session key is accepted.
"""
import hmac
import secrets

from .. import api, config
from .throttle import BUCKETS

COOKIE = "astro_jobs_session"


def login(apikey, address=None):
    """A new session key for ``apikey``, or None if the key is refused;
    throttle.Throttled if ``address`` sent too many wrong keys."""
    key = config.api_key()
    if key is None:
        return secrets.token_hex(24) if isinstance(apikey, str) and apikey else None
    BUCKETS.check(address)
    if not isinstance(apikey, str) or \
            not hmac.compare_digest(apikey.encode("utf-8", "replace"), key.encode()):
        BUCKETS.failed(address)
        return None
    return api.open_session(config.session_ttl_seconds())


def logout(session):
    """End ``session`` everywhere (nothing to end without a key)."""
    if config.api_key() is not None and isinstance(session, str):
        api.close_session(session)


def valid_session(session):
    """True if ``session`` is a live session of the configured key."""
    if not isinstance(session, str) or not session:
        return False
    return config.api_key() is None or api.session_alive(session)


def may_change(session):
    """May this browser session cancel jobs (always, without a key)?"""
    return config.api_key() is None or valid_session(session)


def needs_login():
    return config.api_key() is not None
