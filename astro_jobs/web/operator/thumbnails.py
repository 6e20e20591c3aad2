"""Small JPEG copies of annotated pictures, for the operator page's cards.

The annotated PNG of a wide field weighs hundreds of kilobytes; a page of
recent jobs that reloads itself must not fetch two dozen of them. Thumbnails
are made on first request and kept in memory, keyed by the file's size and
modification time (a re-run job gets a new one).
"""
import functools
import io

from ... import api

WIDTH = 360
CACHED = 512


def thumbnail(job_id, name):
    """JPEG bytes of a ``WIDTH``-wide copy of output file ``name``, or None."""
    path = api.output_path(job_id, name)
    if path is None:
        return None
    info = path.stat()
    return _make(job_id, name, info.st_mtime_ns, info.st_size)


# Inputs Pillow decodes; FITS and star lists get no picture.
PICTURES = ("jpeg", "png", "tiff", "gif")
# A JPEG decodes at 1/8 of its size; any other picture whole, in the server's
# own memory: past this many pixels (a few hundred MB decoded) a card gets none.
MAX_DECODED_PIXELS = 50_000_000


@functools.lru_cache(maxsize=CACHED)
def _make(job_id, name, _mtime_ns, size):
    data = api.output_head(job_id, name, size)
    return None if data is None else _jpeg(io.BytesIO(data))


def _jpeg(source):
    from PIL import Image  # the server extra's; only the page's cards need it

    with Image.open(source) as image:
        image.draft("RGB", (WIDTH, WIDTH * 4))  # a JPEG decodes at a fraction of its size
        image.thumbnail((WIDTH, WIDTH * 4))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def input_thumbnail(status):
    """JPEG bytes of a small copy of the job's input picture, or None (FITS, star
    lists, or a picture Pillow cannot read)."""
    info = status.get("input") or {}
    fmt = str(info.get("format", "")).lower()
    if fmt not in PICTURES or (fmt != "jpeg" and _pixels(info) > MAX_DECODED_PIXELS):
        return None
    path = api.input_path(status)
    if path is None:
        return None
    try:
        stat = path.stat()
        return _input(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError):
        return None


def _pixels(info):
    """Width x height as submit recorded them (its header check is Pillow's reading)."""
    try:
        return int(info.get("width") or 0) * int(info.get("height") or 0)
    except (TypeError, ValueError):
        return MAX_DECODED_PIXELS + 1


@functools.lru_cache(maxsize=CACHED)
def _input(path, _mtime_ns, _size):
    try:
        return _jpeg(path)
    except Exception:  # noqa: BLE001 - any picture Pillow cannot read gets none
        return None
