"""Where recent solutions lie on the sky, and links to sky viewers.

The map is an all-sky Hammer-Aitoff projection drawn as SVG by a template:
RA grows to the left, as on the sky seen from inside, with RA 12 h in the
middle. This module computes positions; the template only draws them.
"""
import math
from urllib.parse import urlencode

WIDTH, HEIGHT = 360.0, 180.0
MIN_RADIUS = 2.0
GRID_RA_HOURS = range(0, 24, 2)
GRID_DEC = (-60, -30, 0, 30, 60)


def project(ra, dec):
    """(x, y) on the SVG map of a sky position in degrees."""
    lon = math.radians(((180.0 - ra) + 180.0) % 360.0 - 180.0)
    lat = math.radians(dec)
    z = math.sqrt(1.0 + math.cos(lat) * math.cos(lon / 2.0))
    x = 2.0 * math.sqrt(2.0) * math.cos(lat) * math.sin(lon / 2.0) / z
    y = math.sqrt(2.0) * math.sin(lat) / z
    return (round(WIDTH / 2 * (1 + x / (2 * math.sqrt(2))), 2),
            round(HEIGHT / 2 * (1 - y / math.sqrt(2)), 2))


def _points(pairs):
    return " ".join(f"{x},{y}" for x, y in (project(ra, dec) for ra, dec in pairs))


def grid():
    """Polylines (SVG ``points``) of the RA and Dec grid and the map's outline."""
    meridians = [_points((hours * 15.0, dec) for dec in range(-90, 91, 5))
                 for hours in GRID_RA_HOURS]
    parallels = [_points((180.0 - lon + 1e-6, dec) for lon in range(-180, 181, 5))
                 for dec in GRID_DEC]
    outline = _points([(180.0 + 1e-6 - 180.0, d) for d in range(-90, 91, 5)]
                      + [(180.0 - 1e-6 + 180.0, d) for d in range(90, -91, -5)])
    return {"meridians": meridians, "parallels": parallels, "outline": outline}


def _radius(radius_deg):
    # 360 map units span 360 degrees of RA at the equator.
    return max(MIN_RADIUS, round(float(radius_deg or 0.0) * WIDTH / 360.0, 2))


def fields(solved):
    """The sky map's marks for ``(status, result)`` pairs of solved jobs."""
    marks = []
    for status, result in solved:
        cal = result.get("calibration") or {}
        if not isinstance(cal.get("ra"), (int, float)) or \
                not isinstance(cal.get("dec"), (int, float)):
            continue
        x, y = project(cal["ra"], cal["dec"])
        marks.append({"job_id": status["job_id"], "short_id": status["job_id"][:8],
                      "file": (status.get("input") or {}).get("file"),
                      "ra": cal["ra"], "dec": cal["dec"], "x": x, "y": y,
                      "r": _radius(cal.get("radius_deg"))})
    return marks


def viewers(calibration):
    """Links that open a sky viewer on a solved field: [(name, URL)]."""
    ra, dec = calibration.get("ra"), calibration.get("dec")
    if not isinstance(ra, (int, float)) or not isinstance(dec, (int, float)):
        return []
    fov = max(0.01, min(180.0, 2.0 * float(calibration.get("radius_deg") or 1.0)))
    zoom = max(1, min(16, round(math.log2(1400.0 / fov))))
    return [
        ("Aladin Lite", "https://aladin.cds.unistra.fr/AladinLite/?" + urlencode(
            {"target": f"{ra:.5f} {dec:+.5f}", "fov": f"{fov:.3f}", "survey": "P/DSS2/color"})),
        ("WorldWide Telescope", "https://worldwidetelescope.org/wwtweb/goto.aspx?" + urlencode(
            {"object": "field", "ra": f"{ra:.5f}", "dec": f"{dec:.5f}",
             "zoom": f"{6 * fov:.3f}"})),
        ("Legacy Survey viewer", "https://www.legacysurvey.org/viewer?" + urlencode(
            {"ra": f"{ra:.5f}", "dec": f"{dec:.5f}", "layer": "ls-dr10", "zoom": zoom})),
    ]
