"""Synthetic sky images rendered from the installed index files' own stars.

    field = render(ra=..., dec=..., width_deg=..., size=(w, h), angle_deg=..., mirror=...)
    field.pixels   # 2-D uint16 array, row 0 at the top
    field.truth    # centre, width and the WCS used (CRVAL/CRPIX/CD)

Stars come from `query-starkd` on a Tycho-2 index file (positions and VT
magnitudes), projected with a gnomonic (TAN) WCS. Crowded frames add field
stars that are not in the catalogue and jitter the catalogue stars'
brightness, as a near-infrared frame of the Milky Way looks to an optical
catalogue. No pytest here: bench/ uses it too.
"""
import math
import subprocess
from dataclasses import dataclass

import numpy as np

INDEX = "/usr/share/astrometry/index-tycho2-07.littleendian.fits"


@dataclass
class Field:
    pixels: np.ndarray
    truth: dict


def catalogue(ra, dec, radius_deg, index=INDEX):
    """(ra, dec, mag) arrays of the index's stars within radius_deg."""
    out = subprocess.run(["query-starkd", "-r", "%.6f" % ra, "-d", "%.6f" % dec,
                          "-R", "%.6f" % radius_deg, "-T", index],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout
    rows = [line.split(",") for line in out.splitlines()
            if line[:1] not in ("", "#", "S", "G") and line.count(",") >= 2]
    data = np.array([[float(v) for v in row[:3]] for row in rows]).reshape(-1, 3)
    return data[:, 0], data[:, 1], data[:, 2]


def cd_matrix(scale_deg, angle_deg, mirror):
    """CD matrix for `scale_deg` per pixel, north rotated by angle_deg, optionally mirrored.

    Unmirrored: RA grows to the left (east left) with y growing downwards in
    the array, as the sky looks from inside.
    """
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    base = np.array([[-scale_deg, 0.0], [0.0, -scale_deg]])
    if mirror:
        base[0, 0] = -base[0, 0]
    return rot @ base


def sky_to_pixel(ra, dec, ra0, dec0, cd, crpix):
    """TAN projection; pixel coordinates 0-based (array index space)."""
    r, d, r0, d0 = map(np.radians, (ra, dec, ra0, dec0))
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
    xi = np.degrees(np.cos(d) * np.sin(r - r0) / cosc)
    eta = np.degrees((np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(r - r0)) / cosc)
    inv = np.linalg.inv(cd)
    px = inv[0, 0] * xi + inv[0, 1] * eta + crpix[0]
    py = inv[1, 0] * xi + inv[1, 1] * eta + crpix[1]
    return px, py, cosc > 0


def render(ra, dec, width_deg, size=(800, 600), angle_deg=0.0, mirror=False, noise=3.0,
           crowd=0, jitter_mag=0.0, seed=1, fwhm_px=2.5, index=INDEX):
    """Render a field; `crowd` extra non-catalogue stars, catalogue mags jittered by jitter_mag."""
    width, height = size
    rng = np.random.default_rng(seed)
    scale = width_deg / width
    cd = cd_matrix(scale, angle_deg, mirror)
    crpix = ((width - 1) / 2.0, (height - 1) / 2.0)
    radius = 0.5 * math.hypot(width, height) * scale * 1.05
    sra, sdec, mag = catalogue(ra, dec, radius, index)
    x, y, front = sky_to_pixel(sra, sdec, ra, dec, cd, crpix)
    keep = front & (x > -5) & (x < width + 5) & (y > -5) & (y < height + 5)
    x, y, mag = x[keep], y[keep], mag[keep] + rng.normal(0, jitter_mag, keep.sum())
    if crowd:
        faint = mag.max() if len(mag) else 12.0
        x = np.concatenate([x, rng.uniform(0, width, crowd)])
        y = np.concatenate([y, rng.uniform(0, height, crowd)])
        # Field stars: a few as bright as the catalogue's, most fainter.
        mag = np.concatenate([mag, faint + 2.5 - rng.exponential(1.5, crowd)])
    image = rng.normal(1000.0, noise, (height, width))
    flux = 30000.0 * 10 ** (-0.4 * (mag - mag.min())) if len(mag) else mag
    _add_stars(image, x, y, flux, fwhm_px / 2.355)
    pixels = np.clip(image, 0, 65535).astype(np.uint16)
    truth = {"ra": ra, "dec": dec, "width": width_deg, "height": width_deg * height / width,
             "crval": (ra, dec), "crpix": (crpix[0] + 1, crpix[1] + 1), "cd": cd.tolist(),
             "catalogue_stars": int(keep.sum())}
    return Field(pixels, truth)


def _add_stars(image, x, y, flux, sigma):
    height, width = image.shape
    half = int(math.ceil(4 * sigma)) + 1
    offsets = np.arange(-half, half + 1)
    for sx, sy, f in zip(x, y, flux):
        ix, iy = int(round(sx)), int(round(sy))
        xs, ys = offsets + ix, offsets + iy
        ok_x, ok_y = (xs >= 0) & (xs < width), (ys >= 0) & (ys < height)
        if not ok_x.any() or not ok_y.any():
            continue
        gx = np.exp(-0.5 * ((xs[ok_x] - sx) / sigma) ** 2)
        gy = np.exp(-0.5 * ((ys[ok_y] - sy) / sigma) ** 2)
        stamp = f / (2 * math.pi * sigma ** 2) * np.outer(gy, gx)
        image[np.ix_(ys[ok_y], xs[ok_x])] += stamp


def save_png(field, path, bits=8):
    """Write as an 8-bit (asinh-stretched) or 16-bit grey PNG."""
    from PIL import Image

    data = field.pixels.astype(np.float64)
    if bits == 16:
        Image.fromarray(field.pixels.astype(np.uint16)).save(path)
        return path
    lo = np.percentile(data, 5)
    scaled = np.clip((data - lo) / (data.max() - lo), 0, 1)
    scaled = np.arcsinh(scaled * 200) / np.arcsinh(200)
    Image.fromarray((scaled * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def wcs_cards(truth):
    """FITS WCS cards (1-based CRPIX) describing the rendered field."""
    cd = truth["cd"]
    return {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": truth["crval"][0],
            "CRVAL2": truth["crval"][1], "CRPIX1": truth["crpix"][0], "CRPIX2": truth["crpix"][1],
            "CD1_1": cd[0][0], "CD1_2": cd[0][1], "CD2_1": cd[1][0], "CD2_2": cd[1][1]}
