"""What a person at a terminal gets: `--format table` for list, stats and
doctor, `--pretty` JSON on any command (the one-line JSON stays the
default), Ctrl-C in `wait` (exit 130, the job goes on), `logs --follow` of a
job cancelled mid-run (its last line printed), doctor's fix for a missing
consumer. Real CLI processes, real consumers, real signals."""
import json
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import threading
import time

import pytest

from support import ASTRO_JOBS, Env, job_status, wait_until, write_job


def canonical(out):
    """``out`` is exactly the default JSON: one line, json.dumps' own spacing."""
    obj = json.loads(out)
    assert out == json.dumps(obj) + "\n", out
    return obj


def text(env, *args, timeout=60):
    """(exit code, stdout) of ``astro-jobs ARGS`` when stdout is not one JSON line."""
    proc = subprocess.run([ASTRO_JOBS, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


def rows(table):
    """The table's lines split into columns (two or more spaces apart), header first."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines() if line.strip()]


# -- tables -----------------------------------------------------------------------

def test_list_table_shows_each_job_and_the_json_stays_the_default(env, images, consumers):
    consumer = consumers(env)
    done, failed = env.submit(images("ok")), env.submit(images("fail"))
    env.wait(done), env.wait(failed)
    consumer.stop()
    # A status with bytes that would drive a terminal (an extractor's output
    # reaches ``error``), written as a run leaves it.
    hostile = job_status("f" * 32, "error", time.time() - 5, time.time() - 4, time.time() - 3)
    hostile["error"] = "boom\x1b[2J\x1b[31m red\r\nsecond line"
    hostile["input"]["file"] = "sky\x1b]0;title\x07.jpg"
    write_job(env.jobs_dir, hostile)
    code, default = text(env, "list")
    assert code == 0
    jobs = canonical(default)["jobs"]
    assert text(env, "list", "--format", "json") == (0, default)
    code, table = text(env, "list", "--format", "table")
    assert code == 0 and "\x1b" not in table and "\r" not in table
    header, *lines = rows(table)
    assert header == ["JOB", "STATE", "OUTCOME", "AGE", "RUN", "FILE", "NOTE"]
    assert [line[0] for line in lines] == [job["job_id"] for job in jobs]  # newest first
    by_id = {line[0]: line for line in lines}
    assert by_id[done][1:3] == ["done", "solved"] and by_id[done][5] == "ok.png"
    error = next(job["error"] for job in jobs if job["job_id"] == failed)
    assert by_id[failed][1] == "error" and error.startswith(by_id[failed][6][:50])
    assert by_id["f" * 32][5:] == ["sky?]0;title?.jpg", "boom?[2J?[31m red"]  # first line


def test_stats_table_counts_what_the_json_counts(env, images, consumers):
    consumer = consumers(env)
    for mode in ("ok", "ok", "fail"):
        env.wait(env.submit(images(mode, f"-{time.monotonic_ns()}")))
    code, default = text(env, "stats")
    figures = canonical(default)
    code, table = text(env, "stats", "--format", "table")
    assert code == 0
    counts = {line[0]: line[1] for line in rows(table.split("\n\n")[0])[1:]}
    assert counts["done"].startswith(f"{figures['jobs']['done']} (")
    assert counts["error"] == str(figures["jobs"]["error"]) == "1"
    assert counts["total"] == str(figures["total"]) == "3"
    recent = {line[0]: line for line in rows(table.split("\n\n")[2])[1:]}
    assert recent["5m"][1] == "3" and recent["5m"][4] == "1"
    assert "consumers: 1 alive" in table
    assert re.search(rf"\n\S+\s+{consumer.pid}\s+2\s+yes\s", table), table


def test_doctor_table_has_every_check_and_the_same_exit_code(env):
    code_json, default = text(env, "doctor", timeout=120)
    checks = canonical(default)["checks"]
    code_table, table = text(env, "doctor", "--format", "table", timeout=120)
    assert code_table == code_json == 1  # no consumer here
    header, *lines = rows(table)
    assert header == ["CHECK", "RESULT", "DETAIL"]
    assert [line[0] for line in lines] == [check["name"] for check in checks]
    assert [line[1] == "ok" for line in lines] == [check["ok"] for check in checks]
    assert dict((line[0], line[1]) for line in lines)["consumers"] == "FAILED"


# -- --pretty ---------------------------------------------------------------------

def test_pretty_indents_the_same_json_on_any_command(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("ok"))
    env.wait(job_id)
    for args in (["status", "--job-id", job_id], ["result", "--job-id", job_id],
                 ["list"], ["wait", "--job-id", job_id]):
        code, plain = text(env, *args)
        code_pretty, pretty = text(env, *args, "--pretty")
        assert code == code_pretty == 0
        assert pretty == json.dumps(json.loads(plain), indent=2) + "\n", args
        assert text(env, "--pretty", *args)[1] == pretty  # before the command too
    _, pretty = text(env, "stats", "--pretty")  # its clock moves: the same keys
    assert pretty == json.dumps(json.loads(pretty), indent=2) + "\n"
    assert json.loads(pretty).keys() == json.loads(text(env, "stats")[1]).keys()
    code, pretty = text(env, "status", "--job-id", "nope", "--pretty")  # errors too
    assert code == 2 and json.loads(pretty)["code"] == "invalid_job_id"
    assert pretty == json.dumps(json.loads(pretty), indent=2) + "\n"
    for command in ("submit", "status", "result", "wait", "cancel", "list", "logs", "prune",
                    "doctor", "retry", "stats", "serve"):
        assert "--pretty" in text(env, command, "--help")[1], command


# -- Ctrl-C in wait ---------------------------------------------------------------

def interrupt_when(proc, ready, timeout=30):
    """SIGINT to ``proc`` once ``ready()`` says it is waiting."""
    assert wait_until(ready, timeout=timeout), "the process never got ready"
    proc.send_signal(signal.SIGINT)


def test_ctrl_c_in_wait_exits_130_and_the_job_goes_on(env, images, consumers):
    job_id = env.submit(images("slow30"))
    waiter = subprocess.Popen([ASTRO_JOBS, "wait", "--job-id", job_id], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # With no consumer alive, wait says so on stderr as it starts: it is waiting.
    first = waiter.stderr.readline().decode()
    assert "no consumer" in first, first
    waiter.send_signal(signal.SIGINT)
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 130 and b"Traceback" not in err, err
    answer = json.loads(out)
    assert out.decode().count("\n") == 1
    assert answer["ok"] is False and answer["code"] == "interrupted"
    assert answer["job_id"] == job_id and answer["state"] == "queued"
    assert f"job {job_id} goes on (queued)" in answer["error"]
    assert f"astro-jobs wait --job-id {job_id}" in answer["error"]
    consumers(env)  # the job was left alone: it runs and ends
    assert env.wait(job_id)["state"] == "done"


def test_ctrl_c_in_wait_at_a_terminal_while_the_job_runs(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("slow40"))
    env.wait_for(job_id, lambda s: s["state"] == "processing", 20, "processing")
    master, slave = pty.openpty()
    waiter = subprocess.Popen([ASTRO_JOBS, "wait", "--job-id", job_id], env=env,
                              stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    screen = []

    def drawn():  # the progress line is up: the loop is waiting
        if select.select([master], [], [], 0.05)[0]:
            screen.append(os.read(master, 65536))
        return b"processing" in b"".join(screen)
    try:
        interrupt_when(waiter, drawn)
        out, _ = waiter.communicate(timeout=30)
    finally:
        os.close(master)
    assert waiter.returncode == 130
    answer = json.loads(out)
    assert answer["code"] == "interrupted" and answer["state"] == "processing"
    assert "goes on (processing)" in answer["error"]
    assert env.status(job_id)["state"] == "processing"  # still running after the Ctrl-C
    assert env.wait(job_id)["state"] == "done"


# -- logs --follow on a job cancelled mid-run --------------------------------------

def test_logs_follow_prints_the_last_line_of_a_job_cancelled_mid_run(env, images, consumers):
    consumers(env)
    # It ignores SIGTERM: the run kills it 3 s after the cancel, then writes
    # task.log's last line, well after the job became ``cancelled``.
    job_id = env.submit(images("stubborn"))
    env.wait_for(job_id, lambda s: s["state"] == "processing", 20, "processing")
    follower = subprocess.Popen([ASTRO_JOBS, "logs", "--job-id", job_id, "--follow"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    guard = threading.Timer(60, follower.kill)  # never ending fails, not hangs
    guard.start()
    first = follower.stdout.readline().decode()
    assert "attempt 1 on" in first
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert code == 0 and out["state"] == "cancelled"
    rest = follower.stdout.read().decode()
    guard.cancel()
    assert follower.wait(10) == 0 and follower.stderr.read() == b""
    followed = first + rest
    last = followed.rstrip("\n").splitlines()[-1]
    assert last.startswith("--- ") and "extractor stopped after" in last \
        and "(cancelled)" in last, followed
    time.sleep(1)  # nothing more comes after it
    assert followed == text(env, "logs", "--job-id", job_id)[1]


# -- doctor's fix for a missing consumer ------------------------------------------

@pytest.fixture
def shared(env):
    env.jobs_dir.mkdir()
    os.chmod(env.jobs_dir, 0o2770)
    return env


def test_doctor_names_a_consumer_command_this_install_has_and_it_works(shared):
    env = shared
    _, out, _ = env.run("doctor", timeout=120)
    detail = {c["name"]: c["detail"] for c in out["checks"]}["consumers"]
    assert "honcho" not in detail
    command = re.search(r"start one \(`([^`]+)`", detail).group(1)
    argv = shlex.split(command)
    assert os.access(argv[0], os.X_OK), argv  # a program this install really has
    assert "systemctl start astro-jobs-worker" in detail
    log = open(env.jobs_dir.parent / "named-consumer.log", "wb")
    consumer = subprocess.Popen(argv, env=Env(env), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def consumers_ok():
            _, out, _ = env.run("doctor", timeout=120)
            return {c["name"]: c["ok"] for c in out["checks"]}["consumers"]
        assert wait_until(consumers_ok, timeout=30, interval=0.5)
    finally:
        consumer.send_signal(signal.SIGINT)
        consumer.wait(30)
        log.close()
