"""One POST of a finish event to a receiver's URL, and nothing more.

The stdlib's http.client, because it follows no redirect by itself: a
receiver answering 3xx is a failed delivery (its URL must be the final one),
so a webhook can never be bounced to another scheme or host. Whatever the
receiver does (refuses, hangs, trickles bytes, answers garbage), ``post``
returns within its deadline with a :class:`Delivery` saying what happened.
"""
import hashlib
import hmac
import http.client
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

EVENT = "job.finished"


@dataclass(frozen=True)
class Delivery:
    """How one attempt ended: ``delivered``, else ``error`` and whether a retry may help."""

    delivered: bool
    error: str = None
    retryable: bool = False


def signature(secret, body):
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(body, secret=None, attempt=1):
    found = {"Content-Type": "application/json", "X-Astro-Jobs-Event": EVENT,
             "X-Astro-Jobs-Attempt": str(attempt), "User-Agent": "astro-jobs",
             "Content-Length": str(len(body))}
    if secret:
        found["X-Astro-Jobs-Signature"] = signature(secret, body)
    return found


def _connection(url, timeout):
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme.lower() == "https" \
        else http.client.HTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return kind(parts.hostname, parts.port, timeout=timeout), target


def post(url, body, secret=None, timeout=5.0, attempt=1):
    """POST ``body`` to ``url``; a Delivery, always within about 2 x ``timeout`` s.

    The socket timeout bounds each wait; a watchdog bounds the whole request,
    so a receiver that trickles one byte at a time cannot hold it either.
    """
    conn, target = _connection(url, timeout)
    aborted = threading.Event()
    watchdog = threading.Timer(2 * timeout, _abort, args=(conn, aborted))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target, body=body, headers=headers(body, secret, attempt))
        response = conn.getresponse()
        response.read(65536)  # a polite receiver's short answer; never more
        answer = judge_answer(response.status, response.getheader("Location"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        answer = Delivery(False, f"{exc.__class__.__name__}: {exc}"[:300], True)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            answer = Delivery(False, f"no answer within {timeout:g} s", True)
    finally:
        watchdog.cancel()
        conn.close()
    if aborted.is_set():  # whatever was parsed of a cut-off answer proves nothing
        return Delivery(False, f"no complete answer within {2 * timeout:g} s", True)
    return answer


def _abort(conn, aborted):
    """Unblock a request stuck in a read: shut the socket down under it."""
    aborted.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def judge_answer(code, location=None):
    """2xx delivers; 5xx, 408 and 429 may pass on a retry; the rest will not."""
    if 200 <= code < 300:
        return Delivery(True)
    if 300 <= code < 400:
        return Delivery(False, f"HTTP {code}: redirect to {location!r} not followed")
    return Delivery(False, f"HTTP {code}", code >= 500 or code in (408, 429))
