"""Recognise a submitted image from its bytes, without an imaging library.

``submit`` must stay light (no Pillow, no astropy) yet refuse what the
extractor would choke on: files that are not images, truncated files and
decompression bombs whose header claims more pixels than any sensor has.
Only the headers are parsed; JPEG, PNG, TIFF and FITS are accepted. The
extractor calls ``inspect`` too before it decodes, and reads the header the
way its decoder does (Pillow takes a PNG's first IHDR, a TIFF's first IFD),
so the size recorded at submit is the size that gets decoded.

Every count, length and offset read from a header is bounded before it
drives a loop, an allocation or a seek; values are unpacked with fixed
``struct`` formats only (``struct`` caches every format it builds, so one
made from a claimed count would keep its memory for good).
"""
import mmap
import struct

from ..errors import BadInput
from . import fitsheader

# Bounds far beyond real files, each scanned in well under a second.
MAX_PNG_CHUNKS = 1 << 18
MAX_JPEG_SEGMENTS = 1 << 16
MAX_JPEG_FILL = 4096
# A progressive JPEG has about ten scans; libjpeg decodes every one over the
# whole frame, so thousands of tiny scans cost minutes of CPU.
MAX_JPEG_SCANS = 256
MAX_TIFF_ENTRIES = 4096  # tags in one IFD (a few dozen in practice)
MAX_TIFF_IFDS = 1024     # pages
MAX_TIFF_PIECES = 1 << 20  # strips or tiles


class InvalidImage(BadInput):
    code = "invalid_image"


