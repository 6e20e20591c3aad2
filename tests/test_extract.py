"""The bundled extractor on real sky images with the real solve-field.

Corpus images live in tests/data/corpus (see its CREDITS). Variants (PNG,
16-bit grey and colour TIFF, FITS, rescaled, rotated/mirrored/cropped,
EXIF-tagged) are made from the corpus in tmp_path; synthetic fields (narrow,
crowded, with a header WCS) are rendered from the index files' own stars
(harness/skyfield.py). A missing solver or corpus fails, never skips.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from harness import skyfield

from support import CORPUS, REPO, separation_deg

EXPECTED_PATH = CORPUS / "expected.json"
# A rich Milky Way field near the galactic centre: enough Tycho-2 stars for
# fields down to about 0.4 degree.
GC = (266.4, -28.9)


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


def test_jpeg_solves_blind_with_full_result(tmp_path):
    code, doc, err = extract(corpus("apod2.jpg"), tmp_path / "out")
    assert code == 0, err
    assert_contract_shape(doc)
    assert_matches(doc, expected("apod2.jpg"))
    cal = doc["calibration"]
    assert set(cal) == {"ra", "dec", "ra_hms", "dec_dms", "radius_deg", "pixscale_arcsec",
                        "orientation_deg", "parity", "field_width_deg", "field_height_deg",
                        "rms_arcsec", "matched_stars"}
    # Matched stars sit within a pixel or so of their catalogue positions.
    assert 0 < cal["rms_arcsec"] < 2 * cal["pixscale_arcsec"]
    assert cal["matched_stars"] == doc["stars"]["matched"] >= 6
    assert doc["reason"] is None and doc["explanation"] is None
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
    assert doc["files"] == {"wcs": "wcs.fits", "annotated": "annotated.png", "corr": "corr.fits",
                            "rdls": "rdls.fits", "axy": "axy.fits",
                            "annotated_grid": "annotated-grid.png"}
    # nova's rdls (reference stars in the field) and axy (the star list solve-field got).
    assert len(fits.getdata(out / "rdls.fits", 1)["RA"]) > 10
    assert len(fits.getdata(out / "axy.fits", 1)["X"]) >= doc["stars"]["matched"]
    with Image.open(out / "annotated.png") as png:
        assert png.format == "PNG" and png.width <= 1200
        plain = png.convert("RGB")
    with Image.open(out / "annotated-grid.png") as png:
        grid = png.convert("RGB")
    # The grid's lines are drawn in their own light blue, over the picture.
    assert grid.size == plain.size
    blue = (140, 191, 255)
    assert sum(n for n, c in grid.getcolors(2**24) if c == blue) > \
        sum(n for n, c in plain.getcolors(2**24) if c == blue) + 500
    assert (out / "wcs.fits").read_bytes().startswith(b"SIMPLE")
    corr = fits.getdata(out / "corr.fits", 1)
    assert len(corr) == cal["matched_stars"]
    # Each matched star: its pixel, where the fit puts it and the catalogue star.
    for row in corr[:5]:
        assert 0 < row["field_x"] <= 800 and 0 < row["field_y"] <= 600
        assert separation_deg(row["field_ra"], row["field_dec"], row["index_ra"],
                              row["index_dec"]) * 3600 < 3 * cal["pixscale_arcsec"]
    assert not [p for p in os.listdir(out) if p.startswith(".")], "work files left behind"


def test_png_conversion_solves(tmp_path):
    png = tmp_path / "apod1.png"
    Image.open(corpus("apod1.jpg")).save(png)
    code, doc, err = extract(png, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "PNG"
    assert_matches(doc, expected("apod1.jpg"))


def test_16bit_grey_tiff_solves(tmp_path):
    grey = np.asarray(Image.open(corpus("apod3.jpg")).convert("L"), dtype=np.uint16) * 257
    tiff = tmp_path / "apod3.tif"
    Image.fromarray(grey).save(tiff)  # mode I;16
    code, doc, err = extract(tiff, tmp_path / "out")
    assert code == 0, err
    assert doc["image"]["format"] == "TIFF" and doc["image"]["bits_per_sample"] == 16
    assert_matches(doc, expected("apod3.jpg"))


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
    # With and without the pointing race each other; either is the header's.
    assert doc["hints"]["solved_with"] in ("fits-header", "fits-header-anywhere")
    assert doc["exif"]["exposure_s"] == 120.0 and doc["exif"]["focal_length_mm"] == 200.0
    assert_matches(doc, ref)


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


@pytest.mark.parametrize("tags, field, value", [
    (["-FocalLength=458"], "focal_length_mm", 458),
    (["-XMP-exif:FocalLength=300"], "focal_length_mm", 300),
    (["-GPSLatitude=45.5", "-GPSLatitudeRef=S", "-GPSLongitude=7", "-GPSLongitudeRef=E"],
     "gps", {"lat": -45.5, "lon": 7.0}),
    (["-Make=Canon"], "camera", "Canon"),
    (["-Software=Photoshop", "-XMP-dc:Description=processed"], None, None),
])
def test_exiftool_runs_only_for_the_tags_the_result_uses(tmp_path, tags, field, value):
    """exiftool's start costs more than finding the stars: a file whose EXIF
    and XMP carry nothing the result reads (apod1: Photoshop's) skips it."""
    from astro_jobs.extract import metadata
    from astro_jobs.extract.image import read_image

    tagged = tmp_path / "tagged.jpg"
    shutil.copyfile(corpus("apod2.jpg"), tagged)
    subprocess.run(["exiftool", "-q", "-overwrite_original", *tags, str(tagged)], check=True)
    for path, wanted in ((tagged, field is not None), (corpus("apod1.jpg"), False)):
        pending = metadata.Pending(read_image(str(path)))
        assert (pending.proc is not None) == wanted, path
        exif = pending.result().exif
        if wanted:
            assert exif[field] == value
        else:
            assert set(exif.values()) == {None}


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_xmp_of_png_and_tiff_starts_exiftool(tmp_path, suffix):
    """PNG keeps XMP in an iTXt chunk and TIFF in tag 700, where Pillow puts
    them in other places than a JPEG's (and older Pillow elsewhere again)."""
    from astro_jobs.extract import metadata
    from astro_jobs.extract.image import read_image

    tagged = tmp_path / ("tagged" + suffix)
    Image.open(corpus("apod2.jpg")).save(tagged)
    assert metadata.Pending(read_image(str(tagged))).proc is None
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-exif:FocalLength=300",
                    str(tagged)], check=True)
    pending = metadata.Pending(read_image(str(tagged)))
    assert pending.proc is not None
    assert pending.result().exif["focal_length_mm"] == 300


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


def test_too_narrow_field_gives_up_within_20_s_and_says_why(tmp_path):
    """sdss.jpg is 13 arcminutes wide; told so, the result explains it."""
    started = time.monotonic()
    code, doc, err = extract(corpus("sdss.jpg"), tmp_path / "out", "--scale-low", "11",
                             "--scale-high", "14", "--scale-units", "arcminwidth")
    assert code == 0, err
    assert time.monotonic() - started < 20
    assert doc["solved"] is False and doc["calibration"] is None
    assert doc["reason"] == "no_match_in_scale_range"
    assert "narrower than the" in doc["explanation"]
    assert doc["stars"]["detected"] > 20
    # Every star list the search tried is counted, the result's own first.
    assert re.search(r"\b%d (stars found|binned)" % doc["stars"]["used"], doc["explanation"])
    assert doc["files"] == {}
    assert doc["image"]["width"] == 496


def test_timeout_bounds_the_search(tmp_path):
    started = time.monotonic()
    code, doc, err = extract(corpus("sdss.jpg"), tmp_path / "out", "--timeout", "6")
    assert code == 0, err
    assert time.monotonic() - started < 6
    assert doc["solved"] is False and doc["reason"] == "timeout"


def test_image_without_stars_is_done_unsolved(tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("L", (640, 480), 90).save(flat)
    code, doc, err = extract(flat, tmp_path / "out")
    assert code == 0, err
    assert doc["solved"] is False and doc["reason"] == "too_few_stars"
    assert doc["stars"]["detected"] == 0
    assert doc["timing"]["total_s"] < 10


def test_noise_and_a_non_sky_picture_never_solve(tmp_path):
    rng = np.random.default_rng(7)
    noise = tmp_path / "noise.png"
    Image.fromarray(rng.normal(100, 20, (480, 640)).clip(0, 255).astype(np.uint8)).save(noise)
    # Not the sky: a tiled wall with speckles, plenty of star-like corners.
    yy, xx = np.mgrid[0:600, 0:800]
    wall = 120 + 60 * ((xx // 37 + yy // 23) % 2) + rng.normal(0, 8, xx.shape)
    wall[rng.integers(0, 600, 300), rng.integers(0, 800, 300)] = 255
    photo = tmp_path / "wall.jpg"
    Image.fromarray(wall.clip(0, 255).astype(np.uint8)).save(photo, quality=90)
    for picture in (noise, photo):
        started = time.monotonic()
        code, doc, err = extract(picture, tmp_path / picture.stem)
        assert code == 0, err
        assert doc["solved"] is False and doc["calibration"] is None, picture
        assert doc["reason"] in ("too_few_stars", "no_match_in_scale_range")
        assert time.monotonic() - started < 20


def test_corrupt_file_exits_nonzero_with_one_line(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
    code, doc, err = extract(broken, tmp_path / "out")
    assert code == 2
    assert doc is None
    lines = err.strip().splitlines()
    assert "cannot read image" in lines[-1] and "Traceback" not in err


def fits_field(path, field, cards):
    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    fits.PrimaryHDU(field.pixels, header=header).writeto(path)
    return path


def assert_truth(doc, truth):
    assert doc["solved"] is True, (doc["reason"], doc["explanation"])
    cal = doc["calibration"]
    assert separation_deg(cal["ra"], cal["dec"], truth["ra"], truth["dec"]) < 0.01 * truth["width"]
    assert cal["field_width_deg"] == pytest.approx(truth["width"], rel=0.01)


def test_fits_with_header_wcs_is_solved_from_it_and_gets_new_fits(tmp_path):
    field = skyfield.render(*GC, width_deg=0.6, size=(400, 300), angle_deg=40)
    path = fits_field(tmp_path / "gc.fits", field, skyfield.wcs_cards(field.truth))
    code, doc, err = extract(path, tmp_path / "out")
    assert code == 0, err
    assert_truth(doc, field.truth)
    assert doc["hints"]["solved_with"] == "fits-wcs"
    assert separation_deg(doc["hints"]["wcs"]["ra"], doc["hints"]["wcs"]["dec"], *GC) < 0.01
    assert doc["files"]["new_fits"] == "new-image.fits"
    with fits.open(tmp_path / "out" / "new-image.fits") as hdus:
        wcs = WCS(hdus[0].header)
        assert wcs.has_celestial and hdus[0].data.shape == (300, 400)
        assert np.array_equal(hdus[0].data, field.pixels)
    # The written WCS maps a corr star's pixel to its catalogue position.
    corr = fits.getdata(tmp_path / "out" / "corr.fits", 1)[0]
    ra, dec = wcs.all_pix2world([[corr["field_x"], corr["field_y"]]], 1)[0]
    assert separation_deg(ra, dec, corr["index_ra"], corr["index_dec"]) * 3600 < 20


@pytest.mark.parametrize("wrong", ["pointing-2-deg-off", "parent-frame-wcs"])
def test_wrong_header_hint_does_not_stop_the_blind_search(tmp_path, wrong):
    field = skyfield.render(*GC, width_deg=0.6, size=(400, 300), angle_deg=-25, mirror=True)
    cards = skyfield.wcs_cards(field.truth)
    if wrong == "pointing-2-deg-off":
        cards.update(CRVAL2=cards["CRVAL2"] + 2.0, OBJCTRA="17 45 36", OBJCTDEC="-26 54 00")
    else:
        # A thumbnail that kept the WCS of its 4x larger parent frame.
        cards.update({k: v / 4 for k, v in cards.items() if k.startswith("CD")})
    path = fits_field(tmp_path / "wrong.fits", field, cards)
    code, doc, err = extract(path, tmp_path / "out")
    assert code == 0, err
    assert_truth(doc, field.truth)
    # Never the wrong tight hint; the header's scale alone may still help.
    assert doc["hints"]["solved_with"] == {"pointing-2-deg-off": "fits-header-anywhere",
                                           "parent-frame-wcs": "blind"}[wrong]


def test_narrow_thumbnail_solves_blind(tmp_path):
    field = skyfield.render(*GC, width_deg=0.45, size=(256, 256), angle_deg=70)
    path = skyfield.save_png(field, tmp_path / "thumb.png")
    code, doc, err = extract(path, tmp_path / "out")
    assert code == 0, err
    assert_truth(doc, field.truth)
    assert doc["solver"]["index"] == "index-tycho2-07.littleendian.fits"


def test_crowded_field_solves_blind(tmp_path):
    """A 1-degree Milky Way frame where most bright stars are not in Tycho-2
    and the catalogue stars' brightness is jittered, as in near-infrared."""
    field = skyfield.render(*GC, width_deg=1.0, size=(1000, 1000), angle_deg=30, crowd=1200,
                            jitter_mag=0.8, seed=2)
    path = skyfield.save_png(field, tmp_path / "crowded.png")
    code, doc, err = extract(path, tmp_path / "out")
    assert code == 0, err
    assert_truth(doc, field.truth)
    assert doc["stars"]["detected"] > 100


def test_csv_source_list_solves_without_pixels(tmp_path):
    from astro_jobs.extract import image, plan, stars

    found = stars.detect_stars(image.read_image(corpus("apod2.jpg")), 2)
    listing = tmp_path / "apod2.csv"
    # CSV positions are 0-based pixel centres; the detector's are FITS (1-based).
    listing.write_text("x,y,flux\n" + "".join("%.3f,%.3f,%.2f\n" % (x - 1, y - 1, f)
                                              for x, y, f, _ in found))
    code, doc, err = extract(listing, tmp_path / "out", "--width", "800", "--height", "600")
    assert code == 0, err
    assert_matches(doc, expected("apod2.jpg"))
    assert doc["image"] == {**doc["image"], "format": "csv", "width": 800, "height": 600}
    assert set(doc["files"]) == {"wcs", "corr", "rdls", "axy"}
    assert any(a["names"][0] == "NGC 2024" for a in doc["annotations"])

    code, doc, err = extract(listing, tmp_path / "out2")
    assert code == 2 and doc is None and "--width and --height" in err

    # astrometry.net's own xylist: FITS table, 1-based pixels, FLUX column.
    xyls = tmp_path / "apod2.xyls"
    fits.BinTableHDU.from_columns([fits.Column(name=n, format="D", array=found[:, i])
                                   for i, n in enumerate(("X", "Y", "FLUX"))]).writeto(xyls)
    code, doc, err = extract(xyls, tmp_path / "out3", "--width", "800", "--height", "600")
    assert code == 0, err
    assert_matches(doc, expected("apod2.jpg"))
    assert doc["image"]["format"] == "xyls"
    # `used` counts the stars the solving attempt was given: the brightest
    # ones for a quick attempt, those nova's axy download holds.
    assert doc["stars"]["used"] in (plan.QUICK_STARS, min(len(found), stars.MAX_STARS))
    given = fits.getdata(tmp_path / "out3" / doc["files"]["axy"], 1)
    assert doc["stars"]["used"] == len(given)
