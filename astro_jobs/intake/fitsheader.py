"""FITS headers with the standard library only.

Submit checks uploads, the web face reads WCS files, the extractor reads
index files, xylists and solutions: each needs a few keywords, none of them
the start-up cost of astropy.
"""
BLOCK = 2880
CARD = 80


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


def _cards_of_block(block, cards):
    """Add a block's ``KEY = value`` cards to ``cards``; True once END is seen."""
    for start in range(0, BLOCK, CARD):
        card = block[start:start + CARD].decode("ascii", "replace")
        key = card[:8].strip()
        if key == "END":
            return True
        if card[8:10] == "= ":
            cards[key] = value(card[10:])
    return False


def parse(data, start=0):
    """(cards, offset where the header's data begins) of the header at ``start``
    in ``data``; the offset is None when the header is cut short."""
    cards, pos = {}, start
    while pos + BLOCK <= len(data):
        pos += BLOCK
        if _cards_of_block(data[pos - BLOCK:pos], cards):
            return cards, pos
    return cards, None


def read(handle, max_blocks=None):
    """The cards of the header at ``handle``'s position, leaving it at the data;
    None when the file ends first (or after ``max_blocks`` blocks)."""
    cards, blocks = {}, 0
    while max_blocks is None or blocks < max_blocks:
        block = handle.read(BLOCK)
        blocks += 1
        if len(block) < BLOCK:
            return None
        if _cards_of_block(block, cards):
            return cards
    return None


def data_size(cards):
    """Bytes of data after this header, before padding to a whole block."""
    naxis = int(cards.get("NAXIS", 0))
    if naxis == 0:
        return 0
    count = 1
    for axis in range(1, naxis + 1):
        count *= int(cards.get(f"NAXIS{axis}", 0))
    return abs(int(cards.get("BITPIX", 8))) // 8 * int(cards.get("GCOUNT", 1)) * (
        count + int(cards.get("PCOUNT", 0)))


def padded(size):
    """``size`` rounded up to whole FITS blocks."""
    return size + (-size % BLOCK)


def read_file(path, max_blocks=None):
    """The primary header's cards of the FITS file at ``path`` ({} if unreadable)."""
    try:
        with open(path, "rb") as handle:
            return read(handle, max_blocks) or {}
    except OSError:
        return {}
