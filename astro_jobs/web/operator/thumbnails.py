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


@functools.lru_cache(maxsize=CACHED)
def _make(job_id, name, _mtime_ns, size):
    from PIL import Image  # the server extra's; only the page's cards need it

    data = api.output_head(job_id, name, size)
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((WIDTH, WIDTH * 4))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()
