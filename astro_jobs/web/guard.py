"""Who may reach the server at all: the name it is called by, the site a
request comes from, and the method that changes something.

A server without a key runs on a desktop, where every web page the user
opens can send it requests. Three rules keep those pages out:

- ``Host`` must be one of the server's names (an IP address, ``localhost``,
  the name it listens on, or ``ASTRO_JOBS_ALLOWED_HOSTS``): a DNS-rebinding
  page calls the server by the attacker's name, and is refused.
- a request whose ``Origin`` is another site (or ``null``) is refused;
  nova's clients, astroquery and scripts send no ``Origin`` at all.
- nova's login and uploads change something, so they take POST only: an
  ``<img src=...>`` cannot submit a job.
"""
import ipaddress
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

from .. import config

# nova's paths that answer GET and POST, but change something: POST only.
CHANGES = frozenset(p + tail for p in ("/api/login", "/api/upload", "/api/url_upload")
                    for tail in ("", "/"))
READ_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_PORTS = {"http": 80, "https": 443}


def split_netloc(netloc, scheme="http"):
    """(host name in lower case, port) of ``host[:port]``; (None, None) if malformed."""
    if not netloc or any(c in netloc for c in "/\\@?# \t\0"):
        return None, None
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None, None
    return (parts.hostname or None), port


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def known_name(name, server_names):
    """Is ``name`` a name this server answers to?

    An IP address cannot be rebound (a page on another address is another
    server), nor can ``localhost``: browsers resolve it themselves.
    """
    if name is None:
        return False
    name = name.rstrip(".")
    allowed = config.allowed_hosts()
    return (_is_ip(name) or name == "localhost" or name.endswith(".localhost")
            or name in server_names or name in allowed or "*" in allowed)


def same_site(origin, host):
    """Does a browser's ``Origin`` name this server as the request's ``Host`` does?"""
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[::1" and the like
        return False
    if parts.scheme not in DEFAULT_PORTS:
        return False
    name, port = split_netloc(parts.netloc, parts.scheme)
    if name is None:
        return False
    if name in config.allowed_hosts():
        return True  # the public name a proxy serves us by
    return (name, port) == split_netloc(host or "", parts.scheme)


def refusal(scope, headers, server_names):
    """(HTTP status, message) of a request to refuse, or None to let it in."""
    host = headers.get("host")
    if host is not None and not known_name(split_netloc(host)[0], server_names):
        return 403, f"this server does not answer to the name {host[:100]!r} " \
                    "(ASTRO_JOBS_ALLOWED_HOSTS)"
    origin = headers.get("origin")
    if origin is not None and not same_site(origin, host):
        return 403, "cross-site request refused"
    method = scope.get("method", "GET")
    if method not in READ_METHODS and headers.get("sec-fetch-site") == "cross-site":
        return 403, "cross-site request refused"
    if method in READ_METHODS and scope.get("path") in CHANGES:
        return 405, "this request changes something: send it by POST"
    return None


class Guard:
    """ASGI middleware applying ``refusal`` before the app sees a request."""

    def __init__(self, app, server_names=()):
        self.app = app
        self.server_names = {n.lower().rstrip(".") for n in server_names if n}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers", ())}
            refused = refusal(scope, headers, self.server_names)
            if refused is not None:
                status, message = refused
                code = "forbidden" if status == 403 else "method_not_allowed"
                reply = JSONResponse({"status": "error", "errormessage": message,
                                      "code": code}, status_code=status)
                return await reply(scope, receive, send)
        await self.app(scope, receive, send)
