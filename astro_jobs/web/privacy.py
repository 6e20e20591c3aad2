"""Who may read what: private jobs and the server's paths.

With ``ASTRO_JOBS_API_KEY`` set, a job submitted with nova's
``publicly_visible: "n"`` (``params.private``) is shown only to a reader
holding a live session of the key, and a reader without one sees no path of
the server (temporary upload folders, JOBS_DIR, the submitter's folders).
Without a key the server is one user's: every reader is that user.

Every route that shows a job calls, with ``who = privacy.reader(request)``:

    privacy.require_visible(status, who)   # JobNotFound if hidden
    privacy.shown(statuses, who)           # the visible ones of a list
    privacy.redact(anything, who)          # paths cut from str/dict/list
"""
import os
import re
import tempfile
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

from .. import config
from ..errors import JobNotFound
from . import auth
from .nova import wire

# An absolute path of two parts or more, not inside a URL or a word.
_PATH = re.compile(r"(?<![\w.~$:/\\-])/(?:[\w.+@%=~-]+/)+([\w.+@%=~-]*)")
STATE_KEY = "reader"
MAX_FORM_BYTES = 1024 * 1024  # a status query's form; uploads are multipart


@dataclass(frozen=True)
class Reader:
    """Who is asking: ``trusted`` if no key is set or the session is live."""

    trusted: bool


def judge(session):
    """The Reader holding ``session`` (a cookie or nova's session key, or None)."""
    if config.api_key() is None:
        return Reader(trusted=True)
    return Reader(trusted=bool(session) and auth.valid_session(session))


def judge_any(sessions):
    """The most trusted Reader of those holding one of ``sessions``."""
    for session in sessions:
        who = judge(session)
        if who.trusted:
            return who
    return Reader(trusted=False)


def reader(request):
    """The Reader of ``request``, as the middleware judged it (by its cookie if
    the middleware did not run)."""
    who = request.scope.get("state", {}).get(STATE_KEY)
    return who if who is not None else judge(request.cookies.get(auth.COOKIE))


def visible(status, who):
    return who.trusted or not (status.get("params") or {}).get("private")


def require_visible(status, who):
    """``status``, or JobNotFound as if the job did not exist."""
    if not visible(status, who):
        raise JobNotFound(f"job {status.get('job_id')} not found", code="job_not_found")
    return status


def shown(statuses, who):
    return [s for s in statuses if visible(s, who)]


def _prefixes():
    """Folders whose paths may hold spaces the pattern would stop at."""
    folders = [config.jobs_dir(), tempfile.gettempdir(), *config.url_upload_dirs(),
               os.path.expanduser("~")]
    folders += [os.path.realpath(f) for f in folders]
    return sorted({f.rstrip("/") for f in folders if len(f) > 1}, key=len, reverse=True)


def redact_text(text, prefixes=None):
    for prefix in prefixes if prefixes is not None else _prefixes():
        text = text.replace(prefix + "/", "…/")
    return _PATH.sub(lambda m: "…/" + m.group(1), text)


def redact(value, who, prefixes=None):
    """``value`` (str, or dicts and lists of them) with server paths cut, for a
    reader who is not trusted; trusted readers get ``value`` itself."""
    if who.trusted:
        return value
    prefixes = _prefixes() if prefixes is None else prefixes
    if isinstance(value, str):
        return redact_text(value, prefixes)
    if isinstance(value, dict):
        return {k: redact(v, who, prefixes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, who, prefixes) for v in value]
    return value


def _session_in(fields):
    """nova's session key from ``request-json`` form fields, or None."""
    try:
        session = wire.parse_request_json(fields.get("request-json")).get("session")
    except wire.NovaError:
        return None
    return session if isinstance(session, str) else None


async def _read_form(receive):
    """(body bytes up to MAX_FORM_BYTES and a bit, whether more follows, a
    disconnect message or None)."""
    body, more = bytearray(), True
    while more and len(body) <= MAX_FORM_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), False, message
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return bytes(body), more, None


def _replay(body, more, stop, receive):
    """A ``receive`` that hands the app the body already read, then the rest."""
    pending = [{"type": "http.request", "body": body, "more_body": more}]
    if stop is not None:
        pending.append(stop)

    async def replayed():
        return pending.pop(0) if pending else await receive()
    return replayed


def _fields(raw):
    try:
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), max_num_fields=64).items()}
    except (UnicodeDecodeError, ValueError):
        return {}


class Readers:
    """ASGI middleware judging each request's reader (``reader(request)``): by
    the page's cookie, or nova's ``session`` in ``request-json`` (query or a
    small form body, which the app then reads as sent)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or config.api_key() is None or \
                scope.get("path", "").startswith("/static/"):  # the same for everyone
            return await self.app(scope, receive, send)
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        session = _session_in(_fields(scope.get("query_string", b"")))
        form = headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded")
        if scope.get("method") == "POST" and form:
            body, more, stop = await _read_form(receive)
            receive = _replay(body, more, stop, receive)
            session = (None if more else _session_in(_fields(body))) or session
        cookie = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(auth.COOKIE)
        who = await run_in_threadpool(judge_any, (session, cookie))
        scope.setdefault("state", {})[STATE_KEY] = who
        await self.app(scope, receive, send)
