"""Which astro_jobs modules `submit`, `status` and `result` load, each run in a
fresh interpreter: the client side never loads the runner, notify or an HTTP
client, and `status`/`result` not even huey (issue 21)."""
import json

import pytest

from support import python_snippet

# What every CLI command loads: the CLI, the API and the store's readers.
COMMON = {
    "astro_jobs", "astro_jobs.api", "astro_jobs.cli", "astro_jobs.config",
    "astro_jobs.errors", "astro_jobs.timefmt",
    "astro_jobs.intake", "astro_jobs.intake.params", "astro_jobs.intake.units",
    "astro_jobs.store", "astro_jobs.store.atomic", "astro_jobs.store.jobdir",
    "astro_jobs.store.layout", "astro_jobs.store.record", "astro_jobs.store.states",
}
# submit also checks the image's header and the webhook URL, and enqueues.
SUBMIT = COMMON | {"astro_jobs.intake.fitsheader", "astro_jobs.intake.images",
                   "astro_jobs.intake.urls", "astro_jobs.queue", "astro_jobs.wakeup"}
NEVER = ("astro_jobs.runner", "astro_jobs.notify", "astro_jobs.consumer",
         "astro_jobs.process", "astro_jobs.identity", "astro_jobs.report", "astro_jobs.web")

# Runs the CLI's main() in this fresh process, then says what got loaded.
CHILD = """
import json, sys
from astro_jobs.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code,
                  "ours": sorted(m for m in sys.modules if m.startswith("astro_jobs")),
                  "others": [m for m in ("huey", "http.client", "click", "filelock")
                             if m in sys.modules]}))
"""


def loaded(env, *argv):
    code = f"import sys; sys.argv[1:] = {list(map(str, argv))!r}\n" + CHILD
    return json.loads(python_snippet(code, env).splitlines()[-1])


@pytest.fixture
def done_job(env, images):
    """A job run to ``done`` in another process (which loads the runner)."""
    return python_snippet(f"""
import astro_jobs
from astro_jobs.runner.worker import Run
job_id = astro_jobs.submit({str(images("ok"))!r})
Run(job_id).execute()
assert astro_jobs.status(job_id)["state"] == "done"
print(job_id)
""", env).split()[-1]


def test_submit_loads_the_queue_but_no_runner_notify_or_http(env, images):
    found = loaded(env, "submit", "--image", images("ok"))
    assert found["code"] == 0
    assert [m for m in found["ours"] if m.startswith(NEVER)] == []
    assert set(found["ours"]) == SUBMIT
    assert found["others"] == ["huey", "click"]  # no http.client: notify's webhook


@pytest.mark.parametrize("command", ["status", "result"])
def test_status_and_result_read_files_only(env, done_job, command):
    found = loaded(env, command, "--job-id", done_job)
    assert found["code"] == 0
    assert [m for m in found["ours"] if m.startswith(NEVER)] == []
    assert set(found["ours"]) == COMMON
    assert found["others"] == ["click"]  # neither huey nor filelock: no queue, no lock