def inspect(path, max_pixels):
    """``{"format", "width", "height"}`` of the image at ``path``, or raise."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise InvalidImage("image is an empty file", code="empty_image")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            fmt, width, height = _parse(data)
    if width <= 0 or height <= 0:
        raise InvalidImage(f"{fmt} image has no pixels ({width} x {height})",
                           code="corrupt_image")
    if width * height > max_pixels:
        raise InvalidImage(
            f"image too large: {width} x {height} pixels is over the limit of "
            f"{max_pixels / 1e6:.0f} megapixels", code="image_too_large")
    return {"format": fmt, "width": width, "height": height}


def _parse(data):
    head = data[:8]
    parse = next((p for magic, p in _PARSERS if head.startswith(magic)), None)
    if parse is None:
        raise InvalidImage("not an image: expected JPEG, PNG, TIFF or FITS",
                           code="not_an_image")
    try:
        return parse(data)
    except fitsheader.Truncated:
        raise _truncated("FITS") from None
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise InvalidImage(f"corrupt image header ({exc})", code="corrupt_image") from None


def _truncated(fmt):
    return InvalidImage(f"truncated {fmt} file: its end is missing", code="truncated_image")


def _unpack(fmt, data, pos):
    """One fixed-format value at ``pos``; truncated when the file ends first."""
    size = struct.calcsize(fmt)
    if pos < 0 or pos + size > len(data):
        raise ValueError(f"a header field at byte {pos} lies past the end of the file")
    return struct.unpack(fmt, data[pos:pos + size])


# -- JPEG -----------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Sequential frames: when the first scan holds every component, libjpeg
# decodes that one scan and refuses any later one ("EOI expected"), so only
# other frames (progressive, or components in separate scans) need their
# scans counted, which reads the whole file.
_JPEG_ONE_SCAN = {0xC0, 0xC1, 0xC9}
_JPEG_NO_LENGTH = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7}


def _jpeg_marker(data, pos):
    """(marker, position after it) at ``pos``, past its fill bytes."""
    if pos >= len(data):
        raise _truncated("JPEG")
    if data[pos] != 0xFF:
        raise ValueError(f"no JPEG marker at byte {pos}")
    window = data[pos:pos + MAX_JPEG_FILL]
    rest = window.lstrip(b"\xff")
    if not rest:
        raise ValueError(f"over {MAX_JPEG_FILL} fill bytes at byte {pos}")
    pos += len(window) - len(rest)
    return rest[0], pos + 1


def _jpeg(data):
    pos, frame = 2, None
    for _ in range(MAX_JPEG_SEGMENTS):
        marker, pos = _jpeg_marker(data, pos)
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker == 0xD9:
            raise ValueError("image ends before its scan")
        if pos + 2 > len(data):
            raise _truncated("JPEG")
        (length,) = _unpack(">H", data, pos)
        if length < 2 or pos + length > len(data):
            raise ValueError(f"JPEG segment at byte {pos} claims {length} bytes")
        if marker in _JPEG_SOF:
            if frame is not None or length < 8:
                raise ValueError("a second or short JPEG frame header")
            height, width, components = _unpack(">HHB", data, pos + 3)
            frame = (marker, width, height, components)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if frame is None:
                raise ValueError("scan before frame header")
            # 0xFF inside scan data is always stuffed (FF00) or a restart
            # marker, so an end-of-image marker after it means the file is
            # whole; the last one sits at the end, so search from there.
            if data.rfind(b"\xff\xd9", pos + length) < 0:
                raise _truncated("JPEG")
            (scan_components,) = _unpack(">B", data, pos + 2)
            if frame[0] not in _JPEG_ONE_SCAN or scan_components != frame[3]:
                _jpeg_scans_bounded(data, pos)
            return "jpeg", frame[1], frame[2]
        pos += length
    raise ValueError(f"over {MAX_JPEG_SEGMENTS} JPEG segments before the image data")


def _jpeg_scans_bounded(data, pos):
    """At most MAX_JPEG_SCANS start-of-scan markers from ``pos`` on (stuffing makes
    every FF DA after the first scan a real marker)."""
    for _ in range(MAX_JPEG_SCANS):
        pos = data.find(b"\xff\xda", pos + 2)
        if pos < 0:
            return
    raise ValueError(f"over {MAX_JPEG_SCANS} JPEG scans")


# -- PNG ------------------------------------------------------------------

def _png(data):
    pos, dims = 8, None
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 12 > len(data):
            raise _truncated("PNG")
        length, kind = _unpack(">I4s", data, pos)
        if length > 0x7FFFFFFF:  # the PNG standard's bound
            raise ValueError(f"PNG chunk at byte {pos} claims {length} bytes")
        if (kind == b"IHDR") != (dims is None):
            # IHDR must come first and once: Pillow sizes the image from the
            # first, and a second one must not tell us another size.
            raise ValueError("the PNG's IHDR chunk is missing, late or repeated")
        if kind == b"IHDR":
            dims = _unpack(">II", data, pos + 8)
        if kind == b"IEND":
            return "png", dims[0], dims[1]
        pos += 12 + length
    raise ValueError(f"over {MAX_PNG_CHUNKS} PNG chunks")


# -- TIFF -----------------------------------------------------------------

# Value types of the tags we read: SHORT, LONG, LONG8.
_TIFF_TYPES = {3: "H", 4: "I", 16: "Q"}
# (IFD offset, entry count, one entry, its size, inline value bytes)
_CLASSIC = ("I", "H", "HHI4s", 12, 4)
_BIG = ("Q", "Q", "HHQ8s", 20, 8)
_WIDTH, _LENGTH = 256, 257
_PIECES = ((273, 279), (324, 325))  # (offsets, byte counts) of strips, of tiles
_WANTED = {_WIDTH, _LENGTH, 273, 279, 324, 325}


def _tiff(data):
    order = "<" if data[:2] == b"II" else ">"
    layout = _BIG if _unpack(order + "H", data, 2)[0] == 43 else _CLASSIC
    (first,) = _unpack(order + layout[0], data, 8 if layout is _BIG else 4)
    entries, following = _tiff_ifd(data, order, layout, first)
    _tiff_chain(data, order, layout, first, following)
    width = next(_tiff_values(data, order, layout, entries.get(_WIDTH)), 0)
    height = next(_tiff_values(data, order, layout, entries.get(_LENGTH)), 0)
    for offsets, counts in _PIECES:
        if offsets in entries and counts in entries:
            _tiff_pieces_inside(data, order, layout, entries[offsets], entries[counts])
    return "tiff", width, height


def _tiff_ifd(data, order, layout, offset):
    """({tag: (type, count, raw value)} of the tags we read, offset of the next IFD)."""
    offset_fmt, count_fmt, entry_fmt, entry_size, _ = layout
    (count,) = _unpack(order + count_fmt, data, offset)
    if not 0 < count <= MAX_TIFF_ENTRIES:
        raise ValueError(f"TIFF directory at byte {offset} claims {count} entries")
    start = offset + struct.calcsize(count_fmt)
    end = start + count * entry_size
    (following,) = _unpack(order + offset_fmt, data, end)
    entries = {}
    for tag, kind, n, raw in struct.iter_unpack(order + entry_fmt, data[start:end]):
        if tag in _WANTED:
            if tag in entries:  # decoders differ on which one counts
                raise ValueError(f"TIFF tag {tag} appears twice in one directory")
            entries[tag] = (kind, n, raw)
    return entries, following


def _tiff_chain(data, order, layout, first, following):
    """Walk the chain of IFDs (pages): each inside the file, no loop, bounded."""
    seen = {first}
    count_size = struct.calcsize(layout[1])
    for _ in range(MAX_TIFF_IFDS):
        if following == 0:
            return
        if following in seen:
            raise ValueError(f"the TIFF's directories loop back to byte {following}")
        seen.add(following)
        (count,) = _unpack(order + layout[1], data, following)
        if not 0 < count <= MAX_TIFF_ENTRIES:
            raise ValueError(f"TIFF directory at byte {following} claims {count} entries")
        (following,) = _unpack(order + layout[0], data,
                               following + count_size + count * layout[3])
    raise ValueError(f"the TIFF has over {MAX_TIFF_IFDS} directories")


def _tiff_values(data, order, layout, entry, limit=MAX_TIFF_PIECES):
    """The values of one entry, read one at a time (its count is bounded first)."""
    if entry is None:
        return iter(())
    kind, count, raw = entry
    code = _TIFF_TYPES.get(kind)
    if code is None:
        raise ValueError(f"a TIFF size tag has value type {kind}")
    width = struct.calcsize(code)
    if count > limit or count * width > len(data):
        raise ValueError(f"a TIFF tag claims {count} values")
    if count * width <= layout[4]:
        blob = raw[:count * width]
    else:
        (where,) = struct.unpack(order + layout[0], raw)
        if where + count * width > len(data):
            raise _truncated("TIFF")
        blob = data[where:where + count * width]
    return (value for (value,) in struct.iter_unpack(order + code, blob))


def _tiff_pieces_inside(data, order, layout, offsets, counts):
    """Every strip or tile must lie inside the file."""
    pairs = zip(_tiff_values(data, order, layout, offsets),
                _tiff_values(data, order, layout, counts))
    if max((start + size for start, size in pairs), default=0) > len(data):
        raise _truncated("TIFF")


# -- FITS -----------------------------------------------------------------

def _fits_header(data, start):
    """Cards of one FITS header and the offset where its data begins."""
    cards, pos = fitsheader.parse(data, start)
    if pos is None:
        raise _truncated("FITS")
    return cards, pos


def image_hdu(cards, first):
    """Whether the HDU with these cards holds the image: the primary one when
    it has 2 axes or more, else the first extension (an image, or a
    tile-compressed one). The extractor reads the same HDU."""
    if first:
        return fitsheader.integer(cards, "NAXIS", 0, 0, fitsheader.MAX_AXES) >= 2
    return cards.get("XTENSION") == "IMAGE" or cards.get("ZIMAGE") is True


def _fits(data):
    cards, pos = _fits_header(data, 0)
    if not image_hdu(cards, True) and pos < len(data):
        cards, pos = _fits_header(data, pos + fitsheader.padded(fitsheader.data_size(cards)))
        if not image_hdu(cards, False):
            raise ValueError("FITS file holds no 2-D image")
    if pos + fitsheader.data_size(cards) > len(data):
        raise _truncated("FITS")
    prefix = "ZNAXIS" if cards.get("ZIMAGE") is True else "NAXIS"
    if fitsheader.integer(cards, prefix, 0, 0, fitsheader.MAX_AXES) < 2:
        raise ValueError("FITS file holds no 2-D image")
    return ("fits", fitsheader.integer(cards, prefix + "1"),
            fitsheader.integer(cards, prefix + "2"))


_PARSERS = (
    (b"\xff\xd8\xff", _jpeg),
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    (b"SIMPLE  ", _fits),
)
