"""The queue (astro_jobs/queue.py): built on first use from the current
settings, and the run_job task under its current and its old names."""
import sqlite3

from support import python_snippet


def test_importing_the_queue_makes_nothing(env):
    """Import fixes no setting and creates no JOBS_DIR; the first use does, from
    the settings of that moment."""
    other = env.jobs_dir.with_name("other-jobs")
    out = python_snippet(
        "import os, pathlib\n"
        "from astro_jobs import queue\n"
        "jobs = pathlib.Path(os.environ['JOBS_DIR'])\n"
        "print(jobs.exists())\n"
        f"os.environ['JOBS_DIR'] = {str(other)!r}\n"
        "print(queue.get_huey().storage.filename)\n"
        "print(queue.get_huey() is queue.get_huey(), jobs.exists())\n", env)
    assert out.split() == ["False", str(other / "queue.sqlite3"), "True", "False"]
    assert (other / "queue.sqlite3").is_file()


def test_enqueue_and_queued_job_ids_without_a_consumer(env, images):
    """submit enqueues through the queue alone; the ids are what the queue holds."""
    job_ids = [env.submit(images("ok", f"-{n}")) for n in range(2)]
    held = python_snippet("from astro_jobs.queue import queued_job_ids\n"
                          "print(' '.join(sorted(queued_job_ids())))", env).split()
    assert held == sorted(job_ids)


def test_an_existing_queue_opens_without_waiting_for_its_writers(env, images):
    """Opening a queue whose tables exist reads the schema instead of rerunning
    huey's DDL under an exclusive lock: a submit goes through while another
    connection holds the write lock for seconds (WAL lets the read pass)."""
    env.submit(images("ok"))  # creates the queue and its schema
    holder = sqlite3.connect(env.jobs_dir / "queue.sqlite3", isolation_level=None)
    holder.execute("begin immediate")  # a writer in the middle of its transaction
    try:
        opened = python_snippet(
            "import time\n"
            "from astro_jobs import queue\n"
            "start = time.monotonic(); queue.get_huey()\n"
            "print(round(time.monotonic() - start, 3))", env)
    finally:
        holder.rollback()
        holder.close()
    # huey's own initialisation would wait for the lock: 60 s, the busy timeout
    assert float(opened) < 10


def test_a_queue_from_an_older_huey_gets_the_current_schema(env):
    """A queue lacking a table, or still carrying huey's old index, is brought
    up to date by huey's own DDL when it is first opened."""
    env.jobs_dir.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(env.jobs_dir / "queue.sqlite3")
    old.execute("create table task (id integer not null primary key, queue text not null, "
                "data blob not null, priority real not null default 0.0)")
    old.execute("create index task_priority_id on task (priority desc, id)")
    old.commit()
    old.close()
    python_snippet("from astro_jobs import queue\nqueue.get_huey()", env)
    with sqlite3.connect(env.jobs_dir / "queue.sqlite3") as db:
        names = {row[0] for row in db.execute("select name from sqlite_master")}
    assert {"kv", "schedule", "task", "counter", "task_queue_priority_id"} <= names
    assert "task_priority_id" not in names


# What a client of an earlier release put in the queue: the task named by the
# module that held run_job then (Huey names tasks "<module>.<function>").
OLD_CLIENT = """
import os, sys
import huey
from astro_jobs import queue

def run_job(job_id):
    raise AssertionError("never runs here")
run_job.__module__ = sys.argv[2]
old = huey.SqliteHuey(queue.QUEUE_NAME, filename=os.path.join(os.environ["JOBS_DIR"],
                      "queue.sqlite3"), results=False, utc=True)
old.flush()  # the job is queued under the old name only
old.enqueue(old.task()(run_job).s(sys.argv[1]))
print(old.pending()[0].name, old.pending_count())
"""


def _enqueue_by_an_old_release(env, job_id, module):
    code = f"import sys; sys.argv[1:] = [{job_id!r}, {module!r}]\n" + OLD_CLIENT
    return python_snippet(code, env).split()


def test_a_job_queued_under_the_old_task_name_runs(env, images, consumers):
    """Jobs queued before an upgrade (run_job in astro_jobs/worker.py, then in
    astro_jobs/runner/worker.py) still run on a consumer of this release."""
    # A heartbeat of a minute: the recovery sweep, which would re-enqueue the
    # job under the new name, cannot be what runs it within this test.
    env["ASTRO_JOBS_HEARTBEAT"] = "60"
    for module in ("astro_jobs.worker", "astro_jobs.runner.worker"):
        job_id = env.submit(images("ok", f"-{module}"))
        assert _enqueue_by_an_old_release(env, job_id, module) == ["run_job", "1"]
        consumer = consumers(env, 1)
        final = env.wait(job_id, timeout=30)
        assert final["state"] == "done" and final["attempts"] == 1, final
        assert f"Executing {module}.run_job: " in consumer.output()
        consumer.stop()
