"""Gnomonic (TAN, with SIP distortion) pixel-to-sky, from FITS header cards.

What solve-field writes is always TAN or TAN-SIP, and a header hint needs
only its centre and scale; this avoids importing astropy.wcs (slower to
import than the whole solve it would serve).
"""
import math

import numpy as np


class TanWcs:
    """CRVAL/CRPIX plus CD (or CDELT with CROTA2 or PC), SIP forward terms if present."""

    def __init__(self, cards):
        self.crval = (float(cards["CRVAL1"]), float(cards["CRVAL2"]))
        self.crpix = (float(cards.get("CRPIX1", 0.0)), float(cards.get("CRPIX2", 0.0)))
        self.cd = np.array(cd_matrix(cards))
        self.sip = [_sip_terms(cards, "A"), _sip_terms(cards, "B")]

    @property
    def pixscale_arcsec(self):
        return math.sqrt(abs(np.linalg.det(self.cd))) * 3600.0

    def pixel_to_sky(self, x, y):
        """FITS (1-based) pixel positions to (ra, dec) in degrees."""
        u = np.asarray(x, dtype=float) - self.crpix[0]
        v = np.asarray(y, dtype=float) - self.crpix[1]
        du = sum(c * u ** p * v ** q for p, q, c in self.sip[0])
        dv = sum(c * u ** p * v ** q for p, q, c in self.sip[1])
        u, v = u + du, v + dv
        xi = np.radians(self.cd[0, 0] * u + self.cd[0, 1] * v)
        eta = np.radians(self.cd[1, 0] * u + self.cd[1, 1] * v)
        ra0, dec0 = map(math.radians, self.crval)
        denom = math.cos(dec0) - eta * math.sin(dec0)
        ra = ra0 + np.arctan2(xi, denom)
        dec = np.arctan2(math.sin(dec0) + eta * math.cos(dec0), np.hypot(xi, denom))
        return np.degrees(ra) % 360.0, np.degrees(dec)


def cd_matrix(cards):
    """The CD matrix in degrees per pixel, from CDi_j, or PCi_j/CROTA2 with CDELTi."""
    if "CD1_1" in cards or "CD2_2" in cards:
        return [[float(cards.get("CD1_1", 0.0)), float(cards.get("CD1_2", 0.0))],
                [float(cards.get("CD2_1", 0.0)), float(cards.get("CD2_2", 0.0))]]
    cdelt1, cdelt2 = float(cards["CDELT1"]), float(cards["CDELT2"])
    if any(k in cards for k in ("PC1_1", "PC1_2", "PC2_1", "PC2_2")):
        pc = [[float(cards.get("PC1_1", 1.0)), float(cards.get("PC1_2", 0.0))],
              [float(cards.get("PC2_1", 0.0)), float(cards.get("PC2_2", 1.0))]]
    else:
        rot = math.radians(float(cards.get("CROTA2", cards.get("CROTA1", 0.0)) or 0.0))
        pc = [[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]]
    return [[cdelt1 * pc[0][0], cdelt1 * pc[0][1]], [cdelt2 * pc[1][0], cdelt2 * pc[1][1]]]


def _sip_terms(cards, letter):
    order = int(cards.get("%s_ORDER" % letter, 0) or 0)
    return [(p, q, float(cards["%s_%d_%d" % (letter, p, q)]))
            for p in range(order + 1) for q in range(order + 1 - p)
            if "%s_%d_%d" % (letter, p, q) in cards]


def from_header(cards):
    """A TanWcs for a celestial TAN-like header, or None when it has none usable."""
    ctype1, ctype2 = str(cards.get("CTYPE1", "")), str(cards.get("CTYPE2", ""))
    if not (ctype1.startswith("RA") and ctype2.startswith("DEC")):
        return None
    try:
        wcs = TanWcs(cards)
    except (KeyError, ValueError, TypeError):
        return None
    scale = wcs.pixscale_arcsec
    return wcs if math.isfinite(scale) and scale > 0 else None
