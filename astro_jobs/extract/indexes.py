"""The index files solve-field would load, and the field widths they can solve.

Read from astrometry.cfg the way the engine reads it (`add_path`, `index`,
`autoindex`) and from each index file's primary header (`SCALE_L`/`SCALE_U`,
the quad sizes it holds, in radians). Only header cards are parsed, so this
stays cheap enough for `astro-jobs doctor` and imports neither numpy nor
astropy.
"""
import glob
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..intake import fitsheader

DEFAULT_CONFIG = "/etc/astrometry.cfg"
DEFAULT_DIR = "/usr/share/astrometry"
# An index header ends within its first few blocks; stop reading there.
_MAX_HEADER_BLOCKS = 8


@dataclass
class IndexFile:
    """One index file and the sizes of the quads it holds, in arcseconds."""

    path: str
    quad_min_arcsec: float
    quad_max_arcsec: float


@dataclass
class Installed:
    """The index files found and the range of field widths they solve."""

    files: List[str] = field(default_factory=list)
    indexes: List[IndexFile] = field(default_factory=list)
    width_range_deg: Optional[Tuple[float, float]] = None
    config: Optional[str] = None


# What a warm extractor read once (keep_installed), by config path; a
# cold run reads the files afresh.
_kept = {}


def keep_installed(config=DEFAULT_CONFIG):
    """Read the index headers now and answer from memory from then on."""
    _kept[config] = installed(config)


def installed(config=DEFAULT_CONFIG):
    """Index files solve-field would search with `config`, and their width range."""
    if config in _kept:
        return _kept[config]
    dirs, names, auto = read_config(config)
    candidates = [_resolve(name, dirs) for name in names]
    if auto or not names:
        # The engine's autoindex: every FITS file in the search path that
        # turns out to be an index.
        for folder in dirs:
            candidates += sorted(glob.glob(os.path.join(folder, "*.fits")))
    found, seen = [], set()
    for path in candidates:
        real = os.path.realpath(path) if path else None
        if real is None or real in seen:
            continue
        seen.add(real)
        scales = quad_scales(path)
        if scales is not None:
            found.append(IndexFile(path, *scales))
    return Installed(files=[i.path for i in found], indexes=found,
                     width_range_deg=width_range_deg(found),
                     config=config if os.path.exists(config) else None)


def read_config(config):
    """(search folders, named index files, autoindex) from an astrometry.cfg."""
    dirs, names, auto = [], [], False
    try:
        with open(config, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "add_path" and len(parts) > 1:
            dirs.append(parts[1])
        elif parts[0] == "index" and len(parts) > 1:
            names.append(parts[1])
        elif parts[0] == "autoindex":
            auto = True
    return dirs or [DEFAULT_DIR], names, auto


def _resolve(name, dirs):
    """An `index` line's file: as given, or inside a search folder, with or without .fits."""
    tries = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in dirs]
    for path in tries:
        for candidate in (path, path + ".fits"):
            if os.path.isfile(candidate):
                return candidate
    return None


def quad_scales(path):
    """(smallest, largest) quad size in arcseconds from an index header, or None."""
    cards = fitsheader.read_file(path, _MAX_HEADER_BLOCKS)
    try:
        low, high = float(cards["SCALE_L"]), float(cards["SCALE_U"])
    except (KeyError, ValueError):
        return None
    if not (0 < low < high):
        return None
    return math.degrees(low) * 3600.0, math.degrees(high) * 3600.0


def width_range_deg(indexes):
    """Field widths, in degrees, that these index files can solve.

    Narrowest: the smallest quads just fit along the diagonal of a square
    field quad/sqrt(2) wide. Widest: as wide as the largest quads; a wider
    field only offers quads smaller than itself, and across such fields
    lens distortion bends them past the match tolerance.
    """
    if not indexes:
        return None
    low = min(i.quad_min_arcsec for i in indexes) / 3600.0 / math.sqrt(2.0)
    high = max(i.quad_max_arcsec for i in indexes) / 3600.0
    return (round(low, 3), round(high, 3))
