"""astrometry-engine: the job of one attempt, a round of attempts raced side
by side, and what a finished attempt found.

One attempt = one astrometry-engine run on the prepared star list, with one
scale band (and maybe a position) and a CPU budget. The attempts of a round
run at once, each in its own process group and folder; the first verified
solution wins and the others are killed. Which attempts make a round lives
in ``plan.py``.
"""
import math
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from .. import process
from ..intake.units import arcsec_per_pixel
from . import fitsfile
from .progress import log

# Fraction of the smaller image side below which solve-field builds no
# quads (its --quad-size-min default); used to pick the indexes to load.
QUAD_SIZE_MIN = 0.1
# Our own check on top of solve-field's log-odds: fewer matched stars than
# this is a coincidence we do not report.
MIN_MATCHED = 6
# A right fit puts matched stars within a pixel or two; several pixels of
# RMS means the match is not this field.
MAX_RMS_PIXELS = 3.0

# How often a race looks at the CPU its attempts have used.
CPU_POLL_S = 0.05
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_running = set()

# What an attempt's folder holds: the engine's job and star list, and what
# it writes when it solves.
AXY, SOLVED, WCS, CORR, RDLS = "solve.axy", "solve.solved", "solve.wcs", "solve.corr", "solve.rdls"


@dataclass(repr=False)
class Attempt:
    """One scale band (degwidth unless told) and optional pointing, with a CPU budget."""

    label: str
    scale_low: float
    scale_high: float
    units: str = "degwidth"
    budget_s: float = 10.0
    ra: Optional[float] = None
    dec: Optional[float] = None
    radius: Optional[float] = None
    detection: int = 0
    tolerance: Optional[float] = None
    max_stars: Optional[int] = None

    def __repr__(self):
        where = ""
        if self.ra is not None:
            where = " near %.2f,%.2f r=%.1f" % (self.ra, self.dec, self.radius)
        cut = "" if self.max_stars is None else "<=%d" % self.max_stars
        return "%s [%.3g-%.3g %s]%s stars#%d%s %.1fs" % (
            self.label, self.scale_low, self.scale_high, self.units, where, self.detection, cut,
            self.budget_s)


@dataclass
class Outcome:
    """What one attempt found; the search adds which attempt it was."""

    solved: bool
    wcs_path: Optional[str] = None
    corr_path: Optional[str] = None
    folder: Optional[str] = None  # the attempt's folder: its rdls and axy files
    index: Optional[str] = None
    matched: Optional[int] = None
    rms_arcsec: Optional[float] = None
    seconds: float = 0.0
    timed_out: bool = False
    attempt: Optional[Attempt] = None
    rejected: Optional[str] = None


def indexes_for(attempt, width, height, indexes):
    """Index files whose quad sizes can occur in this band: the rest is dead weight."""
    scales = sorted(arcsec_per_pixel(v, attempt.units, width)
                    for v in (attempt.scale_low, attempt.scale_high))
    quad_min = QUAD_SIZE_MIN * min(width, height) * scales[0]
    quad_max = math.hypot(width, height) * scales[1]
    return [i.path for i in indexes
            if i.quad_max_arcsec >= quad_min and i.quad_min_arcsec <= quad_max]


def write_config(path, index_paths, cpulimit):
    with open(path, "w", encoding="utf-8") as fh:
        # Our own wall clock bounds each attempt; cpulimit is a backstop the
        # engine only checks between steps. inparallel: every quad is looked
        # up in all the band's indexes at once, so a short budget is not
        # spent on the first index alone.
        fh.write("cpulimit %d\ninparallel\n" % max(1, math.ceil(cpulimit)))
        for index in index_paths:
            fh.write("index %s\n" % index)
    return path


