"""What a solution means: calibration numbers, objects in the field, a picture.

All three come from astrometry.net's own tools (wcsinfo, plot-constellations)
run on the solved WCS, so names and positions match nova.astrometry.net.
"""
import json
import math
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from . import fitsfile
from .png import write_png
from .progress import log
from .solver import AXY, RDLS
from .wcs import TanWcs

MAX_PREVIEW_WIDTH = 1200
# RA/Dec grid spacings (arcmin) to choose from: about four lines across the field.
GRID_STEPS_ARCMIN = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)
GRID_LINES = 4
GRID_COLOUR = "0.55:0.75:1"


def calibration(wcs_path):
    """The contract's ``calibration`` object, from ``wcsinfo``."""
    out = subprocess.run(["wcsinfo", wcs_path], capture_output=True, text=True, check=True).stdout
    info = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            info[parts[0]] = parts[1].strip()
    num = lambda key: float(info[key])  # noqa: E731
    units = {"degrees": 1.0, "arcminutes": 1 / 60.0, "arcseconds": 1 / 3600.0}
    scale = units[info.get("fieldunits", "degrees")]
    width_deg, height_deg = num("fieldw") * scale, num("fieldh") * scale
    return {
        "ra": round(num("ra_center"), 6),
        "dec": round(num("dec_center"), 6),
        "ra_hms": info["ra_center_hms"],
        "dec_dms": info["dec_center_dms"],
        # Centre-to-corner distance, as nova.astrometry.net reports it.
        "radius_deg": round(math.hypot(width_deg, height_deg) / 2.0, 4),
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
                            "radius_px": round(float(item["radius"]), 2) if item.get("radius")
                            else None})
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
    placed = [a for a in annotations if a["x"] is not None]
    if not placed:
        return
    wcs = TanWcs(fitsfile.header_cards(wcs_path))
    ra, dec = wcs.pixel_to_sky([a["x"] + 1.0 for a in placed], [a["y"] + 1.0 for a in placed])
    for item, r, d in zip(placed, ra, dec):
        item["ra"], item["dec"] = round(float(r) % 360.0, 5), round(float(d), 5)


def draw(pool, image, wcs_path, out_dir, workdir):
    """Start drawing annotated.png (constellations, stars and NGC/IC on the
    image, at most MAX_PREVIEW_WIDTH wide) and annotated-grid.png (the same
    with an RA/Dec grid) side by side from one preview: {files key: future
    of the file name, or of None when drawing failed}."""
    from PIL import Image

    preview = Image.fromarray(image.preview(MAX_PREVIEW_WIDTH))
    scale = preview.width / float(image.width)
    ppm_in = os.path.join(workdir, "preview.ppm")
    preview.save(ppm_in)
    font = str(max(10, min(18, round(preview.width / 60.0))))
    overlay = ["-N", "-B", "-C", "-s", "%.6f" % scale, "-f", font]
    grid = ["-G", str(grid_spacing_arcmin(wcs_path, image.width)), "-g", GRID_COLOUR]
    drawings = {}
    for key, name, extra in (("annotated", "annotated", []),
                             ("annotated_grid", "annotated-grid", grid)):
        ppm_out = os.path.join(workdir, name + ".ppm")
        argv = ["plot-constellations", "-w", wcs_path, "-i", ppm_in, "-o", ppm_out, "-p",
                *overlay, *extra]
        drawings[key] = pool.submit(_plot, argv, ppm_out, os.path.join(out_dir, name + ".png"),
                                    name.replace("-", " ") + " image")
    return drawings


def _plot(argv, ppm_out, out_path, what):
    """Run plot-constellations to ppm_out and save that as the PNG out_path;
    its file name, or None (logged) when it failed."""
    import numpy as np
    from PIL import Image

    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(ppm_out):
        log("%s failed: %s" % (what, proc.stderr.strip()[-200:]))
        return None
    # PPM out and our own PNG writer (png.py): plot-constellations' PNG
    # writer took 1.3 s of a 3 s job on a 1200 px picture.
    with Image.open(ppm_out) as drawn:
        write_png(out_path, np.asarray(drawn.convert("RGB")))
    return os.path.basename(out_path)


def _keep_tables(outcome, out_dir):
    """The solver's tables nova serves: matched stars (corr), the reference stars in
    the field (rdls) and the star list it was given (axy)."""
    kept = {}
    folder = outcome.folder or ""
    for kind, source in (("corr", outcome.corr_path), ("rdls", os.path.join(folder, RDLS)),
                         ("axy", os.path.join(folder, AXY))):
        if source and os.path.exists(source):
            shutil.copyfile(source, os.path.join(out_dir, kind + ".fits"))
            kept[kind] = kind + ".fits"
    return kept


def grid_spacing_arcmin(wcs_path, width):
    """A round RA/Dec grid spacing that draws about GRID_LINES lines across."""
    field = TanWcs(fitsfile.header_cards(wcs_path)).pixscale_arcsec * width / 60.0
    wanted = field / GRID_LINES
    return min(GRID_STEPS_ARCMIN, key=lambda step: abs(math.log(step / wanted)))


def describe(outcome, image, out_dir, workdir, pixels=True):
    """Keep the WCS and say what it means: (solution, files).

    wcsinfo, the object list and the two drawings are four programs; they
    run side by side.
    """
    wcs_path = os.path.join(out_dir, "wcs.fits")
    shutil.copyfile(outcome.wcs_path, wcs_path)
    files = {"wcs": "wcs.fits"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        listing = pool.submit(objects, wcs_path)
        drawings = draw(pool, image, wcs_path, out_dir, workdir) if pixels else {}
        cal = calibration(wcs_path)
        names, annotations = listing.result()
        drawn = {key: drawing.result() for key, drawing in drawings.items()}
    if drawn.get("annotated"):  # the grid picture is the annotated one with a grid
        files.update((key, name) for key, name in drawn.items() if name)
    cal.update(rms_arcsec=outcome.rms_arcsec, matched_stars=outcome.matched)
    files.update(_keep_tables(outcome, out_dir))
    return {"calibration": cal, "objects_in_field": names, "annotations": annotations}, files
