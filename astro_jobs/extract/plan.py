"""The search plan: which scale bands and positions to try, in which order.

Blind solving over the whole 0.3 - 36 degree range makes every quad lookup
match thousands of index quads; the same image solves in under a second
once the band is right (SOLVER_NOTES, and bench/solve.py). So we try
narrow bands with short wall budgets first and come back with longer ones.
"""
from .solver import Attempt

# Image widths in degrees, overlapping so a field on an edge is inside one
# band with some margin. Tycho-2 indexes 08-19 cannot solve outside ~0.3-36.
BLIND_BANDS = [(0.7, 1.6), (3.3, 7.5), (1.5, 3.5), (7.0, 16.0), (15.0, 36.0), (0.3, 0.75)]
# (detection, wall seconds per band) for each pass over BLIND_BANDS:
# detection 0 is the preferred downsample, 1 the fall-back (stars.py). A
# right band solves in well under a second on the corpus; the later, longer
# passes are for crowded or faint fields needing more stars looked at.
# The sum (about 57 s) bounds the search for an unsolvable image, as
# solve-field's own cpulimit does.
PASSES = ((0, 0.5), (0, 2.5), (1, 2.5), (0, 4.0))
# How far a header's pointing may be off, at least, in degrees.
MIN_POSITION_RADIUS = 2.0
# Relative slack around a scale derived from metadata: 35 mm-equivalent
# focal lengths are rounded and pixel pitches approximate.
META_SLACK = 1.25


def make_plan(width, height, user=None, meta=None, first_budget=30.0):
    """Return (attempts, hints) where hints is the contract's ``hints`` object."""
    attempts = []
    hints = {"scale_low": None, "scale_high": None, "scale_units": None, "source": "none"}
    position = _position(meta, width, height)
    if user is not None:
        low, high, units = user
        hints.update(scale_low=low, scale_high=high, scale_units=units, source="user")
        attempts.append(Attempt("user", low, high, units, first_budget, *position))
        if position[0] is not None:
            attempts.append(Attempt("user-anywhere", low, high, units, first_budget))
    elif meta is not None and meta.pixscale_arcsec:
        low, high = meta.pixscale_arcsec / META_SLACK, meta.pixscale_arcsec * META_SLACK
        hints.update(scale_low=round(low, 4), scale_high=round(high, 4),
                     scale_units="arcsecperpix", source="exif", origin=meta.origin)
        attempts.append(Attempt(meta.origin, low, high, "arcsecperpix", first_budget, *position))
        if position[0] is not None:
            attempts.append(Attempt(meta.origin + "-anywhere", low, high, "arcsecperpix", first_budget))
    elif position[0] is not None:
        # A pointing without a scale still cuts the sky to a few healpixels.
        hints.update(source="exif", origin=meta.origin)
        attempts.append(Attempt(meta.origin + "-position", 0.3, 36.0, "degwidth", first_budget, *position))
    if position[0] is not None:
        hints.update(ra=position[0], dec=position[1], radius=position[2])
    for detection, budget in PASSES:
        for low, high in BLIND_BANDS:
            attempts.append(Attempt("blind", low, high, "degwidth", budget, detection=detection))
    return attempts, hints


def _position(meta, width, height):
    if meta is None or meta.ra is None:
        return (None, None, None)
    radius = MIN_POSITION_RADIUS
    if meta.pixscale_arcsec:
        diagonal_deg = meta.pixscale_arcsec * (width ** 2 + height ** 2) ** 0.5 / 3600.0
        radius = max(radius, diagonal_deg)
    return (meta.ra, meta.dec, radius)
