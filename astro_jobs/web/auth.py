"""Who may submit and cancel: nova's API key, turned into session keys.

With ``ASTRO_JOBS_API_KEY`` set, only that key logs in, and a session key is
a random nonce signed with it: every server sharing the key accepts every
other's sessions, with nothing stored. Unset, the server is a local,
single-user one: any key logs in and any session key is accepted.
"""
import hashlib
import hmac
import secrets

from .. import config

COOKIE = "astro_jobs_session"


def _sign(key, nonce):
    return hmac.new(key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]


def login(apikey):
    """A new session key for ``apikey``, or None if the key is refused."""
    key = config.api_key()
    if not isinstance(apikey, str) or not apikey:
        return None
    if key is not None and not hmac.compare_digest(apikey.encode(), key.encode()):
        return None
    nonce = secrets.token_hex(8)
    return f"{nonce}{_sign(key, nonce)}" if key else nonce + secrets.token_hex(16)


def valid_session(session):
    """True if ``session`` came from ``login`` with the configured key."""
    if not isinstance(session, str) or not session:
        return False
    key = config.api_key()
    if key is None:
        return True
    nonce, signature = session[:16], session[16:]
    return hmac.compare_digest(signature.encode(), _sign(key, nonce).encode())


def may_change(session):
    """May this browser session cancel jobs (always, without a key)?"""
    return config.api_key() is None or valid_session(session)


def needs_login():
    return config.api_key() is not None
