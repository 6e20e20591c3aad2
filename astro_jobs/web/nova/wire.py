"""nova.astrometry.net's request fields, turned into astro-jobs parameters.

Clients send one form field, ``request-json``, holding a JSON object. The
upload fields are those of nova's ``upload_common``: scale bounds in four
units, given as bounds (``ul``) or as estimate and percent error (``ev``),
a pointing (``center_ra``, ``center_dec``, ``radius``: the job's ``ra``,
``dec``, ``radius``) and hints the bundled extractor does not use yet, kept
in the job's params.
"""
import json
import math

from ...errors import BadInput
from ...intake.units import width_deg_from_focal_35mm

SCALE_UNITS = ("degwidth", "arcminwidth", "arcsecperpix", "focalmm")
# nova's defaults when a client gives only one bound (its Submission model).
DEFAULT_LOWER, DEFAULT_UPPER = 0.1, 180.0
# Kept in params["hints"]; the extractor's contract has no flag for them.
HINTS = {"tweak_order": int, "parity": int, "crpix_center": bool, "positional_error": float,
         "use_sextractor": bool, "invert": bool}
MAX_SOURCES = 100_000
MAX_INT_DIGITS = 40


class NovaError(BadInput):
    """A request nova would answer with ``{"status": "error", ...}``."""

    code = "bad_request"


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number nova takes")


def _bounded_int(digits):
    # int() of a long digit string costs time quadratic in its length (Python 3.10).
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError("an integer of over 40 digits")
    return int(digits)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def parse_request_json(text):
    """The ``request-json`` form field as a dict, or NovaError."""
    if not text:
        raise NovaError("no json")
    try:
        args = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int,
                          parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise NovaError(f'failed to parse JSON: "{text[:200]}"') from None
    if not isinstance(args, dict):
        raise NovaError("request-json must hold a JSON object")
    return args


def shown(value, limit=80):
    """``repr(value)``, cut short: a message must not echo a megabyte back."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _typed(args, key, kind):
    value = args.get(key)
    if value is None:
        return None
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise NovaError(f"{key} must be of type {kind.__name__}, got {shown(value)}") \
            from None
    if kind is float and not math.isfinite(number):
        raise NovaError(f"{key} must be finite, got {shown(value)}")
    return number


def scale_bounds(args):
    """(low, high, units) from nova's scale fields, or (None, None, None)."""
    units = args.get("scale_units") or "degwidth"
    if units not in SCALE_UNITS:
        raise NovaError(f"scale_units must be one of {', '.join(SCALE_UNITS)}, "
                        f"got {shown(units)}")
    scale_type = args.get("scale_type") or "ul"
    if scale_type not in ("ul", "ev"):
        raise NovaError(f"scale_type must be ul or ev, got {shown(scale_type)}")
    if scale_type == "ev":
        est, err = _typed(args, "scale_est", float), _typed(args, "scale_err", float)
        if est is None or err is None:
            raise NovaError("scale_type ev needs scale_est and scale_err")
        low, high = est * (1 - err / 100), est * (1 + err / 100)
    else:
        low, high = _typed(args, "scale_lower", float), _typed(args, "scale_upper", float)
        if low is None and high is None:
            return None, None, None
        low = DEFAULT_LOWER if low is None else low
        high = DEFAULT_UPPER if high is None else high
    if units == "focalmm":
        if low <= 0 or high <= 0:
            raise NovaError("focalmm scale bounds must be greater than 0")
        # A longer focal length is a narrower field: the bounds swap.
        low, high = width_deg_from_focal_35mm(high), width_deg_from_focal_35mm(low)
        units = "degwidth"
    return low, high, units


def submit_params(args):
    """Keyword arguments of ``astro_jobs.submit`` for one nova upload."""
    low, high, units = scale_bounds(args)
    hints = {key: _typed(args, key, kind) for key, kind in HINTS.items() if key in args}
    hints = {key: value for key, value in hints.items() if value is not None}
    if "parity" in hints and hints["parity"] not in (0, 1, 2):
        raise NovaError(f"parity must be 0, 1 or 2, got {shown(hints['parity'])}")
    return {"scale_low": low, "scale_high": high, "scale_units": units,
            "downsample": _typed(args, "downsample_factor", int), "hints": hints,
            "private": args.get("publicly_visible") == "n", **pointing(args)}


def pointing(args):
    """The job's ra, dec and radius from nova's center_ra, center_dec and radius.

    nova ignores a radius without a centre; so do we."""
    ra, dec = _typed(args, "center_ra", float), _typed(args, "center_dec", float)
    if ra is None and dec is None:
        return {}
    return {"ra": ra, "dec": dec, "radius": _typed(args, "radius", float)}


def source_list(args):
    """The (x, y) rows of an upload with ``x`` and ``y`` lists (the image size:
    ``starlists.image_size``)."""
    xs, ys = args.get("x"), args.get("y")
    if not isinstance(xs, list) or not isinstance(ys, list):
        raise NovaError('Failed to parse JSON "x" and "y" values -- should be lists of floats')
    if len(xs) != len(ys):
        raise NovaError('"x" and "y" lists must be the same length')
    if not xs or len(xs) > MAX_SOURCES:
        raise NovaError(f'"x" and "y" must hold between 1 and {MAX_SOURCES} stars')
    try:
        rows = [(float(x), float(y)) for x, y in zip(xs, ys)]
    except (TypeError, ValueError):
        raise NovaError('Failed to parse JSON "x" and "y" values -- should be lists of '
                        'floats') from None
    if not all(math.isfinite(v) for row in rows for v in row):
        raise NovaError('"x" and "y" values must be finite numbers')
    return rows
