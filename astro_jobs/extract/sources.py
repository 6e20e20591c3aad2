"""Source lists instead of pictures: solve from star positions someone else measured.

Two forms: astrometry.net's xylist (a FITS binary table with X, Y and
optionally FLUX, 1-based FITS pixels as image2xy writes them), and CSV
with x, y[, flux] (0-based pixel centres, like the result's annotations;
a header row is optional). The image size must be given: a list does not
say how large its image was.
"""
import csv
import io
import os

import numpy as np

from ..intake import starlists
from ..intake.digest import file_digest
from . import fitsfile
from .image import UnreadableImage

LIST_SUFFIXES = (".xyls", ".xyls.fits", ".csv")


class SourceList:
    """Stars of one list, in the shape the solver takes (N x 4: X, Y, FLUX, BACKGROUND)."""

    def __init__(self, path, fmt, stars, size, has_flux):
        self.path, self.format = path, fmt
        self.width, self.height = size
        self.stars, self.has_flux = stars, has_flux
        self.header = None

    def info(self):
        digest = file_digest(self.path)
        return {"file": os.path.basename(self.path), "format": self.format, "width": self.width,
                "height": self.height, "sha256": digest, "bits_per_sample": None,
                "channels": None}


def is_source_list(path):
    """A .xyls/.csv name, or a FITS file whose first extension is a table with X and Y."""
    lower = path.lower()
    if lower.endswith(LIST_SUFFIXES):
        return True
    if not lower.endswith((".fits", ".fit", ".fts")):
        return False
    try:
        with open(path, "rb") as fh:
            headers = list(_first_two(fh))
    except (OSError, ValueError):
        return False
    if len(headers) < 2 or headers[0].get("NAXIS", 0) != 0:
        return False
    table = headers[1]
    if table.get("XTENSION") != "BINTABLE":
        return False
    try:
        names = {name.upper() for name, _, _, _ in starlists.columns(table)}
    except starlists.InvalidSources:
        return False
    return {"X", "Y"} <= names


def _first_two(fh):
    for number, (cards, _, _) in enumerate(fitsfile.read_headers(fh)):
        yield cards
        if number == 1:
            return


def read_source_list(path, width, height):
    if not os.path.isfile(path):
        raise UnreadableImage("source list not found: %s" % path)
    if width is None or height is None:
        raise UnreadableImage("a source list needs --width and --height (the image size)")
    try:  # submit's own check, before anything is read whole
        starlists.inspect(path)
    except starlists.InvalidSources as exc:
        raise UnreadableImage("cannot read source list %s: %s" % (os.path.basename(path),
                                                                  exc.message)) from None
    if path.lower().endswith(".csv"):
        xy, flux = _read_csv(path)
        fmt = "csv"
        xy = xy + 1.0  # 0-based pixel centres -> the solver's FITS pixels
    else:
        xy, flux = _read_xyls(path)
        fmt = "xyls"
    if len(xy) and (np.nanmin(xy) < 0 or not np.isfinite(xy).all()):
        raise UnreadableImage("source list %s has positions that are not pixels" % path)
    stars = np.zeros((len(xy), 4))
    stars[:, :2] = xy
    if flux is not None:
        stars[:, 2] = flux
    return SourceList(path, fmt, stars, (int(width), int(height)), flux is not None)


def _read_xyls(path):
    try:
        return fitsfile.read_xylist(path)
    except (OSError, ValueError, KeyError) as exc:
        raise UnreadableImage("cannot read source list %s: %s" % (path, exc)) from exc


def _read_csv(path):
    try:
        with open(path, encoding="utf-8-sig") as fh:
            rows = [row for row in csv.reader(io.StringIO(fh.read())) if row and any(row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableImage("cannot read source list %s: %s" % (path, exc)) from exc
    if rows and not _numeric(rows[0][0]):
        rows = rows[1:]  # a header row
    try:
        values = [[float(v) for v in row[:3]] for row in rows]
    except ValueError as exc:
        raise UnreadableImage("source list %s: not numbers: %s" % (path, exc)) from exc
    if not values or min(len(v) for v in values) < 2:
        raise UnreadableImage("source list %s needs x,y[,flux] rows" % path)
    has_flux = all(len(v) >= 3 for v in values)
    array = np.array([v[:3] if has_flux else v[:2] for v in values], dtype=float)
    return array[:, :2], array[:, 2] if has_flux else None


def _numeric(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def solver_order(stars, has_flux):
    """Brightest first when fluxes are given, else as listed; then spread over the frame."""
    from .stars import uniformize_order

    if has_flux:
        stars = stars[np.argsort(-stars[:, 2], kind="stable")]
    return uniformize_order(stars)
