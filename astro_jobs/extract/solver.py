"""solve-field: which indexes to load, the argv for one attempt, and what it found.

One attempt = one solve-field run on the prepared xylist with one scale band
(and maybe a position), bounded in wall time. ``build_argv`` decides how
solve-field is called, ``read_outcome`` what the files it left mean; the
search plan (which attempts, in which order) lives in ``plan.py``.
"""
import glob
import math
import os
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from .. import process
from .progress import log

DEFAULT_CONFIG = "/etc/astrometry.cfg"
# Fraction of the smaller image side below which solve-field builds no
# quads (its --quad-size-min default); used to pick the indexes to load.
QUAD_SIZE_MIN = 0.1

_current = {"proc": None}


@dataclass(repr=False)
class Attempt:
    """One scale band (degwidth unless told) and optional pointing, with a wall budget."""

    label: str
    scale_low: float
    scale_high: float
    units: str = "degwidth"
    budget_s: float = 10.0
    ra: Optional[float] = None
    dec: Optional[float] = None
    radius: Optional[float] = None
    detection: int = 0

    def __repr__(self):
        where = "" if self.ra is None else " near %.2f,%.2f r=%.1f" % (self.ra, self.dec, self.radius)
        return "%s [%g-%g %s]%s stars#%d %.1fs" % (self.label, self.scale_low, self.scale_high,
                                                   self.units, where, self.detection, self.budget_s)


@dataclass
class Outcome:
    """What one attempt found; the search adds which attempt it was."""

    solved: bool
    wcs_path: Optional[str] = None
    index: Optional[str] = None
    matched: Optional[int] = None
    seconds: float = 0.0
    timed_out: bool = False
    attempt_label: Optional[str] = None
    detection: Optional[int] = None


