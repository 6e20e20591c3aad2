"""The bundled extractor on real sky images with the real solve-field.

Corpus images live in tests/data/corpus (see its CREDITS). Variants (PNG, 16-bit grey and colour TIFF, FITS, rescaled,
rotated/mirrored/cropped, EXIF-tagged) are made from the corpus in tmp_path.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from support import CORPUS, REPO, separation_deg

EXPECTED_PATH = CORPUS / "expected.json"

needs_corpus = pytest.mark.skipif(
    not os.path.exists(EXPECTED_PATH),
    reason="sky corpus not found at %s (set ASTRO_JOBS_CORPUS)" % CORPUS)
needs_solver = pytest.mark.skipif(
    not shutil.which("solve-field"), reason="astrometry.net solve-field is not installed")


def expected(name):
    with open(EXPECTED_PATH, encoding="utf-8") as fh:
        return json.load(fh)[name]


def corpus(name):
    return str(CORPUS / name)


def extract(image, out_dir, *extra, env_extra=None):
    """Run the extractor as the runner does; return (exit code, result or None, stderr)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / "result.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("ASTRO_JOBS_STAGE_FILE", None)
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-m", "astro_jobs.extract", "--image", str(image), "--output", str(output),
         *map(str, extra)],
        cwd=out_dir, env=env, capture_output=True, text=True, timeout=300)
    doc = json.loads(output.read_text(encoding="utf-8")) if output.exists() else None
    return proc.returncode, doc, proc.stderr


def assert_matches(doc, ref, width=None, height=None):
    """Centre within 2% of the field width, field size within 3%."""
    assert doc["solved"] is True, doc
    cal = doc["calibration"]
    width = width or ref["width"]
    height = height or ref["height"]
    assert separation_deg(cal["ra"], cal["dec"], ref["ra"], ref["dec"]) < 0.02 * width
    assert cal["field_width_deg"] == pytest.approx(width, rel=0.03)
    assert cal["field_height_deg"] == pytest.approx(height, rel=0.03)


def assert_contract_shape(doc):
    for key in ("solved", "image", "exif", "calibration", "objects_in_field", "annotations",
                "stars", "hints", "files", "solver", "timing"):
        assert key in doc
    assert set(doc["image"]) >= {"file", "format", "width", "height", "sha256"}
    assert set(doc["exif"]) >= {"camera", "lens", "focal_length_mm", "exposure_s", "iso",
                                "datetime_original", "gps"}
    assert set(doc["stars"]) >= {"detected", "matched"}
    assert set(doc["hints"]) >= {"scale_low", "scale_high", "scale_units", "source"}
    assert set(doc["solver"]) >= {"engine", "version", "index"}
    assert set(doc["timing"]) >= {"total_s", "solve_s"}


@needs_corpus
@needs_solver
def test_jpeg_solves_blind_with_full_result(tmp_path):
    code, doc, err = extract(corpus("apod2.jpg"), tmp_path / "out")
    assert code == 0, err
    assert_contract_shape(doc)
    assert_matches(doc, expected("apod2.jpg"))
    cal = doc["calibration"]
    assert set(cal) == {"ra", "dec", "ra_hms", "dec_dms", "radius_deg", "pixscale_arcsec",
                        "orientation_deg", "parity", "field_width_deg", "field_height_deg"}
    assert cal["pixscale_arcsec"] == pytest.approx(20.25, rel=0.02)
    assert cal["ra_hms"].startswith("05:38:")
    assert doc["hints"]["source"] == "none"
    assert doc["image"] == {**doc["image"], "file": "apod2.jpg", "format": "JPEG",
                            "width": 800, "height": 600}
    for name in expected("apod2.jpg")["objects"]:
        assert name in doc["objects_in_field"]
    ngc = [a for a in doc["annotations"] if a["names"][0] == "NGC 2024"][0]
    assert 0 <= ngc["x"] < 800 and 0 <= ngc["y"] < 600 and ngc["radius_px"] > 0
    assert separation_deg(ngc["ra"], ngc["dec"], 85.42, -1.90) < 0.2  # NGC 2024 (Flame)
    assert doc["stars"]["detected"] > 50 and doc["stars"]["matched"] > 5
    assert doc["solver"]["index"].startswith("index-tycho2")
    out = tmp_path / "out"
    assert doc["files"] == {"wcs": "wcs.fits", "annotated": "annotated.png"}
    with Image.open(out / "annotated.png") as png:
        assert png.format == "PNG" and png.width <= 1200
    assert (out / "wcs.fits").read_bytes().startswith(b"SIMPLE")
    assert not [p for p in os.listdir(out) if p.startswith(".")], "work files left behind"


