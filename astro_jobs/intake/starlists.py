"""Recognise a submitted star list, without numpy or astropy.

A job may be given the stars instead of an image: a CSV of ``x,y[,flux]``
(an optional header row naming the columns) or astrometry.net's ``.xyls``, a
FITS binary table with X and Y columns. The extractor solves the list without
detecting stars; here we only make sure it is one.
"""
import csv
import io
import math

from ..errors import BadInput
from . import fitsheader

FORMATS = ("csv", "xyls")
MAX_DIMENSION = 10**6


class InvalidSources(BadInput):
    code = "invalid_sources"


def inspect(path):
    """``{"format", "sources"}`` of the star list at ``path``, or raise."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        handle.seek(0)
        if head.startswith(b"SIMPLE  "):
            return {"format": "xyls", "sources": _xyls_rows(handle)}
        return {"format": "csv", "sources": _csv_rows(handle)}


def _csv_rows(handle):
    try:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        rows = [row for row in csv.reader(text) if row and any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidSources(f"not a star list: expected CSV of x,y[,flux] or an .xyls "
                             f"FITS table ({exc.__class__.__name__})") from None
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header row such as x,y,flux
    if not rows:
        raise InvalidSources("the star list has no stars", code="empty_sources")
    for line, row in enumerate(rows, 1):
        if len(row) not in (2, 3) or not all(_is_number(cell) for cell in row):
            raise InvalidSources(f"star {line} of the list is not x,y or x,y,flux: "
                                 f"{','.join(row)[:80]!r}")
    return len(rows)


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _header(handle):
    """The cards of the FITS header at the handle's position (up to END)."""
    cards = fitsheader.read(handle)
    if cards is None:
        raise InvalidSources("truncated .xyls file: a FITS header is cut short",
                             code="truncated_sources")
    return cards


def _xyls_rows(handle):
    primary = _header(handle)
    skip = _data_bytes(primary)
    handle.seek(handle.tell() + skip)
    table = _header(handle)
    if table.get("XTENSION") != "BINTABLE":
        raise InvalidSources("the .xyls file's first extension is not a binary table")
    columns = {str(table.get(f"TTYPE{n}", "")).upper() for n in range(1, 1000)} - {""}
    if not {"X", "Y"} <= columns:
        raise InvalidSources("the .xyls table has no X and Y columns")
    rows = int(table.get("NAXIS2", 0))
    if rows <= 0:
        raise InvalidSources("the star list has no stars", code="empty_sources")
    start = handle.tell()
    if handle.seek(0, 2) < start + _data_bytes(table):
        raise InvalidSources("truncated .xyls file: its table is cut short",
                             code="truncated_sources")
    return rows


def _data_bytes(cards):
    try:
        return fitsheader.padded(fitsheader.data_size(cards))
    except (TypeError, ValueError):
        raise InvalidSources("the .xyls file has a corrupt FITS header") from None
