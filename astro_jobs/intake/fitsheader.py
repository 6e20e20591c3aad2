"""FITS headers with the standard library only, every claimed size bounded.

Submit checks uploads, the web face reads WCS files, the extractor reads
index files, xylists and solutions: each needs a few keywords, none of them
the start-up cost of astropy. Every count a header claims (NAXIS, NAXISn,
BITPIX, PCOUNT, GCOUNT, cards, HDUs) is checked here before it drives a
loop, an allocation or a seek, so a hostile header costs microseconds.
"""
from ..errors import BadInput

BLOCK = 2880
CARD = 80
# Far beyond any real header (36,000 cards) or file (1,000 HDUs), and short
# enough to scan in milliseconds.
MAX_HEADER_BLOCKS = 1000
MAX_HDUS = 1000
MAX_AXES = 999  # the FITS standard's own bound on NAXIS
BITPIX = (8, 16, 32, 64, -32, -64)
# No file we accept holds this many bytes; any larger claim is a lie.
MAX_BYTES = 1 << 48


class BadHeader(BadInput, ValueError):
    """A header whose keywords cannot describe a real file (also a ValueError,
    which the extractor's readers already treat as an unreadable file)."""

    code = "corrupt_header"


class Truncated(BadHeader):
    """The header, or the data it announces, runs past the end of the file."""

    code = "truncated"


def value(text):
    """A card's value (after ``= ``): str, bool, int or float; comments dropped."""
    text = text.strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        while end > 0 and text[end + 1:end + 2] == "'":
            end = text.find("'", end + 2)
        return text[1:end].replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text in ("T", "F"):
        return text == "T"
    for kind in (int, lambda t: float(t.replace("D", "E"))):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def integer(cards, key, default=None, low=0, high=MAX_BYTES):
    """``cards[key]`` if it is an integer from ``low`` to ``high``, else BadHeader."""
    number = cards.get(key, default)
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
        shown = "missing" if number is None else repr(number)[:24]
        raise BadHeader(f"FITS keyword {key} is {shown}, not an integer from {low} to {high}")
    return number


def _cards_of_block(block, cards):
    """Add a block's ``KEY = value`` cards to ``cards``; True once END is seen."""
    for start in range(0, BLOCK, CARD):
        card = block[start:start + CARD].decode("ascii", "replace")
        key = card[:8].strip()
        if key == "END":
            return True
        if card[8:10] == "= " and key not in cards:
            # The first of a repeated keyword counts, as in astropy, so a
            # second NAXIS1 cannot tell us a size the decoder will not use.
            cards[key] = value(card[10:])
    return False


def parse(data, start=0, max_blocks=MAX_HEADER_BLOCKS):
    """(cards, offset where the header's data begins) of the header at ``start``
    in ``data``; the offset is None when the header is cut short (or has no
    END within ``max_blocks`` blocks)."""
    cards, pos = {}, start
    for _ in range(max_blocks):
        if pos + BLOCK > len(data):
            break
        pos += BLOCK
        if _cards_of_block(data[pos - BLOCK:pos], cards):
            return cards, pos
    return cards, None


def read(handle, max_blocks=MAX_HEADER_BLOCKS):
    """The cards of the header at ``handle``'s position, leaving it at the data;
    None when the file ends first (or after ``max_blocks`` blocks)."""
    cards = {}
    for _ in range(max_blocks):
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            return None
        if _cards_of_block(block, cards):
            return cards
    return None


def data_size(cards):
    """Bytes of data after this header, before padding to a whole block;
    BadHeader if a keyword is out of bounds."""
    naxis = integer(cards, "NAXIS", 0, 0, MAX_AXES)
    if naxis == 0:
        return 0
    bitpix = integer(cards, "BITPIX", 8, -64, 64)
    if bitpix not in BITPIX:
        raise BadHeader(f"FITS keyword BITPIX is {bitpix}, not one of {BITPIX}")
    count = 1
    for axis in range(1, naxis + 1):
        count *= integer(cards, f"NAXIS{axis}", 0)
        if count > MAX_BYTES:
            raise BadHeader("the FITS header claims more data than any file holds")
    size = abs(bitpix) // 8 * integer(cards, "GCOUNT", 1) * (count + integer(cards, "PCOUNT", 0))
    if size > MAX_BYTES:
        raise BadHeader("the FITS header claims more data than any file holds")
    return size


def padded(size):
    """``size`` rounded up to whole FITS blocks."""
    return size + (-size % BLOCK)


def walk(handle, file_size, max_hdus=MAX_HDUS):
    """Yield (cards, offset of its data, size of its data) for each HDU of an
    open file of ``file_size`` bytes, from the handle's position; Truncated
    when a header or the data it announces runs past the end."""
    for _ in range(max_hdus):
        if handle.tell() >= file_size:
            return
        cards = read(handle)
        if cards is None:
            raise Truncated("a FITS header is cut short (or has no END)")
        offset, size = handle.tell(), data_size(cards)
        if offset + size > file_size:
            raise Truncated("the FITS data is cut short: the file ends before it")
        yield cards, offset, size
        handle.seek(offset + padded(size))
    raise BadHeader(f"the FITS file has over {max_hdus} HDUs")


def read_file(path, max_blocks=MAX_HEADER_BLOCKS):
    """The primary header's cards of the FITS file at ``path`` ({} if unreadable)."""
    try:
        with open(path, "rb") as handle:
            return read(handle, max_blocks) or {}
    except OSError:
        return {}
