"""The annotated pictures' PNG writer (astro_jobs/extract/png.py): whatever
it is given, Pillow and a strict PNG decoder read back the same pixels."""
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from astro_jobs.extract.png import write_png

SHAPES = st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                   st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3)))


@settings(max_examples=200, deadline=None)
@given(arrays(np.uint8, SHAPES))
def test_pillow_reads_back_the_same_pixels(tmp_path_factory, pixels):
    path = tmp_path_factory.mktemp("png") / "picture.png"
    write_png(path, pixels)
    with Image.open(path) as picture:
        picture.load()  # checks every chunk's CRC and the zlib stream
        assert picture.mode == ("L" if pixels.ndim == 2 else "RGB")
        assert np.array_equal(np.asarray(picture), pixels)


def test_chunks_are_whole_and_rows_use_the_up_filter(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    data = write_png(tmp_path / "p.png", pixels).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        crc = int.from_bytes(data[at + 8 + length:at + 12 + length], "big")
        assert crc == zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    rows = np.frombuffer(zlib.decompress(chunks[1][1]), np.uint8).reshape(30, 1 + 20 * 3)
    assert set(rows[:, 0]) == {2}


def test_a_picture_without_pixels_or_with_alpha_is_refused(tmp_path):
    for bad in (np.zeros((0, 5), np.uint8), np.zeros((4, 4, 4), np.uint8)):
        with pytest.raises(ValueError):
            write_png(tmp_path / "bad.png", bad)
