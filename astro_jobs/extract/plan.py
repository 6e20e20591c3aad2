"""The search plan: rounds of attempts raced side by side, hints first.

Blind solving over the whole range makes every quad lookup match thousands
of index quads; the same image solves in a tenth of a second once the band
is right. Not knowing which band is right, a round starts every band at
once (solver.race) and keeps the first verified answer, so the right band
is never queued behind wrong ones; later rounds give the bands more time
and the other star list.
"""
import itertools
import math

from ..intake.units import ARCSEC_PER_DEGREE, arcsec_per_pixel
from .solver import Attempt

# Width ratio of one blind band, and how far neighbours overlap, so a
# field on an edge is inside one band with some margin.
BAND_RATIO = 2.2
BAND_OVERLAP = 1.08
# Fields this much wider than the largest quads still hold enough of them.
WIDEST_SLACK = 1.1
# The quick attempts (the hints' and the first blind round's) get only the
# brightest stars of the list (stars.py orders it): the engine checks and
# tweaks every candidate against all the stars it is given, and with 1000
# a right band's solve took about 1.6 times as long as with 200, for the
# same centre, RMS and matched stars. Later rounds get the whole list, for
# fields whose brightest stars are not the catalogue's.
QUICK_STARS = 200
# (band ratio, detection, CPU seconds per band, quad code tolerance, star
# cut) of each blind round: detection 0 is the preferred binning, 1 the
# fall-back (stars.py). First a round of two wide bands, one per core of a
# small machine: fewer engines share the cores, so the right one wins
# sooner and the wrong one burns less (four bands cost 1.5 times the CPU);
# most fields solve there within their budget. A field that makes many
# false quad matches in a wide band (the crowded Milky Way frame) runs out
# of it and goes on to the narrow bands, where the right band solves a
# corpus image in 0.05-0.5 CPU seconds and the crowded field in about 1.
# A quarter of solve-field's code tolerance (0.01) in the first round,
# half in the second: false quad matches, each checked, fall with the
# fourth power of the tolerance (codes have four dimensions). A quarter
# still solved every corpus image and synthetic field in the first round;
# a fifth made the distorted 33-degree apod4 five times slower. The later
# rounds go back to the default for noisy or distorted fields. The search
# limit (__main__.py) ends whatever is still running.
ROUNDS = ((12.0, 0, 1.0, 0.0025, QUICK_STARS),
          (BAND_RATIO, 0, 1.5, 0.005, None), (BAND_RATIO, 1, 1.5, None, None),
          (BAND_RATIO, 0, 5.0, None, None))
# CPU seconds for the round of hinted attempts (a right hint solves in a
# fraction of a second; a wrong one must not hold the blind rounds up).
HINT_BUDGET = 2.0
# How far a header's pointing may be off, at least, in degrees.
MIN_POSITION_RADIUS = 2.0
# Relative slack around a scale derived from metadata: 35 mm-equivalent
# focal lengths are rounded and pixel pitches approximate.
META_SLACK = 1.25
# A full header WCS is a measurement: tight scale, position within a field,
# tried alone first, briefly (right, it solves in a fraction of a second).
WCS_SLACK = 1.1
WCS_BUDGET = 1.0
# The caller's pointing or the sequence's last frame: tried alone first,
# briefly (right, it solves in a tenth of a CPU second; wrong, the usual
# ladder follows). A sequence frame moved by at most about a field.
POINTING_BUDGET = 1.0
SEQUENCE_SLACK = 1.1


def blind_bands(width_range, band_ratio=BAND_RATIO):
    """Overlapping degwidth bands covering what the installed indexes solve."""
    low, high = width_range[0], width_range[1] * WIDEST_SLACK
    count = max(1, math.ceil(math.log(high / low) / math.log(band_ratio)))
    ratio = (high / low) ** (1.0 / count)
    return [(round(max(low, low * ratio ** i / BAND_OVERLAP), 3),
             round(min(high, low * ratio ** (i + 1) * BAND_OVERLAP), 3)) for i in range(count)]


def make_plan(width, height, width_range, user=None, meta=None, pointing=None, sequence=None):
    """Return (rounds, hints): rounds is a list of lists of Attempts.

    ``pointing``: the caller's (ra, dec, radius); ``sequence``: the last
    solved frame's (ra, dec, arcsec per pixel)."""
    hints = {"scale_low": None, "scale_high": None, "scale_units": None, "source": "none"}
    first = [_from_sequence(width, height, sequence),
             _from_pointing(width, height, width_range, user, meta, pointing),
             _from_wcs(width, height, user, meta)]
    rounds = [[attempt] for attempt in first if attempt]
    if first[2]:
        hints["wcs"] = meta.wcs
    if sequence:
        hints["sequence"] = dict(zip(("ra", "dec", "pixscale"), sequence))
    rounds += [hinted] if (hinted := _hinted(width, height, user, meta, hints)) else []
    for attempt in itertools.chain.from_iterable(rounds):
        attempt.max_stars = QUICK_STARS
    if pointing:
        hints.update(source="user", ra=pointing[0], dec=pointing[1], radius=pointing[2])
    if width_range is None:
        return rounds, hints
    for band_ratio, detection, budget, tolerance, max_stars in ROUNDS:
        rounds.append([Attempt("blind", low, high, "degwidth", budget, detection=detection,
                               tolerance=tolerance, max_stars=max_stars)
                       for low, high in blind_bands(width_range, band_ratio)])
    return rounds, hints


