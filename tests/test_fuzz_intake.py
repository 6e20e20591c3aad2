"""Property-based fuzzing of submit's input checks (hypothesis): thousands of
real files from tests/data, and copies of them in each format we accept,
with their headers mutated. Every one is answered by an acceptance or our
own refusal (never another exception), and an accepted image has the size
its decoder will find; a sample goes through the real CLI, which answers
JSON and leaves nothing in JOBS_DIR."""
import io
import struct
from datetime import timedelta

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from astro_jobs.errors import AstroJobsError
from astro_jobs.intake import images, starlists

from support import SAMPLE_IMAGE

SAMPLE = SAMPLE_IMAGE.parent
MAX_PIXELS = 250e6
# Values a lying header likes: zero, one, the edges of each integer width.
EXTREMES = [0, 1, 2, 0x7F, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF,
            2**32, 2**62, 2**63, 2**64 - 1]
FITS_VALUES = ["0", "-1", "1", "999", "1000", "1E400", "-1E400", "NAN", "10000000000000000000",
               "1" * 60, "'X'", "T", "2.5", "65536", "3"]


def _small_sample():
    """The sample, a quarter of its size: each case writes its file whole."""
    with Image.open(SAMPLE_IMAGE) as image:
        return image.reduce(4)


def _converted(fmt, **options):
    buffer = io.BytesIO()
    _small_sample().save(buffer, fmt, **options)
    return buffer.getvalue()


def _fits():
    pixels = np.asarray(_small_sample().convert("L"), dtype=np.int16)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(pixels)]).writeto(buffer)
    return buffer.getvalue()


# Real files: the sample and its conversions (each format's real header).
BASES = {
    "sample.jpg": SAMPLE_IMAGE.read_bytes(),
    "sample.png": _converted("PNG"),
    "sample.tif": _converted("TIFF"),
    "sample-deflate.tif": _converted("TIFF", compression="tiff_deflate"),
    "sample.fits": _fits(),
    "stars.xyls": (SAMPLE / "apod4-stars.xyls").read_bytes(),
    "stars.csv": (SAMPLE / "apod4-stars.csv").read_bytes(),
}


@st.composite
def mutated(draw):
    """(name, bytes): a base file with a few header bytes overwritten,
    an integer field set to an extreme, a FITS card's value replaced, or cut."""
    name = draw(st.sampled_from(sorted(BASES)))
    data = bytearray(BASES[name])
    for _ in range(draw(st.integers(1, 4))):
        head = min(len(data), 8192 if name.endswith((".fits", ".xyls")) else 512)
        if head == 0:
            break
        how = draw(st.sampled_from(["bytes", "integer", "card", "cut"]))
        at = draw(st.integers(0, head - 1))
        if how == "bytes":
            data[at:at + 4] = draw(st.binary(min_size=1, max_size=4))
        elif how == "integer":
            width, order = draw(st.sampled_from([(2, ">H"), (2, "<H"), (4, ">I"), (4, "<I"),
                                                 (8, "<Q")]))
            value = draw(st.sampled_from(EXTREMES)) % (1 << (8 * width))
            data[at:at + width] = struct.pack(order, value)
        elif how == "card" and name.endswith((".fits", ".xyls")):
            card = at // 80 * 80
            data[card + 10:card + 30] = draw(st.sampled_from(FITS_VALUES)).rjust(20).encode()
        else:
            del data[draw(st.integers(0, len(data) - 1)):]
    return name, bytes(data)


def check(path, name):
    """What submit checks, in its own words: the description, or our refusal."""
    if name.startswith("stars"):
        return starlists.inspect(path)
    return images.inspect(path, MAX_PIXELS)


def pillow_size(path):
    """The size Pillow will decode, or None when Pillow refuses the file itself."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - any refusal by Pillow is the extractor's exit 2
        return None


def _scan_repeated(jpeg, times):
    """``jpeg`` with its last scan repeated: the many-scans bomb's shape."""
    scan = jpeg[jpeg.rfind(b"\xff\xda"):jpeg.rfind(b"\xff\xd9")]
    return jpeg[:jpeg.rfind(b"\xff\xd9")] + scan * times + b"\xff\xd9"


def test_repeated_scans_are_counted_only_where_libjpeg_would_decode_them(tmp_path):
    """submit reads a whole JPEG for its scans only when libjpeg would decode
    them all: a sequential frame whose first scan holds every component gets
    one scan decoded, and Pillow refuses the rest, so such a file is accepted
    unread; a progressive one with too many scans is refused."""
    sequential = tmp_path / "sequential.jpg"
    sequential.write_bytes(_scan_repeated(BASES["sample.jpg"], 300))
    with Image.open(SAMPLE_IMAGE) as image:
        size = image.size
    assert images.inspect(sequential, MAX_PIXELS)["width"] == size[0]
    with Image.open(sequential) as image, pytest.raises(OSError, match="broken data stream"):
        image.load()
    progressive = tmp_path / "progressive.jpg"
    progressive.write_bytes(_scan_repeated(_converted("JPEG", progressive=True), 300))
    with pytest.raises(AstroJobsError, match="over 256 JPEG scans"):
        images.inspect(progressive, MAX_PIXELS)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on broken TIFF tags
@settings(max_examples=3000, database=None, suppress_health_check=list(HealthCheck),
          # Not a speed target (bench/hostile.py has those): a case that takes
          # seconds is a loop driven by a header, the very bug looked for.
          deadline=timedelta(seconds=2))
@given(case=mutated())
def test_mutated_headers_are_accepted_or_refused_with_our_error(tmp_path_factory, case):
    name, data = case
    folder = tmp_path_factory.getbasetemp() / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    try:
        info = check(path, name)
    except AstroJobsError as exc:
        assert exc.code and exc.message
        return
    if name.startswith("stars"):
        assert info["sources"] > 0
        return
    assert 0 < info["width"] * info["height"] <= MAX_PIXELS
    if info["format"] != "fits":
        decoded = pillow_size(path)
        assert decoded in (None, (info["width"], info["height"])), (info, decoded)


@pytest.mark.parametrize("seed", range(16))
def test_mutated_files_through_the_real_cli(env, tmp_path, seed):
    name, data = _seeded_case(seed)
    path = tmp_path / name
    path.write_bytes(data)
    args = ["--sources", path, "--width", "800", "--height", "600"] \
        if name.startswith("stars") else ["--image", path]
    code, out, _ = env.run("submit", *args, timeout=30)
    assert code in (0, 2), out
    if code == 2:
        assert out["code"] and out["error"]
    names = [p.name for p in env.jobs_dir.iterdir()] if env.jobs_dir.exists() else []
    assert not [n for n in names if n.startswith(".incoming")], names
    assert len([n for n in names if not n.startswith("queue.sqlite3")]) == (code == 0)


def _seeded_case(seed):
    """One mutated file picked by ``seed`` (hypothesis draws in the test above;
    here a fixed handful, each a real CLI process)."""
    rng = np.random.default_rng(seed)
    name = sorted(BASES)[seed % len(BASES)]
    data = bytearray(BASES[name])
    for _ in range(1 + seed % 3):
        at = int(rng.integers(0, min(len(data), 512)))
        data[at:at + 4] = struct.pack("<I", EXTREMES[int(rng.integers(0, 11))])
    return name, bytes(data)