def engine_job(attempt, width, height):
    """The cards astrometry-engine reads its job from (what solve-field's
    augment step writes into the xylist's primary header); outputs are
    named relative to the attempt's folder, where the engine runs."""
    low, high = sorted(arcsec_per_pixel(v, attempt.units, width)
                       for v in (attempt.scale_low, attempt.scale_high))
    cards = [("IMAGEW", width), ("IMAGEH", height), ("ANRUN", True),
             ("ANCLIM", max(1, math.ceil(attempt.budget_s))),
             ("ANXCOL", "X"), ("ANYCOL", "Y"),
             ("ANVERUNI", True), ("ANVERDUP", False),  # solve-field's defaults
             ("ANAPPL1", low), ("ANAPPU1", high),
             ("ANCRPIXC", True), ("ANTWEAK", True), ("ANTWEAKO", 2),
             # .rdls and .axy are nova's downloads (rdls_file, axy_file).
             ("ANSOLVED", SOLVED), ("ANRDLS", RDLS), ("ANWCS", WCS), ("ANCORR", CORR)]
    if attempt.tolerance is not None:
        cards.append(("ANCTOL", attempt.tolerance))
    if attempt.ra is not None:
        cards += [("ANERA", attempt.ra), ("ANEDEC", attempt.dec), ("ANERAD", attempt.radius)]
    return cards


def write_axy(path, stars, width, height, job):
    """The engine's input: the stars as an xylist whose primary header
    carries the job (engine_job's cards)."""
    columns = {name: stars[:, i] for i, name in enumerate(("X", "Y", "FLUX", "BACKGROUND"))}
    return fitsfile.write_table(path, columns, [("IMAGEW", width), ("IMAGEH", height)],
                                primary=job)


