"""A named pipe in JOBS_DIR by which a submit wakes an idle consumer at once.

The SQLite queue cannot block until a job arrives, so a consumer polls it,
and a new job waited half a poll interval on average for nothing: a good
part of a solve that takes a fraction of a second. A consumer holds this
pipe open and its idle workers wait on it between polls; every enqueue
writes one byte to it. Like the queue it is only a hint: with no consumer
holding it, a full pipe or a byte gone to another consumer, the next poll
still finds the job.
"""
import os
import select
import stat

# Open flags shared by both ends: never through a symbolic link planted in
# JOBS_DIR, and never inherited by an extractor.
_FLAGS = os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


def notify(path):
    """Wake one idle consumer, if one holds the pipe at ``path``."""
    try:
        fd = os.open(path, os.O_WRONLY | _FLAGS)
    except OSError:  # no pipe yet, or no consumer holding it open (ENXIO)
        return
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b"\1")
    except OSError:  # a full pipe: wake-ups are already waiting
        pass
    finally:
        os.close(fd)


class Listener:
    """A consumer's end of the pipe, shared by its worker threads."""

    def __init__(self, path):
        try:
            os.mkfifo(path, 0o660)
        except FileExistsError:
            pass
        # Read and write: the pipe then always has a writer (this process),
        # so a wait never sees end-of-file when the last submit has closed it.
        self.fd = os.open(path, os.O_RDWR | _FLAGS)
        if not stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            os.close(self.fd)
            raise OSError(f"{path} is not a named pipe")

    def wait(self, timeout):
        """True when a submit wrote (one wake-up taken), False after ``timeout`` seconds."""
        poll = select.poll()  # one per call: a poll object is not for two threads at once
        poll.register(self.fd, select.POLLIN)
        if not poll.poll(timeout * 1000):
            return False
        try:
            os.read(self.fd, 1)
        except BlockingIOError:  # another worker took it; the queue will tell
            pass
        return True

    def drain(self):
        """Drop waiting wake-ups: those written while every worker was busy."""
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self):
        os.close(self.fd)
