"""Recognise a submitted image from its bytes, without an imaging library.

``submit`` must stay light (no Pillow, no astropy) yet refuse what the
extractor would choke on: files that are not images, truncated files and
decompression bombs whose header claims more pixels than any sensor has.
Only the headers are parsed; JPEG, PNG, TIFF and FITS are accepted.
"""
import mmap
import struct

from ..errors import BadInput
from . import fitsheader


class InvalidImage(BadInput):
    code = "invalid_image"


def inspect(path, max_pixels):
    """``{"format", "width", "height"}`` of the image at ``path``, or raise."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise InvalidImage("image is an empty file", code="empty_image")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            head = data[:8]
            for magic, parse in _PARSERS:
                if head.startswith(magic):
                    try:
                        fmt, width, height = parse(data)
                    except (struct.error, IndexError, ValueError) as exc:
                        raise InvalidImage(f"corrupt image header ({exc})",
                                           code="corrupt_image") from None
                    break
            else:
                raise InvalidImage("not an image: expected JPEG, PNG, TIFF or FITS",
                                   code="not_an_image")
    if width <= 0 or height <= 0:
        raise InvalidImage(f"{fmt} image has no pixels ({width} x {height})",
                           code="corrupt_image")
    if width * height > max_pixels:
        raise InvalidImage(
            f"image too large: {width} x {height} pixels is over the limit of "
            f"{max_pixels / 1e6:.0f} megapixels", code="image_too_large")
    return {"format": fmt, "width": width, "height": height}


def _truncated(fmt):
    return InvalidImage(f"truncated {fmt} file: its end is missing", code="truncated_image")


# -- JPEG -----------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7}


def _jpeg(data):
    pos, size, dims = 2, len(data), None
    while pos < size:
        if data[pos] != 0xFF:
            raise ValueError(f"no JPEG marker at byte {pos}")
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker == 0xD9:
            raise ValueError("image ends before its scan")
        if pos + 2 > size:
            raise _truncated("JPEG")
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            dims = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if dims is None:
                raise ValueError("scan before frame header")
            # 0xFF inside scan data is always stuffed (FF00) or a restart
            # marker, so an end-of-image marker after it means the file is whole.
            if data.find(b"\xff\xd9", pos + length) < 0:
                raise _truncated("JPEG")
            return "jpeg", dims[0], dims[1]
        pos += length
    raise _truncated("JPEG")


# -- PNG ------------------------------------------------------------------

def _png(data):
    pos, size, dims = 8, len(data), None
    while pos + 8 <= size:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            dims = struct.unpack(">II", data[pos + 8:pos + 16])
        if kind == b"IEND":
            if dims is None:
                raise ValueError("no IHDR chunk")
            return "png", dims[0], dims[1]
        pos += 12 + length
    raise _truncated("PNG")


# -- TIFF -----------------------------------------------------------------

_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}


def _tiff(data):
    order = "<" if data[:2] == b"II" else ">"
    version = struct.unpack(order + "H", data[2:4])[0]
    if version == 43:  # BigTIFF: 8-byte offsets
        offset = struct.unpack(order + "Q", data[8:16])[0]
        count_fmt, entry_fmt, entry_size, inline = "Q", "HHQ8s", 20, 8
    else:
        offset = struct.unpack(order + "I", data[4:8])[0]
        count_fmt, entry_fmt, entry_size, inline = "H", "HHI4s", 12, 4
    count_size = struct.calcsize(count_fmt)
    if offset + count_size > len(data):
        raise _truncated("TIFF")
    count = struct.unpack(order + count_fmt, data[offset:offset + count_size])[0]
    tags = {}
    for index in range(count):
        start = offset + count_size + index * entry_size
        tag, kind, n, raw = struct.unpack(order + entry_fmt, data[start:start + entry_size])
        if kind not in _TIFF_TYPES:
            continue
        code, width = _TIFF_TYPES[kind]
        if n * width <= inline:
            blob = raw[:n * width]
        else:
            where = struct.unpack(order + ("Q" if inline == 8 else "I"), raw)[0]
            blob = data[where:where + n * width]
        tags[tag] = struct.unpack(order + code * n, blob)
    width, height = tags.get(256, (0,))[0], tags.get(257, (0,))[0]
    # Strips (273/279) or tiles (324/325): every piece must lie inside the file.
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        if offsets_tag in tags and counts_tag in tags:
            end = max(o + c for o, c in zip(tags[offsets_tag], tags[counts_tag]))
            if end > len(data):
                raise _truncated("TIFF")
    return "tiff", width, height


# -- FITS -----------------------------------------------------------------

def _fits_header(data, start):
    """Cards of one FITS header and the offset where its data begins."""
    cards, pos = fitsheader.parse(data, start)
    if pos is None:
        raise _truncated("FITS")
    return cards, pos


def _fits(data):
    cards, pos = _fits_header(data, 0)
    if int(cards.get("NAXIS", 0)) < 2 and pos < len(data):
        # An empty primary HDU: the image is the first extension
        # (possibly tile-compressed, whose true size is in ZNAXISn).
        cards, pos = _fits_header(data, pos + fitsheader.padded(fitsheader.data_size(cards)))
    if pos + fitsheader.data_size(cards) > len(data):
        raise _truncated("FITS")
    prefix = "ZNAXIS" if cards.get("ZIMAGE") is True else "NAXIS"
    if int(cards.get(prefix, 0)) < 2:
        raise ValueError("FITS file holds no 2-D image")
    return "fits", int(cards[prefix + "1"]), int(cards[prefix + "2"])


_PARSERS = (
    (b"\xff\xd8\xff", _jpeg),
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    (b"SIMPLE  ", _fits),
)
