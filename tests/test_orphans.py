"""No orphan, ever: however the bundled extractor dies, solve-field goes too.

The bundled extractor starts solve-field in a session of its own (so that it
can kill one attempt's whole tree at its budget); killing the extractor's
process group therefore misses it. Each case here runs the real extractor
and the real solve-field on an image it cannot solve (so solve-field is busy
for as long as the test needs) and checks that every process of the run is
gone within 2 s of the job leaving ``processing``.
"""
import os
import signal
import time

import pytest

from support import CORPUS, pid_alive, processes_with_env, wait_until

SOLVER_PROGRAMS = {"solve-field", "astrometry-engi"}  # comm: 15 characters
UNSOLVABLE = CORPUS / "sdss.jpg"  # 13 arcminutes wide: no Tycho-2 index fits
GONE_WITHIN = 2.0


@pytest.fixture
def real_env(env):
    """The CLI environment with the bundled extractor (real solve-field)."""
    del env["ASTRO_EXTRACT_BIN"]
    env["ASTRO_JOBS_HEARTBEAT"] = "0.5"
    return env


def _program(pid):
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _solver_running(job_id):
    """The job's live processes once solve-field is among them, else None."""
    pids = processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}")
    if any(_program(pid) in SOLVER_PROGRAMS for pid in pids):
        return pids
    return None


def _start_solving(env, *extra):
    job_id = env.submit(UNSOLVABLE, *extra)
    status = env.wait_for(job_id, lambda s: s["stage"] == "solving", timeout=60,
                          what="stage solving")
    pids = wait_until(lambda: _solver_running(job_id), timeout=30)
    assert pids, "solve-field never started"
    assert os.getpgid(pids[-1]) != status["worker"]["pgid"] or len(pids) > 1
    return job_id, status, set(pids)


def _assert_all_gone_soon_after_processing(env, job_id, pids, timeout=60):
    """Wait until the job leaves processing, then allow GONE_WITHIN seconds."""
    final = env.wait_for(job_id, lambda s: s["state"] != "processing", timeout=timeout,
                         what="leaving processing")
    left = time.monotonic()
    alive = wait_until(lambda: not [p for p in pids if pid_alive(p)], timeout=GONE_WITHIN)
    survivors = {p: _program(p) for p in pids if pid_alive(p)}
    assert alive and not survivors, \
        f"still running {time.monotonic() - left:.1f} s after the job left processing: " \
        f"{survivors}"
    return final



def test_sigkill_of_the_extractor_kills_solve_field(real_env, consumers):
    """kill -9 (or the OOM killer) on the extractor while solve-field runs."""
    consumers(real_env)
    job_id, status, pids = _start_solving(real_env)
    os.kill(status["worker"]["pgid"], signal.SIGKILL)
    final = _assert_all_gone_soon_after_processing(real_env, job_id, pids)
    assert final["state"] == "error" and "SIGKILL" in final["error"], final
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []


def test_timeout_of_a_hung_extractor_kills_solve_field(real_env, consumers):
    consumers(real_env)
    job_id, status, pids = _start_solving(real_env, "--timeout", "15")
    # Hung: it will neither finish by its own deadline nor act on SIGTERM.
    os.kill(status["worker"]["pgid"], signal.SIGSTOP)
    final = _assert_all_gone_soon_after_processing(real_env, job_id, pids)
    assert final["state"] == "error" and "timed out" in final["error"], final
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []


def test_cancel_kills_solve_field(real_env, consumers):
    consumers(real_env)
    job_id, _, pids = _start_solving(real_env)
    code, out, _ = real_env.run("cancel", "--job-id", job_id)
    assert code == 0, out
    final = _assert_all_gone_soon_after_processing(real_env, job_id, pids)
    assert final["state"] == "cancelled"
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []


def test_consumer_crash_leaves_nothing_once_the_next_consumer_sweeps(real_env, consumers):
    """The consumer is SIGKILLed; the next consumer's first sweep cleans up."""
    real_env["ASTRO_JOBS_MAX_ATTEMPTS"] = "1"  # the sweep ends the job: no new run
    first = consumers(real_env)
    job_id, status, pids = _start_solving(real_env)
    # A stopped extractor cannot act on its parent-death signal (as one stuck
    # in the kernel could not): only the sweep can clean up after the crash.
    os.kill(status["worker"]["pgid"], signal.SIGSTOP)
    first.kill()
    consumers(real_env)
    final = _assert_all_gone_soon_after_processing(real_env, job_id, pids, timeout=20)
    assert final["state"] == "error" and "worker died" in final["error"], final
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []
