"""What a solution means: calibration numbers, objects in the field, a picture.

All three come from astrometry.net's own tools (wcsinfo, plot-constellations)
run on the solved WCS, so names and positions match nova.astrometry.net.
"""
import json
import os
import re
import subprocess
import warnings

import numpy as np

from .progress import log

MAX_PREVIEW_WIDTH = 1200


def calibration(wcs_path):
    """The contract's ``calibration`` object, from ``wcsinfo``."""
    out = subprocess.run(["wcsinfo", wcs_path], capture_output=True, text=True, check=True).stdout
    info = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            info[parts[0]] = parts[1].strip()
    num = lambda key: float(info[key])  # noqa: E731
    scale = {"degrees": 1.0, "arcminutes": 1 / 60.0, "arcseconds": 1 / 3600.0}[info.get("fieldunits", "degrees")]
    width_deg, height_deg = num("fieldw") * scale, num("fieldh") * scale
    return {
        "ra": round(num("ra_center"), 6),
        "dec": round(num("dec_center"), 6),
        "ra_hms": info["ra_center_hms"],
        "dec_dms": info["dec_center_dms"],
        # Centre-to-corner distance, as nova.astrometry.net reports it.
        "radius_deg": round(float(np.hypot(width_deg, height_deg)) / 2.0, 4),
        "pixscale_arcsec": round(num("pixscale"), 4),
        # With the reference pixel at the centre (--crpix-center) this is
        # the angle of image "up" east of north at the centre.
        "orientation_deg": round(num("orientation_center"), 3),
        # solve-field's own words: a positive CD determinant is "neg" parity
        # (the image is mirrored relative to the sky as seen from inside).
        "parity": "negative" if num("det") > 0 else "positive",
        "field_width_deg": round(width_deg, 4),
        "field_height_deg": round(height_deg, 4),
    }


def objects(wcs_path):
    """Constellations, named stars and NGC/IC objects: (names, annotations).

    plot-constellations puts stars and NGC/IC objects with pixel positions
    in its JSON (on stderr) and lists constellations only in its text, so
    constellations carry names without a position.
    """
    proc = subprocess.run(["plot-constellations", "-w", wcs_path, "-L", "-N", "-B", "-C", "-J"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log("plot-constellations failed: %s" % proc.stderr.strip()[-200:])
        return [], []
    annotations = []
    for line in proc.stdout.splitlines():
        match = re.match(r"Part of the constellation (.+?) \((\w+)\)$", line.strip())
        if match:
            annotations.append({"type": "constellation", "names": [match.group(1), match.group(2)],
                                "ra": None, "dec": None, "x": None, "y": None, "radius_px": None})
    for item in _json_block(proc.stderr):
        # FITS pixels are 1-based; the result's x, y are 0-based from the
        # top-left pixel centre, like the image array.
        x, y = float(item["pixelx"]) - 1.0, float(item["pixely"]) - 1.0
        names = item.get("names") or [item.get("name")]
        annotations.append({"type": "star" if item.get("type") == "star" else "ngc",
                            "names": [n for n in names if n], "x": round(x, 2), "y": round(y, 2),
                            "radius_px": round(float(item["radius"]), 2) if item.get("radius") else None})
    _add_sky_positions(wcs_path, annotations)
    names = [a["names"][0] for a in annotations if a["names"]]
    return names, annotations


def _json_block(text):
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return []
    try:
        return json.loads(text[start:end + 1]).get("annotations", [])
    except ValueError:
        return []


def _add_sky_positions(wcs_path, annotations):
    from astropy.io import fits
    from astropy.wcs import WCS

    placed = [a for a in annotations if a["x"] is not None]
    if not placed:
        return
    with fits.open(wcs_path) as hdus, warnings.catch_warnings():
        # A WCS-only header has no data axes; astropy warns about that.
        warnings.simplefilter("ignore")
        wcs = WCS(hdus[0].header)
    xy = np.array([[a["x"], a["y"]] for a in placed])
    sky = wcs.all_pix2world(xy, 0)
    for item, (ra, dec) in zip(placed, sky):
        item["ra"], item["dec"] = round(float(ra) % 360.0, 5), round(float(dec), 5)


def annotated_png(image, wcs_path, out_path, workdir):
    """Draw constellations, stars and NGC/IC on the image, at most MAX_PREVIEW_WIDTH wide."""
    from PIL import Image

    preview = Image.fromarray(image.preview)
    scale = min(1.0, MAX_PREVIEW_WIDTH / float(preview.width))
    if scale < 1.0:
        preview = preview.resize((max(1, round(preview.width * scale)),
                                  max(1, round(preview.height * scale))),
                                 Image.BILINEAR, reducing_gap=2.0)
    ppm_in = os.path.join(workdir, "preview.ppm")
    ppm_out = os.path.join(workdir, "annotated.ppm")
    preview.save(ppm_in)
    font = str(max(10, min(18, round(preview.width / 60.0))))
    # PPM out and Pillow's PNG encoder: plot-constellations' own PNG
    # writer took 1.3 s of a 3 s job on a 1200 px picture.
    argv = ["plot-constellations", "-w", wcs_path, "-i", ppm_in, "-o", ppm_out, "-p",
            "-N", "-B", "-C", "-s", "%.6f" % scale, "-f", font]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(ppm_out):
        log("annotated image failed: %s" % proc.stderr.strip()[-200:])
        return None
    with Image.open(ppm_out) as drawn:
        drawn.save(out_path, compress_level=4)
    return out_path
