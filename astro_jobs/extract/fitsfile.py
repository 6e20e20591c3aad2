"""The few FITS files the solve loop reads and writes, without astropy.

Xylists for astrometry-engine and the tables it writes back (.corr, .wcs)
are plain FITS with simple headers. Importing
astropy.io.fits costs more than a whole right-band solve, so the hot path
reads and writes these few shapes itself; astropy stays for user FITS
images, whose headers and data can be anything.
"""
import os

import numpy as np

from ..intake.fitsheader import BLOCK, CARD, read_file, walk
from ..intake.starlists import InvalidSources, columns

_TFORM = {"E": ">f4", "D": ">f8", "J": ">i4", "I": ">i2", "K": ">i8", "B": "u1", "L": "u1"}


def _card(key, value):
    if isinstance(value, bool):
        text = "T" if value else "F"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = repr(float(value)).upper()
    else:
        text = "'%-8s'" % str(value).replace("'", "''")
    if isinstance(value, str):
        return ("%-8s= %-20s" % (key, text)).ljust(CARD)[:CARD]
    return ("%-8s= %20s" % (key, text)).ljust(CARD)[:CARD]


def _header(cards):
    text = "".join(_card(k, v) for k, v in cards) + "END".ljust(CARD)
    return _pad(text.encode("ascii"), b" ")


def _pad(data, fill):
    return data + fill * (-len(data) % BLOCK)


# A primary HDU with no data, a table following.
_EMPTY_PRIMARY = [("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0), ("EXTEND", True)]


def write_table(path, columns, extra=(), primary=()):
    """A primary HDU without data (its header also carrying the cards
    ``primary``) and one binary table of float32 columns {name: array}."""
    names = list(columns)
    rows = len(columns[names[0]]) if names else 0
    record = np.zeros(rows, dtype=[(n, ">f4") for n in names])
    for name in names:
        record[name] = columns[name]
    cards = [("XTENSION", "BINTABLE"), ("BITPIX", 8), ("NAXIS", 2),
             ("NAXIS1", 4 * len(names)), ("NAXIS2", rows), ("PCOUNT", 0), ("GCOUNT", 1),
             ("TFIELDS", len(names))]
    for i, name in enumerate(names, start=1):
        cards += [("TTYPE%d" % i, name), ("TFORM%d" % i, "E")]
    cards += list(extra)
    with open(path, "wb") as fh:
        fh.write(_header([*_EMPTY_PRIMARY, *primary]))
        fh.write(_header(cards))
        fh.write(_pad(record.tobytes(), b"\0"))
    return path


def read_headers(fh):
    """Yield (cards, offset of its data, size of its data) for each HDU in an open
    file; every size bounded and inside the file (ValueError otherwise)."""
    yield from walk(fh, os.fstat(fh.fileno()).st_size)


def read_table(path, hdu=1):
    """({column: float64 array}, header cards) of a binary table of numeric columns."""
    with open(path, "rb") as fh:
        for number, (cards, offset, size) in enumerate(read_headers(fh)):
            if number == hdu:
                fh.seek(offset)
                return _columns(cards, fh.read(size)), cards
    raise ValueError("no HDU %d in %s" % (hdu, path))


def read_xylist(path):
    """(N x 2 array of X and Y, the FLUX column or None) of an xylist table,
    its columns named in any case, as astrometry.net's readers accept them;
    ValueError without an X and a Y column."""
    columns, _ = read_table(path)
    named = {name.upper(): values for name, values in columns.items()}
    if "X" not in named or "Y" not in named:
        raise ValueError("the table has no X and Y columns")
    return np.column_stack([named["X"], named["Y"]]), named.get("FLUX")


def _columns(cards, raw):
    if cards.get("XTENSION") != "BINTABLE":
        raise ValueError("not a binary table")
    try:
        layout = columns(cards)  # the one reader of a table's shape, shared with submit
    except InvalidSources as exc:
        raise ValueError(exc.message) from None
    rows, width = int(cards["NAXIS2"]), int(cards["NAXIS1"])
    fields = [(name, _TFORM[code], offset) for name, code, repeat, offset in layout
              if code in _TFORM and repeat == 1]
    dtype = np.dtype({"names": [f[0] for f in fields], "formats": [f[1] for f in fields],
                      "offsets": [f[2] for f in fields], "itemsize": width})
    table = np.frombuffer(raw[:rows * width], dtype=dtype, count=rows)
    return {name: np.asarray(table[name], dtype=np.float64) for name, _, _ in fields}


def header_cards(path):
    """The primary header's cards (key -> value)."""
    return read_file(path)
