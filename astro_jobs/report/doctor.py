"""``astro-jobs doctor``: can this machine run jobs? Each failed check says what to do.

Read-only: it creates nothing in JOBS_DIR but a probe file it removes at once.
"""
import grp
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import config
from ..errors import AstroJobsError
from ..runner import command as extractor
from ..store import jobdir, layout

MIN_FREE_BYTES = 1 << 30
MIN_FREE_FRACTION = 0.05
START_TIMEOUT = 30.0
INSTALL_DEPS = "scripts/install-deps.sh in a clone, or apt-get install"
# The README's consumer (the Procfile's worker line without its venv path).
CONSUMER_ARGS = ("astro_jobs.consumer.huey --workers 2 --worker-type thread "
                 "--delay 0.1 --max-delay 0.1 --backoff 1")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_checks():
    """Every check, in the order a newcomer would fix them."""
    checks = [jobs_dir()]
    checks.append(queue(jobs_dir_ok=checks[0].ok))
    checks += extractor_checks()
    checks += [disk(), consumers()]
    return checks


def jobs_dir():
    path = layout.root()
    if not path.is_dir():
        return Check("jobs_dir", False, f"JOBS_DIR {path} does not exist: create it, e.g. "
                     f"`install -d -m 2770 -g GROUP {path}` (GROUP: shared by the backend "
                     "and the consumers), or set JOBS_DIR to an existing folder")
    error = jobdir.probe_writable()
    if error is not None:
        return Check("jobs_dir", False, f"JOBS_DIR {path} is not writable by this user "
                     f"({error.strerror}): `chgrp GROUP {path} && chmod 2770 {path}` and "
                     "add this user to GROUP")
    info = path.stat()
    mode, group = info.st_mode & 0o7777, _group_name(info.st_gid)
    where = f"JOBS_DIR {path} (mode {mode:04o}, group {group})"
    if mode & 0o070 != 0o070:
        return Check("jobs_dir", False, f"{where}: the group cannot read, write and enter it, "
                     f"so a backend and a consumer of one group cannot share jobs: "
                     f"`chmod g+rwx {path}`")
    if mode & 0o002:
        return Check("jobs_dir", False, f"{where} is world-writable: `chmod o-rwx {path}`")
    return Check("jobs_dir", True, f"{where}: writable, shared with the group")


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def queue(jobs_dir_ok=True):
    url = config.queue_url()
    if url is None:
        where = f"SQLite queue {layout.queue_db_file()}"
        if not jobs_dir_ok:
            return Check("queue", False, f"{where}: unusable until jobs_dir passes")
        if not layout.queue_db_file().exists():
            return Check("queue", True, f"{where} does not exist yet: the first consumer "
                         "or submit creates it")
    else:
        where = f"Redis queue {_redacted(url)}"
    try:
        from ..queue import get_huey
        waiting = get_huey().pending_count()
    except AstroJobsError as exc:
        return Check("queue", False, f"{where}: {exc.message}")
    except Exception as exc:  # noqa: BLE001  any driver error is the answer here
        fix = "check ASTRO_JOBS_QUEUE_URL and that Redis answers (`redis-cli -u URL ping`)" \
            if url else "check that JOBS_DIR is a local or lock-capable filesystem"
        return Check("queue", False, f"{where}: {exc.__class__.__name__}: {exc}; {fix}")
    return Check("queue", True, f"{where}: reachable, {waiting} job(s) waiting")


def _redacted(url):
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def extractor_checks():
    """The extractor starts; for the bundled one, also what it runs."""
    custom = config.extract_bin()
    try:
        argv = extractor.command()
    except AstroJobsError as exc:
        return [Check("extractor", False, f"{exc.message}: point ASTRO_EXTRACT_BIN at an "
                      "executable program, or unset it to use the bundled extractor")]
    started = can_start(argv, bundled=custom is None)
    if custom is not None:
        return [started]
    return [started, solve_field(), index_files(), exiftool()]


