"""astro-jobs doctor: one JSON object, exit 0 when every check passes."""
import json
import os
import subprocess

import pytest

from support import STAND_IN, RedisServer, free_port, wait_until

CHECKS = ["jobs_dir", "queue", "extractor", "solve_field", "index_files", "exiftool", "disk",
          "consumers"]


def doctor(env):
    code, out, _ = env.run("doctor", timeout=120)
    assert [c["name"] for c in out["checks"]][:3] == CHECKS[:3]
    assert all(set(c) == {"name", "ok", "detail"} and c["detail"] for c in out["checks"])
    failed = sorted(c["name"] for c in out["checks"] if not c["ok"])
    assert out["ok"] is (failed == []) and code == (1 if failed else 0)
    if failed:
        assert out["code"] == "doctor_failed" and out["error"] == "failed: " + ", ".join(
            c["name"] for c in out["checks"] if not c["ok"])
    return {c["name"]: c for c in out["checks"]}, failed


def registered(env, workers=1):
    """Whether a consumer's registry file says ``workers`` workers started."""
    return any(json.loads(p.read_text())["workers"] >= workers
               for p in (env.jobs_dir / "consumers").glob("*.json"))


def shared_jobs_dir(env):
    """JOBS_DIR as the README sets it up: the group may read, write and enter."""
    env.jobs_dir.mkdir()
    os.chmod(env.jobs_dir, 0o2770)


@pytest.fixture
def bundled(env):
    del env["ASTRO_EXTRACT_BIN"]  # the default: the bundled extractor
    shared_jobs_dir(env)
    return env


def test_a_healthy_set_up_passes(bundled, consumers):
    consumer = consumers(bundled)
    assert wait_until(lambda: registered(bundled, workers=2), timeout=10)
    checks, failed = doctor(bundled)
    assert failed == [] and list(checks) == CHECKS
    assert "mode 2770" in checks["jobs_dir"]["detail"]
    assert "bundled extractor: starts" in checks["extractor"]["detail"]
    assert "version" in checks["solve_field"]["detail"]
    assert "degrees wide" in checks["index_files"]["detail"]
    assert f"pid {consumer.pid} (2 workers" in checks["consumers"]["detail"]
    assert "GiB free" in checks["disk"]["detail"]


def test_no_consumer_alive_fails_the_consumers_check(bundled, consumers):
    checks, failed = doctor(bundled)
    assert failed == ["consumers"]
    assert "no consumer is alive" in checks["consumers"]["detail"]
    consumer = consumers(bundled)
    assert wait_until(lambda: registered(bundled), timeout=10)
    consumer.kill()  # registered, then gone without a clean stop
    checks, failed = doctor(bundled)
    assert failed == ["consumers"] and "1 registered, none beating" in \
        checks["consumers"]["detail"]


def test_a_missing_extractor_fails_the_extractor_check(env, tmp_path):
    shared_jobs_dir(env)
    env["ASTRO_EXTRACT_BIN"] = str(tmp_path / "no-such-extractor")
    checks, failed = doctor(env)
    assert failed == ["consumers", "extractor"]
    assert "ASTRO_EXTRACT_BIN" in checks["extractor"]["detail"]
    assert "solve_field" not in checks  # only the bundled extractor needs it


def test_an_extractor_that_cannot_start(env, tmp_path):
    broken = tmp_path / "broken-extractor"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    env["ASTRO_EXTRACT_BIN"] = str(broken)
    checks, _ = doctor(env)
    assert checks["extractor"]["ok"] is False and "cannot start" in checks["extractor"]["detail"]
    env["ASTRO_EXTRACT_BIN"] = str(STAND_IN)  # any exit status of --help means it started
    checks, _ = doctor(env)
    assert checks["extractor"]["ok"] is True


def test_jobs_dir_problems_say_what_to_do(env):
    checks, failed = doctor(env)
    assert {"jobs_dir", "queue"} <= set(failed)
    assert "does not exist" in checks["jobs_dir"]["detail"] and not env.jobs_dir.exists()
    env.jobs_dir.mkdir()
    os.chmod(env.jobs_dir, 0o755)
    checks, _ = doctor(env)
    assert checks["jobs_dir"]["ok"] is False and "chmod g+rwx" in checks["jobs_dir"]["detail"]
    os.chmod(env.jobs_dir, 0o777)
    checks, _ = doctor(env)
    assert "world-writable" in checks["jobs_dir"]["detail"]
    os.chmod(env.jobs_dir, 0o2770)
    checks, _ = doctor(env)
    assert checks["jobs_dir"]["ok"] is True and checks["queue"]["ok"] is True


def test_a_nearly_full_disk_fails_the_disk_check(env, tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    # A sudoer's `make test` asked for the password when it installed packages.
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run(sudo + ["mount", "-t", "tmpfs", "-o", f"size=1m,mode=0770,uid={os.getuid()}",
                           "tmpfs", str(mount)], check=True)
    try:
        env["JOBS_DIR"] = str(mount)
        checks, _ = doctor(env)
        assert checks["disk"]["ok"] is False and "prune" in checks["disk"]["detail"]
    finally:
        subprocess.run(sudo + ["umount", str(mount)], check=True)


def test_the_redis_queue_is_checked(env, tmp_path):
    shared_jobs_dir(env)
    env["ASTRO_JOBS_QUEUE_URL"] = f"redis://:secret@127.0.0.1:{free_port()}/0"
    checks, _ = doctor(env)
    assert checks["queue"]["ok"] is False and "ConnectionError" in checks["queue"]["detail"]
    assert "secret" not in checks["queue"]["detail"]
    server = RedisServer(tmp_path)
    try:
        env["ASTRO_JOBS_QUEUE_URL"] = server.url
        checks, _ = doctor(env)
        assert checks["queue"]["ok"] is True and "0 job(s) waiting" in checks["queue"]["detail"]
    finally:
        server.stop()
