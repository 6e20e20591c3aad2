"""The worker's side of the warm extractor (extract/warm.py): one per worker
thread, started on its first job, started again if it died.

``spawn`` starts a job the way ``process.spawn`` does, and what it returns
answers ``pid``, ``poll``, ``wait`` and ``returncode`` like a ``Popen``, so
the supervisor watches, times out and cancels a warm job exactly as a cold
one: the job is a process of its own (forked by the warm extractor), the
leader of its own session, in the job's folder, with the job's limits.
"""
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from .. import config, process

logger = logging.getLogger("astro_jobs.runner.warm")

# Importing numpy, astropy and the extractor and reading the index headers
# takes about a second, several on a busy machine.
START_TIMEOUT = 60.0
# From a job sent to the child forked: a fork and a reply.
FORK_TIMEOUT = 10.0
MAX_MESSAGE = 65536

_local = threading.local()


class WarmJob:
    """A job running in a child of the warm extractor, seen like a ``Popen``."""

    def __init__(self, server, pid):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self):
        return self.wait(0)

    def wait(self, timeout=None):
        """The exit code, or None if it has not ended within ``timeout`` (None: wait)."""
        if self.returncode is None:
            message = self.server.receive(timeout)
            if message is not None:
                # No answer means the warm extractor died: its child had
                # SIGTERM from the kernel (PR_SET_PDEATHSIG) and is gone.
                self.returncode = message.get("exit", -signal.SIGKILL)
        return self.returncode


class Server:
    """One warm extractor process and our end of its socket."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, ASTRO_JOBS_WARM_FD=str(theirs.fileno()))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "astro_jobs.extract.warm"], env=env,
                stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True,
                preexec_fn=process.child_setup([]))
        finally:
            theirs.close()
        self.sock = ours
        if self.receive(START_TIMEOUT) in (None, {}) or self.proc.poll() is not None:
            self.close()
            raise OSError("the warm extractor did not start")

    def alive(self):
        return self.proc.poll() is None

    def receive(self, timeout):
        """The next message; {} when the server is gone, None when none came in time."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        try:
            data = self.sock.recv(MAX_MESSAGE)
        except OSError:
            data = b""
        return json.loads(data) if data else {}

    def run(self, args, cwd, log_fd, env, limits):
        request = json.dumps({"args": args, "cwd": str(cwd), "env": env, "limits": limits})
        socket.send_fds(self.sock, [request.encode()], [log_fd])
        reply = self.receive(FORK_TIMEOUT)
        if not reply or "pid" not in reply:
            raise OSError("the warm extractor did not start the job")
        return WarmJob(self, reply["pid"])

    def close(self):
        self.sock.close()
        if self.proc.poll() is None:
            process.kill_group(self.proc.pid, self.proc, grace=1.0)
        self.proc.wait()


def spawn(args, cwd, log_fd, env, limits):
    """Start the extractor with ``args`` in this thread's warm extractor (a
    new one if it died since the last job); OSError if that fails twice."""
    for tries_left in (1, 0):
        server = _server()
        try:
            return server.run(args, cwd, log_fd, env, limits)
        except (OSError, ValueError):
            stop()
            if not tries_left:
                raise
    raise AssertionError("unreachable")


def _server():
    server = getattr(_local, "server", None)
    if server is not None and server.alive():
        return server
    stop()
    started = time.monotonic()
    server = _local.server = Server()
    logger.info("warm extractor %d started in %.2f s", server.proc.pid,
                time.monotonic() - started)
    return server


def prestart():
    """Start this thread's warm extractor now, if jobs will use it."""
    if config.extract_bin() is None and config.warm_solver():
        _server()


def stop():
    """Stop this thread's warm extractor, if it has one."""
    server = getattr(_local, "server", None)
    _local.server = None
    if server is not None:
        server.close()
