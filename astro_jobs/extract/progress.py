"""Stage reporting for the job runner, and human log lines for task.log."""
import os
import sys
import time

from ..store.atomic import write_atomically

STAGES = ("reading", "detecting_stars", "solving", "annotating", "writing")

_T0 = time.monotonic()


def restart_clock():
    """Times in the log count from now (a warm extractor's job starts long
    after the module was imported)."""
    global _T0
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
        write_atomically(path, (name + "\n").encode(), durable=False)
    except OSError as exc:
        # Progress is a courtesy; a full disk or a vanished job folder must
        # not turn a good solve into a failure.
        log("could not write stage file: %s" % exc)
