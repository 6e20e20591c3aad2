"""Tiny hostile images and star lists, made on the spot (never stored).

Each is a few bytes to a few KB whose header lies: a count, a size or an
offset that would drive a loop, an allocation or a seek far past anything
real if it were believed. ``CASES`` lists them with what a submit must
answer; tests/test_hostile.py and bench/hostile.py both send them.
"""
import struct
import zlib
from dataclasses import dataclass

BLOCK = 2880


@dataclass(frozen=True)
class Hostile:
    name: str        # also the file's name
    kind: str        # "image" or "sources"
    code: str        # the error code a submit answers
    data: bytes

    def upload_codes(self):
        """The codes nova's /api/upload may answer: it takes images only, so a
        star list there is a FITS file without an image."""
        return (self.code,) if self.kind == "image" else ("corrupt_image", "truncated_image")


# -- FITS --------------------------------------------------------------------

def fits_header(*cards, end=True):
    """One FITS header of ``(key, value)`` cards, padded to whole blocks."""
    text = "".join(f"{key:<8}= {value:>20}".ljust(80) for key, value in cards)
    if end:
        text += "END".ljust(80)
    raw = text.encode("ascii")
    return raw + b" " * (-len(raw) % BLOCK)


def fits_image(*cards, data=b""):
    head = fits_header(("SIMPLE", "T"), *cards)
    return head + data + b"\0" * (-len(data) % BLOCK)


def xyls(*table_cards):
    """An .xyls: an empty primary HDU, then a table header with these cards."""
    primary = fits_header(("SIMPLE", "T"), ("BITPIX", 8), ("NAXIS", 0), ("EXTEND", "T"))
    table = fits_header(("XTENSION", "'BINTABLE'"), ("BITPIX", 8), *table_cards)
    return primary + table + b"\0" * BLOCK


def _xy_columns():
    return (("TFIELDS", 2), ("TTYPE1", "'X'"), ("TFORM1", "'E'"),
            ("TTYPE2", "'Y'"), ("TFORM2", "'E'"))


# -- PNG ---------------------------------------------------------------------

def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def ihdr(width, height, colour=0):
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))


def png(*chunks):
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + png_chunk(b"IEND", b"")


def plain_png(width, height):
    """A real 8-bit grey PNG of zeros: tiny on disk, ``width * height`` bytes decoded."""
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return png(ihdr(width, height), png_chunk(b"IDAT", body))


# -- TIFF --------------------------------------------------------------------

def tiff_entry(tag, kind, count, value):
    return struct.pack("<HHI", tag, kind, count) + value


def tiff(*entries, following=0, header_offset=8):
    """A little-endian classic TIFF with one IFD at ``header_offset``."""
    ifd = struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", following)
    return b"II*\x00" + struct.pack("<I", header_offset) + ifd


def _inline(value):
    return struct.pack("<HH", value, 0)


def tiff_loop():
    """Two IFDs, each naming the other as the next page."""
    size = [tiff_entry(256, 3, 1, _inline(1)), tiff_entry(257, 3, 1, _inline(1))]
    second_at = 8 + 2 + 2 * 12 + 4
    first = tiff(*size, following=second_at)
    second = struct.pack("<H", 2) + b"".join(size) + struct.pack("<I", 8)
    return first + second


# -- JPEG --------------------------------------------------------------------

