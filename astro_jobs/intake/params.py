"""A job's parameters: checked once, at submit, the same for every caller.

Messages name the Python parameters (``scale_low``); the CLI spells them as
its flags.
"""
import math
import re

from ..errors import InvalidParameter, quoted
from .units import DEFAULT_SCALE_UNITS, DEFAULT_TIMEOUT, SCALE_UNITS

MAX_TIMEOUT = 7 * 86400
MAX_DOWNSAMPLE = 64
PRIORITY_RANGE = (-1000, 1000)
# A sequence name becomes a file name in the store: plain characters only.
SEQUENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# How far from the caller's pointing the field centre may be, when they do
# not say: a pointing from a mount or a catalogue is good to a degree or so.
DEFAULT_RADIUS = 2.0


def number(name, value, kind=float, low=None, high=None):
    """``value`` (number or text) as ``kind``, finite and within bounds; None stays None."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        parsed = float(value) if kind is float else _as_int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{{{name}}} must be a number, got {quoted(value)}") from None
    if not math.isfinite(parsed):
        raise InvalidParameter(f"{{{name}}} must be finite, got {quoted(value)}")
    if (low is not None and parsed < low) or (high is not None and parsed > high):
        raise InvalidParameter(f"{{{name}}} must be between {low:g} and {high:g}, "
                               f"got {quoted(value)}")
    return parsed


def _as_int(value):
    parsed = float(value)
    if not parsed.is_integer():
        raise ValueError
    return int(parsed)


def positive(name, value, kind=float, high=None):
    """Like :func:`number`, and greater than 0 (and at most ``high``)."""
    parsed = number(name, value, kind)
    if parsed is not None and parsed <= 0:
        raise InvalidParameter(f"{{{name}}} must be greater than 0, got {quoted(value)}")
    if parsed is not None and high is not None and parsed > high:
        raise InvalidParameter(f"{{{name}}} must be at most {high:g}, got {quoted(value)}")
    return parsed


def choice(name, value, choices):
    if value is not None and value not in choices:
        raise InvalidParameter(f"{{{name}}} must be one of {', '.join(choices)}, "
                               f"got {quoted(value)}")
    return value


def scale_band(scale_low, scale_high, scale_units):
    """(low, high, units) of a scale hint, or (None, None, None) without one."""
    low = positive("scale_low", scale_low)
    high = positive("scale_high", scale_high)
    if (low is None) != (high is None):
        raise InvalidParameter("{scale_low} and {scale_high} go together: "
                               "give both or neither")
    if low is not None and low > high:
        raise InvalidParameter(f"{{scale_low}} ({low:g}) is above {{scale_high}} ({high:g})")
    choice("scale_units", scale_units, SCALE_UNITS)
    if low is None:
        return None, None, None
    return low, high, scale_units or DEFAULT_SCALE_UNITS


def position(ra, dec, radius):
    """(ra, dec, radius) in degrees of the caller's pointing, or Nones without one."""
    ra = number("ra", ra, low=0.0, high=360.0)
    dec = number("dec", dec, low=-90.0, high=90.0)
    radius = positive("radius", radius, high=180.0)
    if (ra is None) != (dec is None):
        raise InvalidParameter("{ra} and {dec} go together: give both or neither")
    if ra is None:
        if radius is not None:
            raise InvalidParameter("{radius} needs {ra} and {dec}")
        return None, None, None
    return ra % 360.0, dec, radius if radius is not None else DEFAULT_RADIUS


def sequence_name(value):
    """A sequence's name, or None; InvalidParameter unless it is 1-64 plain characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not SEQUENCE_NAME.fullmatch(value):
        raise InvalidParameter("{sequence} must be 1-64 letters, digits, '.', '_' or '-' "
                               f"starting with a letter or digit, got {quoted(value)}")
    return value


def validate(scale_low=None, scale_high=None, scale_units=None, downsample=None,
             timeout=None, priority=None, ra=None, dec=None, radius=None, sequence=None):
    """The params dict stored in status.json; InvalidParameter on a bad value."""
    low, high, units = scale_band(scale_low, scale_high, scale_units)
    timeout = positive("timeout", timeout, high=MAX_TIMEOUT)
    ra, dec, radius = position(ra, dec, radius)
    return {
        "ra": ra,
        "dec": dec,
        "radius": radius,
        "sequence": sequence_name(sequence),
        "scale_low": low,
        "scale_high": high,
        "scale_units": units,
        "downsample": positive("downsample", downsample, int, MAX_DOWNSAMPLE),
        "timeout": timeout if timeout is not None else DEFAULT_TIMEOUT,
        "priority": number("priority", priority, int, *PRIORITY_RANGE) or 0,
    }
