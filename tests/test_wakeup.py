"""The wake-up pipe (astro_jobs/wakeup.py): a submit wakes an idle consumer
at once instead of at its next poll of the SQLite queue."""
import errno
import os
import threading

import pytest

from astro_jobs import wakeup

from support import python_snippet


def test_a_notify_wakes_a_waiting_listener_once(tmp_path):
    path = tmp_path / ".wakeup"
    listener = wakeup.Listener(path)
    try:
        woke = []
        waiter = threading.Thread(target=lambda: woke.append(listener.wait(60)))
        waiter.start()
        wakeup.notify(path)
        waiter.join(60)
        assert woke == [True]
        assert listener.wait(0.05) is False  # the one byte was taken
    finally:
        listener.close()


def test_stale_wakeups_are_dropped_at_once(tmp_path):
    path = tmp_path / ".wakeup"
    listener = wakeup.Listener(path)
    try:
        for _ in range(1000):  # written while every worker was busy
            wakeup.notify(path)
        listener.drain()
        assert listener.wait(0.05) is False
    finally:
        listener.close()


def test_notify_without_a_listener_or_a_pipe_does_nothing(tmp_path):
    wakeup.notify(tmp_path / "missing")  # no pipe yet: no error, nothing created
    assert not (tmp_path / "missing").exists()
    os.mkfifo(tmp_path / "idle")
    wakeup.notify(tmp_path / "idle")  # a pipe nobody holds: no error, no block


def test_notify_writes_into_nothing_but_a_pipe(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    wakeup.notify(plain)
    assert plain.read_bytes() == b""
    target = tmp_path / "target"
    target.write_bytes(b"")
    (tmp_path / "link").symlink_to(target)
    wakeup.notify(tmp_path / "link")
    assert target.read_bytes() == b""
    with pytest.raises(OSError):
        wakeup.Listener(plain)
    with pytest.raises(OSError):
        wakeup.Listener(tmp_path / "link")


def holds_pipe(path):
    """Whether some process holds the pipe open for reading."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO, exc
        return False
    os.close(fd)
    return True


def test_a_consumer_holds_the_pipe_while_it_runs_and_takes_a_submit_from_it(
        env, images, consumers):
    consumer = consumers(env)
    pipe = env.jobs_dir / ".wakeup"
    assert holds_pipe(pipe)
    job_id = env.submit(images("ok"))
    assert env.wait(job_id, 30)["state"] == "done"
    consumer.stop()
    assert not holds_pipe(pipe)


def test_a_worker_waiting_in_dequeue_gets_the_job_submitted_meanwhile(env, images):
    out = python_snippet(f"""
import threading
import astro_jobs
from astro_jobs import queue
queue.listen_for_submits()
storage = queue.get_huey().storage
got = []

def worker():  # what a huey worker does, its sleep left out: the storage blocks
    for _ in range(3000):
        data = storage.dequeue()
        if data:
            got.append(data)
            return

thread = threading.Thread(target=worker)
thread.start()
job_id = astro_jobs.submit({str(images("ok"))!r})
thread.join(60)
print(storage.blocking, len(got), job_id.encode() in got[0])
""", env)
    assert out.split() == ["True", "1", "True"]