def jpeg_segment(marker, body):
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def sof(width, height, progressive=False):
    return jpeg_segment(0xC2 if progressive else 0xC0,
                        struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")


SCAN = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\0" * 4


def jpeg(*segments, scans=1):
    return b"\xff\xd8" + b"".join(segments) + SCAN * scans + b"\xff\xd9"


CASES = (
    # FITS: the 5.7 KB file that hung the server (NAXIS looped over).
    Hostile("naxis-1e18.fits", "image", "corrupt_image",
            fits_image(("BITPIX", 8), ("NAXIS", 10**18)) + b"\0" * BLOCK),
    Hostile("naxisn-1e18.fits", "image", "corrupt_image",
            fits_image(("BITPIX", 16), ("NAXIS", 2), ("NAXIS1", 10**18), ("NAXIS2", 10**18))),
    Hostile("naxisn-inf.fits", "image", "corrupt_image",
            fits_image(("BITPIX", 16), ("NAXIS", 2), ("NAXIS1", "1E400"), ("NAXIS2", 4))),
    Hostile("bitpix-7.fits", "image", "corrupt_image",
            fits_image(("BITPIX", 7), ("NAXIS", 2), ("NAXIS1", 4), ("NAXIS2", 4))),
    Hostile("claims-20gb.fits", "image", "truncated_image",
            fits_image(("BITPIX", 16), ("NAXIS", 2), ("NAXIS1", 100000), ("NAXIS2", 100000))),
    Hostile("no-end.fits", "image", "truncated_image",
            fits_header(("SIMPLE", "T"), ("BITPIX", 8), ("NAXIS", 2), end=False) * 3),
    Hostile("ext-naxis-1e18.fits", "image", "corrupt_image",
            fits_image(("BITPIX", 8), ("NAXIS", 0), ("EXTEND", "T"))
            + fits_header(("XTENSION", "'IMAGE'"), ("BITPIX", 8), ("NAXIS", 10**18))),
    # xyls: a table claiming absurd rows and columns.
    Hostile("rows-1e18.xyls", "sources", "invalid_sources",
            xyls(("NAXIS", 2), ("NAXIS1", 8), ("NAXIS2", 10**18), *_xy_columns())),
    Hostile("rows-1e12.xyls", "sources", "truncated_sources",
            xyls(("NAXIS", 2), ("NAXIS1", 8), ("NAXIS2", 10**12), *_xy_columns())),
    Hostile("tfields-1e18.xyls", "sources", "invalid_sources",
            xyls(("NAXIS", 2), ("NAXIS1", 8), ("NAXIS2", 1), ("TFIELDS", 10**18))),
    Hostile("naxis-1e18.xyls", "sources", "invalid_sources",
            xyls(("NAXIS", 10**18), *_xy_columns())),
    # TIFF: value counts and directories that would allocate or loop.
    Hostile("count-8388608.tif", "image", "corrupt_image",
            tiff(tiff_entry(256, 3, 8388608, b"\0\0\0\0"))),
    Hostile("count-2e30.tif", "image", "corrupt_image",
            tiff(tiff_entry(256, 4, 2**30, b"\0\0\0\0"))),
    Hostile("entries-65535.tif", "image", "corrupt_image",
            b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\0" * 16),
    Hostile("ifd-loop.tif", "image", "corrupt_image", tiff_loop()),
    Hostile("bigtiff-entries-2e63.tif", "image", "corrupt_image",
            b"II+\x00\x08\x00\x00\x00" + struct.pack("<QQ", 16, 2**63) + b"\0" * 24),
    # PNG: Pillow sizes from the first IHDR, so a second must not be believed.
    Hostile("double-ihdr.png", "image", "corrupt_image",
            png(ihdr(30000, 30000), ihdr(1, 1), png_chunk(b"IDAT", zlib.compress(b"\0\0")))),
    Hostile("ihdr-30000.png", "image", "image_too_large",
            png(ihdr(30000, 30000), png_chunk(b"IDAT", zlib.compress(b"\0")))),
    Hostile("chunk-4gb.png", "image", "corrupt_image",
            png(ihdr(1, 1)) [:-12] + struct.pack(">I", 0xFFFFFFFF) + b"IDAT" + b"\0" * 8),
    Hostile("cut.png", "image", "truncated_image", png(ihdr(4, 4))[:-12]),
    # JPEG: segment lengths that go nowhere, two frame headers, endless fill.
    Hostile("segment-0.jpg", "image", "corrupt_image",
            b"\xff\xd8\xff\xe0\x00\x00" + b"\0" * 32),
    Hostile("segment-past-end.jpg", "image", "corrupt_image",
            b"\xff\xd8\xff\xe0\xff\xff" + b"\0" * 32),
    Hostile("two-sof.jpg", "image", "corrupt_image", jpeg(sof(1, 1), sof(30000, 30000))),
    Hostile("fill.jpg", "image", "corrupt_image", b"\xff\xd8" + b"\xff" * 10000),
    Hostile("sof-60000.jpg", "image", "image_too_large", jpeg(sof(60000, 60000))),
    Hostile("cut.jpg", "image", "truncated_image", jpeg(sof(8, 8))[:-2]),
    Hostile("scans-5000.jpg", "image", "corrupt_image",
            jpeg(sof(2000, 2000, progressive=True), scans=5000)),
)
