"""Find stars once per image, in the order the solver should try them.

solve-field would re-extract sources on every call; running image2xy once
and handing solve-field a ready xylist lets several scale bands be tried
for the price of one detection.
"""
import os
import subprocess

import numpy as np

from .image import write_detection_fits
from .progress import log

# Enough stars for verification without making every hypothesis check slow
# on 3000 x 3000 plates that yield 30,000 detections.
MAX_STARS = 1000


def choose_downsample(width, height, requested=None):
    """Downsample factors for detection, best first; the caller's wins when given.

    Binning 2x2 makes image2xy ~15x faster on 800 x 600 APOD-like images
    and its brightest detections are cleaner stars (less nebula knots and
    JPEG noise), which is what the quad search feeds on. Small images keep
    every pixel. The second factor is the fall-back when the first finds
    no solution quickly.
    """
    if requested:
        return [max(1, int(requested))]
    largest = max(width, height)
    if largest < 700:
        return [1, 2]
    if width * height > 2e7:
        return [4, 2]
    return [2, 1]


def detect_stars(image, workdir, downsample):
    """Run image2xy; return a (N, 4) array X, Y, FLUX, BACKGROUND (1-based pixels)."""
    fits_path = os.path.join(workdir, "detect.fits")
    xy_path = os.path.join(workdir, "detect.xy.fits")
    write_detection_fits(image, fits_path)
    argv = ["image2xy", "-O", "-o", xy_path]
    if downsample > 1:
        argv += ["-d", str(downsample)]
    argv.append(fits_path)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(xy_path):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError("image2xy failed (exit %d): %s" % (proc.returncode, tail[0]))
    os.unlink(fits_path)
    return _read_xy(xy_path)


def _read_xy(path):
    from astropy.io import fits

    with fits.open(path) as hdus:
        if len(hdus) < 2 or hdus[1].data is None or len(hdus[1].data) == 0:
            return np.zeros((0, 4))
        data = hdus[1].data
        return np.column_stack([np.asarray(data[c], dtype=np.float64)
                                for c in ("X", "Y", "FLUX", "BACKGROUND")])


def solver_order(stars, max_stars=MAX_STARS, boxes=10):
    """Order stars as solve-field's image pipeline does, then cut.

    image2xy's own output is unsorted; solve-field sorts by a compromise of
    background-subtracted and raw flux (saturated stars in JPEGs have a low
    subtracted flux) and then spreads the brightest over the frame
    ("uniformize"). Skipping either made a 1910 plate unsolvable.
    """
    if len(stars) == 0:
        return stars
    stars = stars[_compromise_rank(stars[:, 2], stars[:, 2] + stars[:, 3])]
    stars = stars[_uniformize(stars[:, 0], stars[:, 1], boxes)]
    return stars[:max_stars]


def _compromise_rank(flux, total):
    by_flux = np.argsort(-flux, kind="stable")
    by_total = np.argsort(-total, kind="stable")
    seen = np.zeros(len(flux), dtype=bool)
    order = []
    for pair in zip(by_flux, by_total):
        for index in pair:
            if not seen[index]:
                seen[index] = True
                order.append(index)
    return np.asarray(order, dtype=int)


def _uniformize(x, y, boxes):
    """Round-robin over a grid of about `boxes` cells (astrometry's uniformize.py)."""
    width, height = np.ptp(x), np.ptp(y)
    if width == 0 or height == 0:
        return np.arange(len(x))
    nx = int(max(1, round(width / np.sqrt(width * height / boxes))))
    ny = int(max(1, round(boxes / nx)))
    ix = np.clip(np.floor((x - x.min()) / width * nx), 0, nx - 1).astype(int)
    iy = np.clip(np.floor((y - y.min()) / height * ny), 0, ny - 1).astype(int)
    cell = iy * nx + ix
    # Rank of each star within its cell, in the incoming (brightness) order.
    rank = np.zeros(len(x), dtype=int)
    counts = {}
    for i, c in enumerate(cell):
        rank[i] = counts.get(c, 0)
        counts[c] = rank[i] + 1
    # Within one round, stars go in list order (uniformize.py sorts indices).
    return np.lexsort((np.arange(len(x)), rank))


def write_xylist(stars, path, width, height):
    from astropy.io import fits

    columns = [fits.Column(name=name, format="E", array=stars[:, i].astype(np.float32))
               for i, name in enumerate(("X", "Y", "FLUX", "BACKGROUND"))]
    hdu = fits.BinTableHDU.from_columns(columns)
    hdu.header["IMAGEW"] = width
    hdu.header["IMAGEH"] = height
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    log("wrote %d stars for the solver" % len(stars))
    return path