def can_start(argv, bundled):
    """Run the extractor with --help: proof that it (and its imports) can start."""
    shown = " ".join(argv)
    try:
        proc = subprocess.Popen(argv + ["--help"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        return Check("extractor", False, f"{shown} cannot start: {exc.strerror}; point "
                     "ASTRO_EXTRACT_BIN at an executable program")
    try:
        _, err = proc.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Check("extractor", True, f"{shown}: started (still running after "
                     f"{START_TIMEOUT:g} s of --help; stopped)")
    last = (err.decode(errors="replace").strip().splitlines() or [""])[-1][-300:]
    if bundled and proc.returncode != 0:
        return Check("extractor", False, f"the bundled extractor cannot start ({last}): "
                     "reinstall astro-jobs with its dependencies, "
                     f"`{sys.executable} -m pip install astro-jobs`")
    if proc.returncode in (126, 127):
        return Check("extractor", False, f"{shown} cannot start (exit {proc.returncode}: "
                     f"{last}); check its interpreter line and permissions")
    what = "the bundled extractor" if bundled else shown
    return Check("extractor", True, f"{what}: starts (--help exited {proc.returncode})")


def _version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip().splitlines() or [None])[0]


def solve_field():
    path = shutil.which("solve-field")
    if path is None:
        return Check("solve_field", False, "solve-field is not on PATH: install astrometry.net "
                     f"({INSTALL_DEPS} astrometry.net)")
    version = _version([path, "--version"])
    return Check("solve_field", True, f"{path}, version {version or 'unknown'}")


def index_files():
    from ..extract.indexes import installed  # header cards only: no numpy

    found = installed()
    where = found.config or "the default search folder"
    if not found.files or not found.width_range_deg:
        return Check("index_files", False, f"no astrometry.net index files found ({where}): "
                     f"install the Tycho-2 ones ({INSTALL_DEPS} "
                     "astrometry-data-tycho2-07-littleendian ... -10-19-littleendian)")
    low, high = found.width_range_deg
    return Check("index_files", True, f"{len(found.files)} index files ({where}); they solve "
                 f"fields {low:g} to {high:g} degrees wide")


def exiftool():
    path = shutil.which("exiftool")
    if path is None:
        return Check("exiftool", False, "exiftool is not on PATH: without it no EXIF hints "
                     f"or camera data ({INSTALL_DEPS} libimage-exiftool-perl)")
    return Check("exiftool", True, f"{path}, version {_version([path, '-ver']) or 'unknown'}")


def disk():
    path = layout.root()
    while not path.exists() and path != path.parent:
        path = path.parent  # before JOBS_DIR exists: the filesystem it will be on
    try:
        usage = os.statvfs(path)
    except OSError as exc:
        return Check("disk", False, f"cannot measure free space of {path}: {exc.strerror}")
    free = usage.f_bavail * usage.f_frsize
    total = usage.f_blocks * usage.f_frsize or 1
    inodes = usage.f_favail / usage.f_files if usage.f_files else 1.0
    detail = (f"{free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB "
              f"({100 * free / total:.0f}%), {100 * inodes:.0f}% of inodes free in {path}")
    if free < MIN_FREE_BYTES or free / total < MIN_FREE_FRACTION or inodes < MIN_FREE_FRACTION:
        return Check("disk", False, f"only {detail}: remove old jobs "
                     "(`astro-jobs prune --older-than 7d`, or a lower ASTRO_JOBS_RETENTION) "
                     "or give JOBS_DIR more space")
    return Check("disk", True, detail)


def start_consumer():
    """How to start a consumer with what every documented install has: this
    install's huey_consumer with the README's flags, or the systemd unit of
    deploy/ (docs/running.md) where it is installed."""
    program = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    program = shlex.quote(program) if os.access(program, os.X_OK) else "huey_consumer"
    return (f"`{program} {CONSUMER_ARGS}`, or `systemctl start astro-jobs-worker` "
            "where deploy/astro-jobs-worker.service is installed")


def consumers():
    from ..store.consumers import list_consumers

    known = list_consumers()
    alive = [c for c in known if c["alive"]]
    if not alive:
        seen = f"{len(known)} registered, none beating" if known else "none registered"
        return Check("consumers", False, f"no consumer is alive for this JOBS_DIR ({seen}): "
                     f"start one ({start_consumer()}); queued jobs wait until then")
    names = ", ".join(f"{c['node']} pid {c['pid']} ({c['workers']} workers, last beat "
                      f"{c['age_s']:g} s ago)" for c in alive)
    dead = len(known) - len(alive)
    return Check("consumers", True, f"{len(alive)} alive: {names}"
                 + (f"; {dead} gone without a clean stop" if dead else ""))
