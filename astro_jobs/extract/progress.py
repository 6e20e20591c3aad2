"""Stage reporting for the job runner, and human log lines for task.log."""
import os
import sys
import tempfile
import time

STAGES = ("reading", "detecting_stars", "solving", "annotating", "writing")

_T0 = time.monotonic()


def log(message):
    # stderr is the job's task.log; a timestamp relative to start makes slow
    # stages obvious when reading it afterwards.
    print("[%6.2fs] %s" % (time.monotonic() - _T0, message), file=sys.stderr, flush=True)


def enter_stage(name):
    """Publish the current stage where the runner looks for it (if anywhere)."""
    assert name in STAGES, name
    log("stage: " + name)
    path = os.environ.get("ASTRO_JOBS_STAGE_FILE")
    if not path:
        return
    try:
        write_atomically(path, name + "\n")
    except OSError as exc:
        # Progress is a courtesy; a full disk or a vanished job folder must
        # not turn a good solve into a failure.
        log("could not write stage file: %s" % exc)


def write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes 0600; readers (the web backend) expect a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
