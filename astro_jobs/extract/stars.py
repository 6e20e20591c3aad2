"""Find stars once per image, in the order the solver should try them.

solve-field would re-extract sources on every call; detecting once
(detect.py) and handing each engine a ready list lets several scale
bands be tried for the price of one detection.
"""
import numpy as np

from .detect import find_peaks
from .image import bin_array
from .progress import log

# Enough stars for verification without making every hypothesis check slow
# on 3000 x 3000 plates that yield 30,000 detections.
MAX_STARS = 1000
# Detection runs on a copy binned to about this size: its time grows with
# pixels, and the stars a solve needs are the brightest, which survive
# binning (a 3000 px plate binned 4x4 still solves).
DETECT_SIDE = 1024
# Below this size every pixel counts; above, detection at full resolution
# finds JPEG noise by the thousand.
SMALL_SIDE = 450


def choose_downsample(width, height, requested=None):
    """Binning factors for detection, best first; the caller's wins when given.

    Binning 2x2 makes detection several times faster on 800 x 600 APOD-like
    images and its brightest detections are cleaner stars (less nebula knots
    and JPEG noise), which is what the quad search feeds on. Small images keep
    every pixel. The second factor is the fall-back when the first finds
    no solution quickly.
    """
    if requested:
        return [max(1, int(requested))]
    largest = max(width, height)
    if largest < SMALL_SIDE:
        return [1, 2]
    factor = 2
    while largest / factor > DETECT_SIDE:
        factor *= 2
    return [factor, factor // 2]


def detect_stars(image, downsample):
    """The binned image's stars; (N, 4) X, Y, FLUX, BACKGROUND in full-size FITS pixels."""
    grey, done = image.grey(downsample)
    found = find_peaks(bin_array(grey, downsample // done))
    # Pixel i of the binned copy spans full-size pixels f*i .. f*i + f - 1
    # (0-based); in FITS's 1-based terms its centre is f*(X - 1) + (f + 1) / 2.
    found[:, :2] = downsample * (found[:, :2] - 1.0) + (downsample + 1) / 2.0
    return found


def solver_order(stars, max_stars=MAX_STARS, boxes=10):
    """Order stars as solve-field's image pipeline does, then cut.

    A detector's list comes unsorted; solve-field sorts by a compromise of
    background-subtracted and raw flux (saturated stars in JPEGs have a low
    subtracted flux) and then spreads the brightest over the frame
    ("uniformize"). Skipping either made a 1910 plate unsolvable.
    """
    if len(stars) == 0:
        return stars
    stars = stars[_compromise_rank(stars[:, 2], stars[:, 2] + stars[:, 3])]
    return uniformize_order(stars, max_stars, boxes)


def uniformize_order(stars, max_stars=MAX_STARS, boxes=10):
    """Spread the list (brightest first) over the frame, then cut."""
    if len(stars) == 0:
        return stars
    return stars[_uniformize(stars[:, 0], stars[:, 1], boxes)][:max_stars]


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


class StarLists:
    """Star lists per binning factor (best first), detected on first use.

    A source list given instead of an image is the one list there is.
    """

    def __init__(self, image, factors, given=None):
        self.image, self.factors = image, factors
        self._done = {}
        if given is not None:
            self.factors = [1]
            self._store(1, given[0], given[1])

    def _store(self, factor, found, ordered):
        log("%d stars for the solver" % len(ordered))
        self._done[factor] = (factor, found, ordered)

    def get(self, which):
        """(factor, stars found, stars ordered for the solver)."""
        factor = self.factors[min(which, len(self.factors) - 1)]
        if factor not in self._done:
            found = detect_stars(self.image, factor)
            log("detected %d stars (binned %d)" % (len(found), factor))
            self._store(factor, found, solver_order(found))
        return self._done[factor]

    def for_solver(self, which, max_stars=None):
        """List `which` in the solver's order, cut to its first `max_stars` stars."""
        return self.get(which)[2][:max_stars]

    def used_so_far(self):
        """{binning factor: stars given to the solver} of each list detected so far."""
        return {factor: len(done[2]) for factor, done in self._done.items()}

    def summary(self, which, max_stars=None):
        factor, found, _ = self.get(which)
        return {"detected": int(len(found)), "matched": 0,
                "used": len(self.for_solver(which, max_stars)), "downsample": factor}