def _hinted(width, height, user, meta, hints):
    """The attempts the caller's flags or the file's metadata suggest, filling `hints`."""
    attempts = []
    position = _position(meta, width, height)
    if user is not None:
        low, high, units = user
        hints.update(scale_low=low, scale_high=high, scale_units=units, source="user")
        attempts.append(Attempt("user", low, high, units, HINT_BUDGET, *position))
        if position[0] is not None:
            attempts.append(Attempt("user-anywhere", low, high, units, HINT_BUDGET))
    elif meta is not None and meta.pixscale_arcsec:
        low, high = meta.pixscale_arcsec / META_SLACK, meta.pixscale_arcsec * META_SLACK
        hints.update(scale_low=round(low, 4), scale_high=round(high, 4),
                     scale_units="arcsecperpix", source="exif", origin=meta.origin)
        attempts.append(Attempt(meta.origin, low, high, "arcsecperpix", HINT_BUDGET, *position))
        if position[0] is not None:
            attempts.append(Attempt(meta.origin + "-anywhere", low, high, "arcsecperpix",
                                    HINT_BUDGET))
    elif position[0] is not None:
        # A pointing without a scale still cuts the sky to a few healpixels.
        hints.update(source="exif", origin=meta.origin)
        attempts.append(Attempt(meta.origin + "-position", 0.25, 36.0, "degwidth", HINT_BUDGET,
                                *position))
    if position[0] is not None:
        hints.update(ra=position[0], dec=position[1], radius=position[2])
    return attempts


def _from_sequence(width, height, sequence):
    """The attempt the sequence's last solved frame makes, or None."""
    if not sequence:
        return None
    ra, dec, scale = sequence
    # Index stars are looked for within the radius: the whole field and a
    # drift of up to half a field.
    radius = scale * math.hypot(width, height) / ARCSEC_PER_DEGREE
    return Attempt("sequence", scale / SEQUENCE_SLACK, scale * SEQUENCE_SLACK, "arcsecperpix",
                   POINTING_BUDGET, ra, dec, radius)


def _from_pointing(width, height, width_range, user, meta, pointing):
    """The attempt the caller's pointing makes, with the best scale known, or None."""
    if not pointing:
        return None
    if user is not None:
        low, high, units = user
    elif meta is not None and meta.pixscale_arcsec:
        low, high = meta.pixscale_arcsec / META_SLACK, meta.pixscale_arcsec * META_SLACK
        units = "arcsecperpix"
    elif width_range is not None:
        (low, high), units = width_range, "degwidth"
    else:
        return None
    # solve-field looks for index stars within --radius of the pointing: the
    # whole field must be inside, not only its centre.
    ra, dec, radius = pointing
    half_diagonal = arcsec_per_pixel(high, units, width) * math.hypot(width, height) / 2 / 3600
    return Attempt("user-position", low, high, units, POINTING_BUDGET, ra, dec,
                   min(180.0, radius + half_diagonal))


def _from_wcs(width, height, user, meta):
    """The attempt a header's full WCS makes (unless the caller gave a scale), or None."""
    wcs = getattr(meta, "wcs", None)
    if wcs is None or user is not None:
        return None
    scale = wcs["pixscale"]
    radius = max(0.5, 2.0 * scale * math.hypot(width, height) / 3600.0)
    return Attempt("fits-wcs", scale / WCS_SLACK, scale * WCS_SLACK, "arcsecperpix",
                   WCS_BUDGET, wcs["ra"], wcs["dec"], radius)


def _position(meta, width, height):
    if meta is None or meta.ra is None:
        return (None, None, None)
    radius = MIN_POSITION_RADIUS
    if meta.pixscale_arcsec:
        diagonal_deg = meta.pixscale_arcsec * (width ** 2 + height ** 2) ** 0.5 / 3600.0
        radius = max(radius, diagonal_deg)
    return (meta.ra, meta.dec, radius)


def field_width_deg(width, user=None, meta=None):
    """The field width the hints imply, in degrees, or None (for the reason sentence)."""
    if user is not None:
        low, high, units = user
        return tuple(arcsec_per_pixel(v, units, width) * width / ARCSEC_PER_DEGREE
                     for v in (low, high))
    if meta is not None and meta.pixscale_arcsec:
        width_deg = meta.pixscale_arcsec * width / 3600.0
        return (width_deg, width_deg)
    return None
