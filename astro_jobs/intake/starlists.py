"""Recognise a submitted star list, without numpy or astropy.

A job may be given the stars instead of an image: a CSV of ``x,y[,flux]``
(an optional header row naming the columns) or astrometry.net's ``.xyls``, a
FITS binary table with X and Y columns. The extractor solves the list without
detecting stars; here we only make sure it is one.
"""
import csv
import io
import itertools
import math
import re

from ..errors import BadInput
from . import fitsheader

FORMATS = ("csv", "xyls")
MAX_DIMENSION = 10**6
# Far more stars than any image shows; a longer list is not a star list.
MAX_STARS = 10**6


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
    """How many stars the CSV lists, read row by row (never held whole)."""
    try:
        # utf-8-sig: a leading BOM is not part of the first star (the extractor agrees).
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        rows = (row for row in csv.reader(text) if row and any(c.strip() for c in row))
        first = next(rows, None)
        if first is not None and _is_number(first[0]):
            rows = itertools.chain([first], rows)  # no header row such as x,y,flux
        count = _count_stars(rows)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidSources(f"not a star list: expected CSV of x,y[,flux] or an .xyls "
                             f"FITS table ({exc.__class__.__name__})") from None
    if not count:
        raise InvalidSources("the star list has no stars", code="empty_sources")
    return count


def _count_stars(rows):
    count = 0
    for count, row in enumerate(rows, 1):
        if count > MAX_STARS:
            raise InvalidSources(f"the star list has over {MAX_STARS} stars",
                                 code="too_many_sources")
        if len(row) not in (2, 3) or not all(_is_number(cell) for cell in row):
            raise InvalidSources(f"star {count} of the list is not x,y or x,y,flux: "
                                 f"{','.join(row)[:80]!r}")
    return count


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _xyls_rows(handle):
    size = handle.seek(0, 2)
    handle.seek(0)
    try:
        hdus = fitsheader.walk(handle, size, max_hdus=2)
        next(hdus)
        table, _, _ = next(hdus, (None, None, None))
    except fitsheader.Truncated as exc:
        raise InvalidSources(f"truncated .xyls file: {exc}", code="truncated_sources") from None
    except fitsheader.BadHeader as exc:
        raise InvalidSources(f"the .xyls file has a corrupt FITS header: {exc}") from None
    if table is None or table.get("XTENSION") != "BINTABLE":
        raise InvalidSources("the .xyls file's first extension is not a binary table")
    names = {name.upper() for name, _, _, _ in columns(table)}
    if not {"X", "Y"} <= names:
        raise InvalidSources("the .xyls table has no X and Y columns")
    rows = fitsheader.integer(table, "NAXIS2", 0)
    if rows <= 0:
        raise InvalidSources("the star list has no stars", code="empty_sources")
    if rows > MAX_STARS:
        raise InvalidSources(f"the star list has over {MAX_STARS} stars", code="too_many_sources")
    return rows


# Bytes per element of each binary-table column type (P and Q: descriptors).
_TFORM_BYTES = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8,
                "C": 8, "M": 16, "P": 8, "Q": 16}
_TFORM = re.compile(r"\s*(\d{0,9})([LXBIJKAEDCMPQ])")


def columns(cards):
    """[(name, type letter, repeat, byte offset in a row)] of a binary table,
    checked: TFIELDS within the standard's bound, each TFORMn readable, and
    the columns filling exactly the NAXIS1 bytes of a row."""
    try:
        fields = fitsheader.integer(cards, "TFIELDS", 0, 0, 999)
        width = fitsheader.integer(cards, "NAXIS1", 0)
        if fitsheader.integer(cards, "NAXIS", 0, 0, fitsheader.MAX_AXES) != 2:
            raise fitsheader.BadHeader("a binary table has NAXIS = 2")
    except fitsheader.BadHeader as exc:
        raise InvalidSources(f"the .xyls table's header is corrupt: {exc}") from None
    found, offset = [], 0
    for number in range(1, fields + 1):
        match = _TFORM.match(str(cards.get(f"TFORM{number}", "")))
        if match is None:
            raise InvalidSources(f"the .xyls table's TFORM{number} is not a column type")
        repeat, code = int(match.group(1) or 1), match.group(2)
        name = str(cards.get(f"TTYPE{number}", f"COL{number}")).strip()
        found.append((name, code, repeat, offset))
        offset += (repeat + 7) // 8 if code == "X" else repeat * _TFORM_BYTES[code]
    if offset != width:
        raise InvalidSources(f"the .xyls table's columns take {offset} bytes a row, "
                             f"its NAXIS1 says {width}")
    return found