def index_dirs(config=DEFAULT_CONFIG):
    """Folders the system config tells astrometry.net to search."""
    dirs = []
    try:
        with open(config, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "add_path":
                    dirs.append(parts[1])
    except OSError:
        pass
    return dirs or ["/usr/share/astrometry"]


def list_indexes(dirs=None):
    """[(path, quad_min_arcsec, quad_max_arcsec)] of every index file found."""
    from astropy.io import fits

    found = []
    for folder in dirs or index_dirs():
        for path in sorted(glob.glob(os.path.join(folder, "index-*.fits"))):
            try:
                header = fits.getheader(path)
                low, high = float(header["SCALE_L"]), float(header["SCALE_U"])
            except Exception:  # not an index, or unreadable: the engine would skip it too
                continue
            found.append((path, math.degrees(low) * 3600.0, math.degrees(high) * 3600.0))
    return found


def arcsec_per_pixel(value, units, width):
    if units == "arcsecperpix":
        return value
    if units == "arcminwidth":
        return value * 60.0 / width
    if units == "focalmm":
        return 2.0 * math.degrees(math.atan(18.0 / value)) * 3600.0 / width
    return value * 3600.0 / width  # degwidth


def indexes_for(attempt, width, height, indexes):
    """Index files whose quad sizes can occur in this band: the rest is dead weight."""
    scales = sorted(arcsec_per_pixel(v, attempt.units, width)
                    for v in (attempt.scale_low, attempt.scale_high))
    quad_min = QUAD_SIZE_MIN * min(width, height) * scales[0]
    quad_max = math.hypot(width, height) * scales[1]
    return [path for path, low, high in indexes if high >= quad_min and low <= quad_max]


def write_config(path, index_paths, cpulimit):
    with open(path, "w", encoding="utf-8") as fh:
        # Our own wall clock bounds each attempt; cpulimit is a backstop the
        # engine only checks between steps.
        fh.write("cpulimit %d\n" % max(1, math.ceil(cpulimit)))
        for index in index_paths:
            fh.write("index %s\n" % index)
    return path


def build_argv(xylist, width, height, attempt, workdir, config):
    base = os.path.join(workdir, "solve")
    argv = [
        "solve-field", xylist,
        "--config", config,
        "--dir", workdir, "--out", "solve", "--overwrite",
        "--width", str(width), "--height", str(height),
        "--x-column", "X", "--y-column", "Y",
        # The xylist is already sorted, uniformized and cut (stars.py);
        # these steps would each start a Python interpreter.
        "--no-remove-lines", "--uniformize", "0",
        "--no-plots", "--new-fits", "none", "--index-xyls", "none",
        "--rdls", "none", "--match", "none", "--temp-axy",
        "--corr", base + ".corr", "--wcs", base + ".wcs", "--solved", base + ".solved",
        "--crpix-center",
        "--scale-low", "%g" % attempt.scale_low, "--scale-high", "%g" % attempt.scale_high,
        "--scale-units", attempt.units,
        "--cpulimit", str(max(1, math.ceil(attempt.budget_s))),
        "--temp-dir", workdir,
    ]
    if attempt.ra is not None:
        argv += ["--ra", "%.6f" % attempt.ra, "--dec", "%.6f" % attempt.dec,
                 "--radius", "%.3f" % attempt.radius]
    return argv


def run_attempt(xylist, width, height, attempt, workdir, indexes):
    """Run one attempt to completion or to its wall budget."""
    for name in ("solve.solved", "solve.wcs", "solve.corr"):
        _remove(os.path.join(workdir, name))
    chosen = indexes_for(attempt, width, height, indexes)
    if not chosen:
        log("attempt %r: no index covers this band, skipped" % attempt)
        return Outcome(False)
    config = write_config(os.path.join(workdir, "astrometry.cfg"), chosen, attempt.budget_s)
    argv = build_argv(xylist, width, height, attempt, workdir, config)
    log_path = os.path.join(workdir, "solve-field.log")
    started = time.monotonic()
    timed_out = _run_bounded(argv, log_path, attempt.budget_s)
    outcome = read_outcome(workdir, log_path)
    outcome.seconds = time.monotonic() - started
    outcome.timed_out = timed_out and not outcome.solved
    log("attempt %r with %d indexes: %s in %.2fs" % (
        attempt, len(chosen), "solved" if outcome.solved else
        ("wall budget hit" if outcome.timed_out else "no solution"), outcome.seconds))
    return outcome


def _run_bounded(argv, log_path, budget_s):
    with open(log_path, "a", encoding="utf-8") as logfh:
        logfh.write("$ %s\n" % " ".join(argv))
        logfh.flush()
        # Own session: on our deadline (or our own termination) the whole
        # solve-field -> astrometry-engine tree goes at once.
        proc = subprocess.Popen(argv, stdout=logfh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        _current["proc"] = proc
        # A pidfd wakes us the moment solve-field exits (Popen.wait with a
        # timeout polls in sleeps of up to 50 ms, on every attempt).
        watch = process.Watch(proc)
        try:
            if watch.wait(budget_s) is not None:
                return False
            process.kill_group(proc.pid, proc, grace=1.0)
            return True
        finally:
            watch.close()
            _current["proc"] = None


def kill_running():
    """Stop the attempt in flight, if any (used when we are terminated)."""
    proc = _current["proc"]
    if proc is not None and proc.poll() is None:
        process.kill_group(proc.pid, proc, grace=0.5)


def read_outcome(workdir, log_path):
    """Solved only if astrometry.net verified a match: it exits 0 either way."""
    solved_path = os.path.join(workdir, "solve.solved")
    wcs_path = os.path.join(workdir, "solve.wcs")
    if not (os.path.exists(solved_path) and os.path.exists(wcs_path) and _solved_flag(solved_path)):
        return Outcome(False)
    return Outcome(True, wcs_path=wcs_path, index=_solved_index(log_path),
                   matched=_count_rows(os.path.join(workdir, "solve.corr")))


def _solved_flag(path):
    # The .solved file holds one byte per field; 1 means solved.
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x01"


def _solved_index(log_path):
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            found = re.findall(r"solved with index (\S+?)\.?$", fh.read(), re.M)
    except OSError:
        return None
    return found[-1] if found else None


def _count_rows(path):
    from astropy.io import fits

    try:
        with fits.open(path) as hdus:
            return int(len(hdus[1].data)) if hdus[1].data is not None else 0
    except Exception:  # the match is real even when the corr file is not
        return None


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def solver_version():
    try:
        out = subprocess.run(["solve-field", "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None
