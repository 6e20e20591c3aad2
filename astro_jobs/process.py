"""Start an extractor in its own session under limits; watch and kill it.

Everything here is about one process group: the extractor and whatever it
spawns (solve-field starts several programs). Killing the group, never just
the child, is what guarantees that a timeout or a cancel leaves no process.
"""
import contextlib
import ctypes
import ctypes.util
import os
import resource
import select
import signal
import subprocess
import time

TERM_GRACE = 3.0
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def limits(memory_bytes, file_bytes):
    """The resource limits of an extractor: address space, file size, no core."""
    return [(resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_FSIZE, file_bytes),
            (resource.RLIMIT_CORE, 0)]


def child_setup(limits):
    """Runs in the child between fork and exec: only async-signal-safe calls."""
    def setup():
        # If the consumer dies, the extractor is told at once; the recovery
        # sweep kills whatever of its group is left.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        os.umask(0o007)
        for which, value in limits:
            resource.setrlimit(which, (value, value))
    return setup


def spawn(argv, cwd, log_fd, env, limits):
    """Start ``argv`` as the leader of a new session, output to ``log_fd``."""
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
        start_new_session=True, close_fds=True, preexec_fn=child_setup(limits))


class Watch:
    """Wait for a child's exit with a timeout, woken the moment it exits.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which would be
    most of the runtime of a quick job; a pidfd wakes ``poll`` immediately.
    """

    def __init__(self, proc):
        self.proc = proc
        self.poller = None
        self.fd = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(proc.pid)
            self.poller = select.poll()
            self.poller.register(self.fd, select.POLLIN)

    def wait(self, seconds):
        """The exit code, or None if still running after ``seconds``."""
        if self.poller is not None:
            self.poller.poll(max(0, int(seconds * 1000)))
            return self.proc.poll()
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def signal_group(pgid, signum):
    """Send ``signum`` to a process group; False if it no longer exists."""
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _read_proc(path):
    """A small /proc file whole (raw descriptors: this runs after every job)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ..."""
    return _read_proc(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()


def _live_processes():
    """(pid, process group, start time) of every process that is not a zombie,
    from /proc; the start time in clock ticks since boot (the 22nd field)."""
    try:
        names = os.listdir("/proc")
    except FileNotFoundError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            fields = _stat_fields(name)
        except OSError:
            continue
        if fields[0] not in (b"Z", b"X"):
            yield int(name), int(fields[2]), int(fields[19])


def start_time(pid):
    """When ``pid`` started, in clock ticks since boot (0 if it is gone)."""
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return 0


def group_members(pgid):
    """Pids of the live (not zombie) processes in group ``pgid``.

    ``killpg(pgid, 0)`` also succeeds for zombies, which an init that reaps
    slowly leaves around, so membership is read from /proc.
    """
    return [pid for pid, group, _ in _live_processes() if group == pgid]


def group_alive(pgid):
    return bool(group_members(pgid))


def kill_group(pgid, proc=None, grace=TERM_GRACE):
    """TERM the whole group, then KILL what is left after ``grace`` seconds."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()  # reap the leader, or it counts as alive
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)
    if proc is not None:
        proc.wait()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def marked_pids(marker, since=0):
    """Pids of live processes whose environment holds ``marker`` (``NAME=value``),
    among those started at or after ``since`` (see ``start_time``).

    How the processes of one run are found wherever they went: the marker is
    inherited by everything the extractor starts, in any session or process
    group, and unlike a pid or a group it cannot be reused by an unrelated
    process. ``since`` spares reading the environment of older processes.
    """
    needle = marker.encode()
    found = []
    for pid, _group, started in _live_processes():
        if started < since:
            continue
        try:
            if needle in _read_proc(f"/proc/{pid}/environ").split(b"\0"):
                found.append(pid)
        except OSError:
            continue
    return found


def kill_marked(marker, since=0, timeout=2.0):
    """SIGKILL every process carrying ``marker`` (started at or after
    ``since``) until none is left; how many.

    Scanned again after each round: a process may fork between the scan and
    its kill, and the child carries the marker too. Used once the run is
    over, when nothing of it may live on.
    """
    killed = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in marked_pids(marker, since) if pid != os.getpid()]
        if not pids or time.monotonic() > deadline:
            return len(killed)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.01)


def describe_exit(returncode):
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by signal {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


