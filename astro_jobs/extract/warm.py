"""The warm extractor: a fork server that runs jobs exactly as the cold one.

    python -m astro_jobs.extract.warm      (started by runner/warm.py)

It imports numpy, Pillow, astropy and the extractor once and reads the
index files' headers and solve-field's version once; then, for each job
that comes over its socket, it forks a child that runs the extractor's
``main`` with the job's arguments, in the job's folder, environment and
limits, writing to the job's log. A child is a whole process of its own,
the leader of a new session like a cold extractor: a crash or a memory
blow-up ends that child only, and the runner kills its process group on a
timeout or a cancel. What the server keeps across jobs is read-only.

Protocol, one JSON object per message on a SOCK_SEQPACKET socket: the runner sends
``{"args": [...], "cwd": ..., "env": {...}, "limits": [[resource, value], ...]}``
with the job's log descriptor attached (SCM_RIGHTS); the server answers
``{"pid": N}`` once the child runs and ``{"exit": code}`` (negative: killed
by that signal, as ``subprocess`` reports it) when it has ended.
"""
import ctypes
import ctypes.util
import json
import os
import resource
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1
# One request line, bounded: the runner is the only writer, but a
# descriptor inherited by something else must not make us buffer forever.
MAX_REQUEST = 1 << 20


def warm_up():
    """Everything a job would load that does not depend on the job."""
    import numpy  # noqa: F401
    from astropy.io import fits  # noqa: F401  (FITS input and new-image.fits)
    from PIL import Image, ImageDraw, ImageOps, TiffImagePlugin  # noqa: F401

    from . import __main__, annotate, indexes, newfits, solver, wcs  # noqa: F401

    indexes.keep_installed()
    solver.keep_version()
    Image.init()


def serve(sock):
    """Run the jobs the runner sends until it closes the socket."""
    while True:
        data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 1)
        if not data:
            return
        try:
            if len(fds) != 1:
                raise ValueError("a job came without its log descriptor")
            pid = _fork_job(json.loads(data), fds[0], sock)
        finally:
            for fd in fds:
                os.close(fd)
        _send(sock, {"pid": pid})
        _send(sock, {"exit": _wait(pid)})


def _send(sock, message):
    sock.send(json.dumps(message).encode())


def _wait(pid):
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _fork_job(request, log_fd, sock):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # The job must not keep the runner's socket open: its end would not
        # see the server go.
        sock.close()
        _become_job(request, log_fd)
        from . import __main__ as extractor
        code = extractor.main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # the child must never return into the server loop
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _become_job(request, log_fd):
    """In the child: what process.spawn gives a cold extractor."""
    os.setsid()
    # If the server goes, its job goes too: nothing outlives its job.
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.umask(0o007)
    for which, value in request["limits"]:
        resource.setrlimit(which, (value, value))
    os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.environ.clear()
    os.environ.update(request["env"])
    from . import progress
    progress.restart_clock()


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def main():
    # The runner passes its end of a socketpair as descriptor 3.
    sock = socket.socket(fileno=int(os.environ.pop("ASTRO_JOBS_WARM_FD", "3")))
    warm_up()
    _send(sock, {"ready": os.getpid()})
    try:
        serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
