"""Star lists sent to nova instead of an image, recognised as nova recognises them.

nova's upload takes a FITS table with X and Y (an ``.xyls``, what KStars
sends with its own star extractor) or a text list of ``x y`` lines with
``#`` comments (what N.I.N.A.'s text solver sends as ``upload.xy``), and
when the request gives no ``image_width``/``image_height`` it takes the
image to reach the largest x and y (its process_submissions.py). Anything
else is an image and goes the usual way.
"""
import math

from ...intake.starlists import MAX_DIMENSION, InvalidSources, inspect
from .wire import MAX_SOURCES, NovaError, _typed

# A line of a text list is short; a longer one means the file is something else.
MAX_LINE_BYTES = 256


def text_rows(path):
    """(x, y) rows of a text star list, or None if the file is not one. Read line by
    line and given up at the first line that is not one: an image costs a line."""
    rows = []
    with open(path, "rb") as handle:
        if handle.read(8).startswith(b"SIMPLE  "):
            return None
        handle.seek(0)
        while True:
            line = handle.readline(MAX_LINE_BYTES)
            if not line:
                break
            row = _row(line)
            if row is False or len(rows) >= MAX_SOURCES:
                return None
            if row is not None:
                rows.append(row)
    return rows or None


def _row(line):
    """(x, y) of one line, None for a blank or comment line, False if it is no row."""
    if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
        return False
    try:
        text = line.decode("ascii").split("#", 1)[0].strip()
    except UnicodeDecodeError:
        return False
    if not text:
        return None
    parts = text.replace(",", " ").split()
    try:
        row = (float(parts[0]), float(parts[1])) if len(parts) >= 2 else None
    except ValueError:
        return False
    return row if row is not None and all(map(math.isfinite, row)) else False


def is_xyls(path):
    """Whether the file is an ``.xyls`` table (read by its header cards: an image
    upload imports no numpy here)."""
    with open(path, "rb") as handle:
        if not handle.read(8).startswith(b"SIMPLE  "):
            return False
    try:
        return inspect(path)["format"] == "xyls"
    except InvalidSources:
        return False


def xyls_extent(path):
    """The largest X and Y of a table ``is_xyls`` accepted: its bounded check
    (submit's own) keeps a FITS image, or a table claiming absurd rows, from
    being read whole into the server's memory. Read as the extractor reads it."""
    import numpy as np

    from ...extract import fitsfile

    try:
        xy, _ = fitsfile.read_xylist(path)
        largest = xy.max(axis=0)
    except (OSError, ValueError, KeyError, TypeError):
        raise NovaError("the .xyls table's X and Y columns cannot be read") from None
    if not np.isfinite(xy).all():  # the image's size comes from these: a NaN has none
        raise NovaError("the .xyls table's X and Y values must be finite numbers")
    return float(largest[0]), float(largest[1])


def image_size(args, largest):
    """(width, height): the request's ``image_width``/``image_height``, else nova's
    rule, the largest x and y (``largest()``) rounded up."""
    width, height = _typed(args, "image_width", int), _typed(args, "image_height", int)
    if not width or not height:
        width, height = (int(math.ceil(value)) for value in largest())
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise NovaError("Source list must contain POSITIVE x,y coordinates "
                        f"(an image of 1 to {MAX_DIMENSION} pixels a side)")
    return width, height
