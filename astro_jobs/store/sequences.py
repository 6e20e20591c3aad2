"""Sequences: where the last solved frame of each named sequence pointed.

Layout::

    $JOBS_DIR/sequences/<name>.json   centre, scale, orientation, parity,
                                      the job that solved, when
    $JOBS_DIR/sequences/<name>.lock   held while the file is replaced

A frame of an imaging session is almost where the previous one was: its
job tries that first (runner/command.py), so the search starts from a
tight hint instead of the whole sky. Only a solved frame moves the
sequence; an unsolved one (a cloud) leaves the last good pointing.
"""
import json
import os
import re

from ..errors import BadInput
from ..timefmt import now_iso
from .jobdir import LOCK_TIMEOUT, write_json_atomic
from .layout import DIR_MODE, FILE_MODE, sequences_dir

# intake/params.py checks names at submit; checked again before one
# becomes a path.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# What a result's calibration contributes to the next frame's hint.
KEPT = ("ra", "dec", "pixscale_arcsec", "orientation_deg", "parity", "field_width_deg",
        "field_height_deg")
# Bounds a stored number must meet before it steers a search: the file is
# ours, but a hand-edited or truncated one must not become a bad argv.
BOUNDS = {"ra": (0.0, 360.0), "dec": (-90.0, 90.0), "pixscale_arcsec": (1e-3, 1e5)}


def _path(name, suffix):
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BadInput(f"not a sequence name: {name!r}", code="invalid_parameter")
    return sequences_dir() / f"{name}{suffix}"


def latest(name):
    """The last solved frame of sequence ``name`` (a dict of KEPT and ``job_id``), or None."""
    try:
        with open(_path(name, ".json"), "rb") as handle:
            record = json.loads(handle.read(65536))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    for key, (low, high) in BOUNDS.items():
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high:
            return None
    return record


def record(name, job_id, calibration):
    """Make a solved frame's ``calibration`` the sequence's latest, atomically."""
    from filelock import FileLock

    folder = sequences_dir()
    os.makedirs(folder, mode=DIR_MODE, exist_ok=True)
    entry = {key: calibration.get(key) for key in KEPT}
    entry.update(job_id=job_id, solved_at=now_iso())
    with FileLock(str(_path(name, ".lock")), timeout=LOCK_TIMEOUT, mode=FILE_MODE):
        write_json_atomic(_path(name, ".json"), entry, durable=False)
    return entry