@needs_corpus
@needs_solver
def test_png_conversion_solves(tmp_path):
    png = tmp_path / "apod1.png"
    Image.open(corpus("apod1.jpg")).save(png)
    code, doc, err = extract(png, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "PNG"
    assert_matches(doc, expected("apod1.jpg"))


@needs_corpus
@needs_solver
def test_16bit_grey_tiff_solves(tmp_path):
    grey = np.asarray(Image.open(corpus("apod3.jpg")).convert("L"), dtype=np.uint16) * 257
    tiff = tmp_path / "apod3.tif"
    Image.fromarray(grey).save(tiff)  # mode I;16
    code, doc, err = extract(tiff, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "TIFF" and doc["image"]["bits_per_sample"] == 16
    assert_matches(doc, expected("apod3.jpg"))


@needs_corpus
@needs_solver
def test_16bit_colour_tiff_solves(tmp_path):
    """Pillow cannot write 16-bit RGB TIFF; netpbm (a set-up package) can."""
    rgb = np.asarray(Image.open(corpus("apod2.jpg")).convert("RGB"), dtype=np.uint16) * 257
    ppm = tmp_path / "apod2.ppm"
    ppm.write_bytes(b"P6\n%d %d\n65535\n" % (rgb.shape[1], rgb.shape[0])
                    + rgb.astype(">u2").tobytes())
    tiff = tmp_path / "apod2-16bit-rgb.tif"
    with open(tiff, "wb") as out:
        subprocess.run(["pnmtotiff", str(ppm)], stdout=out, check=True,
                       stderr=subprocess.DEVNULL)
    code, doc, err = extract(tiff, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "TIFF"
    assert_matches(doc, expected("apod2.jpg"))


@needs_corpus
@needs_solver
def test_rescaled_variant_solves(tmp_path):
    ref = expected("apod3.jpg")
    im = Image.open(corpus("apod3.jpg"))
    small = im.resize((im.width * 3 // 5, im.height * 3 // 5), Image.LANCZOS)
    variant = tmp_path / "apod3-60pct.jpg"
    small.save(variant, quality=92)
    code, doc, err = extract(variant, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["width"] == small.width
    assert_matches(doc, ref)


@needs_corpus
@needs_solver
def test_rotated_mirrored_cropped_variant_solves(tmp_path):
    ref = expected("apod2.jpg")
    im = Image.open(corpus("apod2.jpg")).transpose(Image.ROTATE_90).transpose(Image.FLIP_LEFT_RIGHT)
    # Centre crop to 80%: the centre stays, the field shrinks.
    w, h = im.size
    im = im.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    variant = tmp_path / "variant.jpg"
    im.save(variant, quality=92)
    code, doc, err = extract(variant, tmp_path / "out")
    assert code == 0, err
    assert_matches(doc, ref, width=ref["height"] * 0.8, height=ref["width"] * 0.8)


@needs_corpus
@needs_solver
def test_fits_header_hints_are_used(tmp_path):
    from astropy.io import fits

    ref = expected("apod2.jpg")
    grey = np.asarray(Image.open(corpus("apod2.jpg")).convert("L"), dtype=np.uint16) * 200
    header = fits.Header()
    header["FOCALLEN"] = 200.0
    header["XPIXSZ"] = 20.25 * 200.0 / 206.265  # microns, for 20.25 arcsec/pixel
    header["OBJCTRA"] = "05 38 18"
    header["OBJCTDEC"] = "-02 45 20"
    header["EXPTIME"] = 120.0
    header["DATE-OBS"] = "2006-02-01T21:00:00"
    path = tmp_path / "apod2.fits"
    fits.PrimaryHDU(grey, header=header).writeto(path)
    code, doc, err = extract(path, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "FITS"
    assert doc["hints"]["source"] == "exif" and doc["hints"]["origin"] == "fits-header"
    assert doc["hints"]["scale_units"] == "arcsecperpix"
    assert doc["hints"]["scale_low"] < 20.25 < doc["hints"]["scale_high"]
    assert doc["hints"]["ra"] == pytest.approx(84.575, abs=0.01)
    assert doc["hints"]["solved_with"] == "fits-header"
    assert doc["exif"]["exposure_s"] == 120.0 and doc["exif"]["focal_length_mm"] == 200.0
    assert_matches(doc, ref)


@needs_corpus
@needs_solver
@pytest.mark.skipif(not shutil.which("exiftool"), reason="exiftool is not installed")
def test_exif_focal_length_gives_hints(tmp_path):
    tagged = tmp_path / "tagged.jpg"
    shutil.copyfile(corpus("apod2.jpg"), tagged)
    # 4.50 degrees across 36 mm: f = 18 / tan(2.25 deg) = 458 mm.
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-FocalLength=458",
                    "-FocalLengthIn35mmFormat=458", "-Make=Canon", "-Model=Canon EOS 6D",
                    "-ExposureTime=30", "-ISO=1600", "-DateTimeOriginal=2006:02:01 21:00:00",
                    str(tagged)], check=True)
    code, doc, err = extract(tagged, tmp_path / "out")
    assert code == 0, err
    assert doc["hints"]["source"] == "exif"
    assert doc["hints"]["solved_with"] == "exif"
    assert doc["exif"]["camera"] == "Canon EOS 6D"
    assert doc["exif"]["focal_length_mm"] == 458 and doc["exif"]["iso"] == 1600
    assert doc["exif"]["datetime_original"] == "2006-02-01T21:00:00"
    assert_matches(doc, expected("apod2.jpg"))


@needs_corpus
@needs_solver
def test_user_hints_and_stage_file(tmp_path):
    stage = tmp_path / "stage.txt"
    code, doc, err = extract(corpus("apod4.jpg"), tmp_path / "out", "--scale-low", "25",
                             "--scale-high", "40", env_extra={"ASTRO_JOBS_STAGE_FILE": str(stage)})
    assert code == 0, err
    assert doc["hints"] == {**doc["hints"], "scale_low": 25.0, "scale_high": 40.0,
                            "scale_units": "degwidth", "source": "user"}
    assert_matches(doc, expected("apod4.jpg"))
    assert "Ursa Major" in doc["objects_in_field"]
    # The runner reads the last stage; the log shows every one in order.
    assert stage.read_text().strip() == "writing"
    seen = [line.split("stage: ")[1] for line in err.splitlines() if "stage: " in line]
    assert seen == ["reading", "detecting_stars", "solving", "annotating", "writing"]


@needs_corpus
@needs_solver
def test_unsolvable_image_ends_unsolved_within_timeout(tmp_path):
    started = time.monotonic()
    code, doc, err = extract(corpus("sdss.jpg"), tmp_path / "out", "--timeout", "25")
    assert code == 0, err
    assert time.monotonic() - started < 25
    assert doc["solved"] is False and doc["calibration"] is None
    assert doc["stars"]["detected"] > 20
    assert doc["files"] == {}
    assert doc["image"]["width"] == 496


@needs_solver
def test_image_without_stars_is_done_unsolved(tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("L", (640, 480), 90).save(flat)
    code, doc, err = extract(flat, tmp_path / "out")
    assert code == 0, err
    assert doc["solved"] is False
    assert doc["stars"]["detected"] == 0
    assert doc["timing"]["total_s"] < 10


def test_corrupt_file_exits_nonzero_with_one_line(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
    code, doc, err = extract(broken, tmp_path / "out")
    assert code == 2
    assert doc is None
    lines = err.strip().splitlines()
    assert "cannot read image" in lines[-1] and "Traceback" not in err
