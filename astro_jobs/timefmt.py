"""Timestamps (ISO 8601, UTC) and human durations such as ``12h``."""
import re
import time
from datetime import datetime, timezone

from .errors import BadInput

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def now_iso():
    return iso(time.time())


def iso(epoch_seconds):
    stamp = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_iso(text):
    """Epoch seconds of a timestamp written by :func:`iso` (or any ISO 8601)."""
    if text.endswith("Z"):  # fromisoformat() learnt "Z" only in Python 3.11
        text = text[:-1] + "+00:00"
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def utc_datetime(text):
    """The timezone-aware UTC datetime of an ISO 8601 timestamp."""
    return datetime.fromtimestamp(parse_iso(text), timezone.utc)


def parse_duration(text):
    """Seconds in ``30s``, ``15m``, ``12h``, ``7d`` or ``2w``.

    The unit is required: a bare ``5`` read as seconds would make
    ``prune --older-than 5`` delete nearly every finished job.
    """
    match = _DURATION.fullmatch(str(text))
    if not match:
        hint = " (a unit is required: s, m, h, d or w)" if \
            re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", str(text)) else ""
        raise BadInput(f"not a duration: {text!r}{hint}; use e.g. 30s, 12h, 7d",
                       code="invalid_duration")
    number, unit = match.groups()
    return float(number) * _UNIT_SECONDS[unit]