class _Run:
    """One attempt's solve-field process, in its own folder and process group."""

    def __init__(self, number, attempt, stars, width, height, workdir, indexes):
        self.attempt = attempt
        self.folder = os.path.join(workdir, "attempt-%d" % number)
        os.makedirs(self.folder, exist_ok=True)
        chosen = indexes_for(attempt, width, height, indexes)
        self.index_count = len(chosen)
        self.proc, self.fd = None, None
        self.started = time.monotonic()
        if not chosen:
            return
        config = write_config(os.path.join(self.folder, "astrometry.cfg"), chosen,
                              attempt.budget_s)
        # The engine itself, on the star list with the job in its header:
        # solve-field would only write that header (its augment step), through
        # a shell, at a process start and some tens of milliseconds each.
        write_axy(os.path.join(self.folder, AXY), stars, width, height,
                  engine_job(attempt, width, height))
        self.log_path = os.path.join(self.folder, "engine.log")
        with open(self.log_path, "w", encoding="utf-8") as logfh:
            # Own session: the engine can be killed with anything it starts.
            self.proc = subprocess.Popen(["astrometry-engine", "--config", config, AXY],
                                         cwd=self.folder, stdout=logfh,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        _running.add(self.proc)
        self.fd = os.pidfd_open(self.proc.pid)

    def kill(self):
        if self.proc.poll() is None:
            process.signal_group(self.proc.pid, signal.SIGKILL)
        self.finish()

    def cpu_seconds(self):
        """CPU used so far by solve-field and the programs under it."""
        return _tree_cpu(self.proc.pid)

    def finish(self):
        self.proc.wait()
        _running.discard(self.proc)
        os.close(self.fd)
        self.seconds = time.monotonic() - self.started


def race(attempts, star_lists, width, height, workdir, indexes, deadline, first=0):
    """Run `attempts` at once, each on its (N, 4) X, Y, FLUX, BACKGROUND array
    (`star_lists`, in the same order); (first verified Outcome or None,
    [finished Outcomes]).

    Budgets are CPU seconds of each attempt's process tree, not wall time:
    on a shared machine the same search does the same work however slowly
    it goes, so a crowded field solved alone also solves beside other jobs.
    `deadline` (wall) still ends everything.
    """
    runs = [_Run(first + n, a, stars, width, height, workdir, indexes)
            for n, (a, stars) in enumerate(zip(attempts, star_lists))]
    live = {run.fd: run for run in runs if run.proc is not None}
    for run in runs:
        if run.proc is None:
            log("attempt %r: no index covers this band, skipped" % run.attempt)
    poller = select.poll()
    for fd in live:
        poller.register(fd, select.POLLIN)
    finished, winner = [], None
    try:
        while live and winner is None and time.monotonic() < deadline:
            wait = min(CPU_POLL_S, deadline - time.monotonic())
            for fd, _ in poller.poll(max(1, int(wait * 1000))):
                poller.unregister(fd)
                outcome = _settle(live.pop(fd), finished)
                winner = winner or (outcome if outcome.solved else None)
            for fd, run in list(live.items()):
                if winner is None and run.cpu_seconds() >= run.attempt.budget_s:
                    poller.unregister(fd)
                    run.kill()
                    finished.append(_judge(live.pop(fd), "CPU budget used"))
    finally:
        for run in live.values():
            run.kill()
            finished.append(_judge(run, "stopped" if winner else "deadline reached"))
    return winner, finished


def _settle(run, finished):
    run.finish()
    outcome = _judge(run)
    finished.append(outcome)
    return outcome


def _judge(run, stopped=None):
    """The Outcome of a finished run, or of one `stopped` (why, in words)."""
    outcome = read_outcome(run.folder, run.log_path) if not stopped else Outcome(False)
    outcome.attempt, outcome.seconds, outcome.timed_out = run.attempt, run.seconds, bool(stopped)
    status = ("solved" if outcome.solved else "rejected: " + outcome.rejected if outcome.rejected
              else stopped or "no solution")
    log("attempt %r with %d indexes: %s in %.2fs" % (run.attempt, run.index_count, status,
                                                     run.seconds))
    return outcome


def _tree_cpu(pid):
    """utime + stime of `pid`, of its reaped children and of its live descendants."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open("/proc/%d/task/%d/children" % (pid, pid), "rb") as fh:
            children = [int(c) for c in fh.read().split()]
    except (OSError, ValueError):
        return 0.0
    # After the command name: utime, stime, cutime, cstime are fields 11-14.
    own = sum(int(f) for f in fields[11:15]) / _CLOCK_TICKS
    return own + sum(_tree_cpu(child) for child in children)


def kill_running():
    """Stop the attempts in flight, if any (used when we are terminated)."""
    for proc in list(_running):
        if proc.poll() is None:
            process.signal_group(proc.pid, signal.SIGKILL)


def read_outcome(folder, log_path):
    """Solved only if astrometry.net verified a match (it exits 0 either way) and
    enough stars fit it closely."""
    solved_path = os.path.join(folder, SOLVED)
    wcs_path = os.path.join(folder, WCS)
    corr_path = os.path.join(folder, CORR)
    if not (os.path.exists(solved_path) and os.path.exists(wcs_path) and _solved_flag(solved_path)):
        return Outcome(False)
    matched, rms, rms_px = match_quality(corr_path, wcs_path)
    outcome = Outcome(True, wcs_path=wcs_path, corr_path=corr_path, folder=folder,
                      index=_solved_index(log_path),
                      matched=matched, rms_arcsec=rms)
    if matched < MIN_MATCHED:
        outcome.solved, outcome.rejected = False, "only %d stars match" % matched
    elif rms_px > MAX_RMS_PIXELS:
        outcome.solved, outcome.rejected = False, "matched stars %.1f px off" % rms_px
    return outcome


def match_quality(corr_path, wcs_path):
    """(matched stars, RMS sky distance in arcsec, RMS in pixels) from a .corr file."""
    try:
        columns, _ = fitsfile.read_table(corr_path)
    except (OSError, ValueError, KeyError):
        return 0, None, float("inf")
    if not columns or len(columns.get("field_ra", ())) == 0:
        return 0, None, float("inf")
    sep = separation_arcsec(columns["field_ra"], columns["field_dec"],
                            columns["index_ra"], columns["index_dec"])
    rms = float(math.sqrt(sum(s * s for s in sep) / len(sep)))
    cards = fitsfile.header_cards(wcs_path)
    det = cards["CD1_1"] * cards["CD2_2"] - cards["CD1_2"] * cards["CD2_1"]
    scale = 3600.0 * math.sqrt(abs(det))
    return len(sep), round(rms, 3), rms / scale


def separation_arcsec(ra1, dec1, ra2, dec2):
    """Angles between sky positions (degrees in, arcseconds out), haversine."""
    import numpy as np

    r1, d1, r2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600.0


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


_version = []


def keep_version():
    """Ask solve-field its version now and remember it (a warm extractor)."""
    _version[:] = [solver_version()]


def solver_version():
    if _version:
        return _version[0]
    try:
        out = subprocess.run(["solve-field", "--version"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None
