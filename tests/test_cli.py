"""The CLI without a consumer: submit, validation, every failure's JSON."""
import json
import os
import struct
import subprocess
import sys

import pytest

from support import ASTRO_JOBS, REPO, SAMPLE_IMAGE, make_png, python_snippet

COMMANDS = ["submit", "status", "result", "wait", "cancel", "list", "logs", "prune", "doctor"]
BAD_IDS = ["../x", "/etc/passwd", "../../" + "0" * 26, "A" * 32, "abc", "0" * 31, "0" * 33,
           "$(id)", "; rm -rf /", "0" * 31 + "\n", " " + "0" * 32, "g" * 32]


def leftovers(env):
    """Job folders and staging folders in JOBS_DIR (the queue file aside)."""
    if not env.jobs_dir.exists():
        return []
    return [p.name for p in env.jobs_dir.iterdir() if not p.name.startswith("queue.sqlite3")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(env, command):
    proc = subprocess.run([ASTRO_JOBS, command, "--help"], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0
    assert "Example" in proc.stdout and f"astro-jobs {command}" in proc.stdout


def test_python_m_entry_point(env):
    proc = subprocess.run([sys.executable, "-m", "astro_jobs", "list"], env=env,
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"ok": True, "jobs": []}


def test_submit_creates_the_job_folder(env):
    code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE, "--scale-low", "10",
                           "--scale-high", "40", "--downsample", "2", "--timeout", "90",
                           "--priority", "5")
    assert code == 0
    job_id = out["job_id"]
    assert len(job_id) == 32 and int(job_id, 16) >= 0 and job_id == job_id.lower()
    folder = env.jobs_dir / job_id
    assert (folder / "input" / "apod4.jpg").read_bytes() == SAMPLE_IMAGE.read_bytes()
    assert (folder / "output").is_dir()
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "queued"
    assert status["params"] == {"scale_low": 10.0, "scale_high": 40.0,
                                "scale_units": "degwidth", "downsample": 2, "timeout": 90.0,
                                "priority": 5, "image": str(SAMPLE_IMAGE), "ra": None,
                                "dec": None, "radius": None, "sequence": None}
    assert status["input"] == {"file": "apod4.jpg", "format": "jpeg", "width": 719,
                               "height": 507, "bytes": SAMPLE_IMAGE.stat().st_size}
    for key in ("created_at", "updated_at"):
        assert status[key].endswith("Z") and status[key][:4] == "20" + status[key][2:4]
    for key in ("started_at", "finished_at", "worker", "error", "solved"):
        assert status[key] is None
    assert status["attempts"] == 1
    # Not world-writable.
    for path in (env.jobs_dir, folder, folder / "input", folder / "status.json",
                 folder / "input" / "apod4.jpg"):
        assert not os.stat(path).st_mode & 0o002, path


def test_status_prints_status_json_plus_ok(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, _ = env.run("status", "--job-id", job_id)
    on_disk = json.loads((env.jobs_dir / job_id / "status.json").read_text())
    assert code == 0 and out == {"ok": True, **on_disk}


def test_result_of_a_queued_job_is_not_ready(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, _ = env.run("result", "--job-id", job_id)
    assert (code, out["code"]) == (4, "not_ready")


def test_wait_times_out_with_exit_4(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, _ = env.run("wait", "--job-id", job_id, "--timeout", "0.3")
    assert (code, out["code"]) == (4, "wait_timeout")
    assert "queued" in out["error"]


def test_cancel_a_queued_job(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert (code, out) == (0, {"ok": True, "job_id": job_id, "state": "cancelled"})
    status = env.status(job_id)
    assert status["state"] == "cancelled" and status["finished_at"]
    code, out, _ = env.run("cancel", "--job-id", job_id)  # idempotent
    assert code == 0
    code, out, _ = env.run("result", "--job-id", job_id)
    assert (code, out["code"]) == (5, "job_cancelled")


def test_list_newest_first_with_state_and_limit(env):
    ids = [env.submit(SAMPLE_IMAGE) for _ in range(3)]
    env.run("cancel", "--job-id", ids[1])
    code, out, _ = env.run("list")
    assert code == 0 and [j["job_id"] for j in out["jobs"]] == ids[::-1]
    _, out, _ = env.run("list", "--state", "cancelled")
    assert [j["job_id"] for j in out["jobs"]] == [ids[1]]
    _, out, _ = env.run("list", "--limit", "2")
    assert [j["job_id"] for j in out["jobs"]] == ids[:0:-1]
    code, out, _ = env.run("list", "--state", "bogus")
    assert (code, out["code"]) == (2, "invalid_parameter")


def test_prune_removes_terminal_jobs_only(env):
    queued = env.submit(SAMPLE_IMAGE)
    cancelled = env.submit(SAMPLE_IMAGE)
    env.run("cancel", "--job-id", cancelled)
    code, out, _ = env.run("prune", "--older-than", "1h")
    assert (code, out) == (0, {"ok": True, "removed": 0})
    code, out, _ = env.run("prune", "--older-than", "0s")
    assert (code, out) == (0, {"ok": True, "removed": 1})
    assert env.job_folders() == [queued]
    code, out, _ = env.run("status", "--job-id", cancelled)
    assert (code, out["code"]) == (3, "job_not_found")
    for bad in ("soon", "-1d", "7x", ""):
        code, out, _ = env.run("prune", "--older-than", bad)
        assert (code, out["code"]) == (2, "invalid_duration"), bad


def test_prune_refuses_a_number_without_a_unit(env):
    """A bare 5 once meant 5 seconds: nearly every finished job gone."""
    old = env.submit(SAMPLE_IMAGE)
    env.run("cancel", "--job-id", old)
    for bare in ("5", "0", "86400", "1.5"):
        code, out, _ = env.run("prune", "--older-than", bare)
        assert (code, out["code"]) == (2, "invalid_duration"), bare
        assert "unit is required" in out["error"]
    assert env.job_folders() == [old]
    code, out, _ = env.run("prune", "--older-than", "0m")
    assert (code, out) == (0, {"ok": True, "removed": 1})


def test_help_names_what_each_option_takes(env):
    def help_of(command):
        return subprocess.run([ASTRO_JOBS, command, "--help"], env=env, capture_output=True,
                              text=True).stdout
    submit = help_of("submit")
    assert "TEXT" not in submit
    for flag, metavar in [("--scale-low", "NUMBER"), ("--downsample", "INTEGER"),
                          ("--timeout", "SECONDS"), ("--priority", "INTEGER")]:
        assert f"{flag} {metavar}" in submit, flag
    listing = " ".join(help_of("list").split())
    assert "queued, processing, done, error, cancelled" in listing
    assert "TEXT" not in help_of("wait") and "--older-than DURATION" in help_of("prune")


def test_wait_says_when_no_consumer_is_alive(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, err = env.run("wait", "--job-id", job_id, "--timeout", "0.2")
    assert (code, out["code"], out["consumers_alive"]) == (4, "wait_timeout", 0)
    assert "no consumer is alive" in out["error"] and "no consumer is alive" in err


def test_logs_of_a_job_that_has_not_run_is_empty(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code, out, _ = env.run("logs", "--job-id", job_id, check_json=False)
    assert (code, out) == (0, "")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["submit"], ["status"],
                                  ["submit", "--image"], ["list", "--limit", "many"],
                                  ["submit", "--image", "x.jpg", "--scale-units", "furlongs"],
                                  ["status", "--job-id", "0" * 32, "--bogus"]])
def test_usage_errors_are_json_with_exit_2(env, argv):
    code, out, err = env.run(*argv)
    assert code == 2 and out["code"] == "usage" and out["error"]
    assert leftovers(env) == []


@pytest.mark.parametrize("command", ["status", "result", "wait", "cancel", "logs"])
@pytest.mark.parametrize("job_id", BAD_IDS)
def test_hostile_job_ids_are_refused_by_every_command(env, command, job_id):
    code, out, _ = env.run(command, "--job-id", job_id)
    assert (code, out["code"]) == (2, "invalid_job_id")


@pytest.mark.parametrize("command", ["status", "result", "wait", "cancel", "logs"])
def test_unknown_job_is_exit_3(env, command):
    code, out, _ = env.run(command, "--job-id", "0123456789abcdef" * 2)
    assert (code, out["code"]) == (3, "job_not_found")


@pytest.mark.parametrize("flags", [
    ["--scale-low", "0", "--scale-high", "1"],
    ["--scale-low", "-1", "--scale-high", "1"],
    ["--scale-low", "nan", "--scale-high", "1"],
    ["--scale-low", "1", "--scale-high", "inf"],
    ["--scale-low", "one", "--scale-high", "2"],
    ["--scale-low", "5", "--scale-high", "2"],
    ["--scale-low", "1"],
    ["--scale-high", "1"],
    ["--downsample", "0"],
    ["--downsample", "1.5"],
    ["--downsample", "-2"],
    ["--downsample", "1e9"],
    ["--timeout", "0"],
    ["--timeout", "-5"],
    ["--timeout", "NaN"],
    ["--timeout", "Infinity"],
    ["--timeout", "ten"],
    ["--priority", "high"],
    ["--priority", "1e9"],
])
def test_invalid_parameters_are_refused(env, flags):
    code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE, *flags)
    assert (code, out["code"]) == (2, "invalid_parameter"), out
    assert leftovers(env) == []


def _hostile_images(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope.jpg", "image_not_found")
    folder = tmp_path / "a-folder.jpg"
    folder.mkdir()
    cases["directory"] = (folder, "not_a_file")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "empty_image")
    text = tmp_path / "notes.jpg"
    text.write_text("these are not the pixels you are looking for\n" * 20)
    cases["text named .jpg"] = (text, "not_an_image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(SAMPLE_IMAGE.read_bytes()[:30000])
    cases["truncated jpeg"] = (truncated, "truncated_image")
    bomb = make_png(tmp_path / "bomb.png", 8, 8)
    data = bytearray(bomb.read_bytes())
    data[16:24] = struct.pack(">II", 200000, 200000)  # IHDR claims 40 gigapixels
    bomb.write_bytes(bytes(data))
    cases["decompression bomb"] = (bomb, "image_too_large")
    link = tmp_path / "passwd.jpg"
    link.symlink_to("/etc/passwd")
    cases["symlink to /etc/passwd"] = (link, "not_an_image")
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    cases["fifo"] = (fifo, "not_a_file")
    device = tmp_path / "zero.jpg"
    device.symlink_to("/dev/zero")
    cases["device"] = (device, "not_a_file")
    truncated_png = tmp_path / "cut.png"
    truncated_png.write_bytes(make_png(tmp_path / "whole.png", 64, 64).read_bytes()[:-20])
    cases["truncated png"] = (truncated_png, "truncated_image")
    return cases


def test_hostile_images_are_refused_and_leave_nothing(env, tmp_path):
    for name, (path, expected) in _hostile_images(tmp_path).items():
        code, out, _ = env.run("submit", "--image", path)
        assert (code, out["code"]) == (2, expected), (name, out)
        assert out["error"], name
        assert leftovers(env) == [], name


def test_image_over_the_size_limit(env):
    env["ASTRO_JOBS_MAX_IMAGE_MB"] = "0.05"
    code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE)
    assert (code, out["code"]) == (2, "image_too_large")
    assert "ASTRO_JOBS_MAX_IMAGE_MB" in out["error"]
    assert leftovers(env) == []


def test_paths_with_spaces_and_non_ascii_names(env, tmp_path):
    folder = tmp_path / "my uploads ✨"
    folder.mkdir()
    image = folder / "Orion's belt – été 2026.jpg"
    image.write_bytes(SAMPLE_IMAGE.read_bytes())
    job_id = env.submit(image)
    status = env.status(job_id)
    assert status["input"]["file"] == "Orion's belt – été 2026.jpg"
    assert (env.jobs_dir / job_id / "input" / status["input"]["file"]).is_file()


def test_unusable_jobs_dir_is_a_clear_error(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env["JOBS_DIR"] = str(blocker / "jobs")
    code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE)
    assert code == 1 and out["code"] == "storage_error"
    assert "JOBS_DIR" in out["error"]


def test_full_jobs_dir_is_a_clear_error(env, tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here: " + proc.stderr.decode())
    try:
        env["JOBS_DIR"] = str(mount / "jobs")
        code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE)  # 65 kB: does not fit
        assert code == 1 and out["code"] == "disk_full", out
        assert [p.name for p in (mount / "jobs").iterdir()
                if not p.name.startswith("queue.sqlite3")] == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_hot_paths_import_neither_huey_nor_imaging_libraries(env):
    job_id = env.submit(SAMPLE_IMAGE)
    code = f"""
import sys
from astro_jobs.cli import main
for argv in (["status", "--job-id", "{job_id}"], ["result", "--job-id", "{job_id}"],
             ["list"], ["logs", "--job-id", "{job_id}"]):
    main(argv)
heavy = [m for m in ("huey", "redis", "filelock", "astropy", "numpy", "PIL") if m in sys.modules]
print("HEAVY", heavy)
"""
    assert "HEAVY []" in python_snippet(code, env)


def test_the_program_skips_the_shutdown_collections_and_a_caller_keeps_its_gc(env):
    """main() as the program freezes the objects for the exit; main(argv),
    called from a caller's own code, leaves the caller's collector alone."""
    code = """
import gc, sys
from astro_jobs.cli import main
before = gc.get_freeze_count()  # not 0 on every Python (3.12 starts with some)
main(["list"])
print("AFTER_ARGV", gc.get_freeze_count() - before)
sys.argv = ["astro-jobs", "list"]
main()
print("AFTER_PROGRAM", gc.get_freeze_count() - before)
"""
    out = python_snippet(code, env)
    assert "AFTER_ARGV 0" in out
    assert int(out.split("AFTER_PROGRAM ")[1].split()[0]) > 1000


def test_submit_on_sqlite_does_not_import_redis(env):
    code = f"""
import sys, astro_jobs
astro_jobs.submit({str(SAMPLE_IMAGE)!r})
print("LOADED", sorted(m for m in ("huey", "redis", "astropy", "numpy", "PIL") if m in sys.modules))
"""
    assert "LOADED ['huey']" in python_snippet(code, env)


def test_python_api_errors_carry_codes(env):
    code = f"""
import astro_jobs
try:
    astro_jobs.status("../etc")
except astro_jobs.AstroJobsError as exc:
    print("CODE", exc.code)
try:
    astro_jobs.submit("/nonexistent.jpg")
except astro_jobs.BadInput as exc:
    print("CODE", exc.code)
job = astro_jobs.submit({str(SAMPLE_IMAGE)!r}, scale_low=1, scale_high=3)
print("STATE", astro_jobs.status(job)["state"])
try:
    astro_jobs.result(job)
except astro_jobs.NotReady as exc:
    print("CODE", exc.code)
print("CANCEL", astro_jobs.cancel(job)["state"])
try:
    astro_jobs.result(job)
except astro_jobs.JobFailed as exc:
    print("CODE", exc.code)
"""
    out = python_snippet(code, env).split("\n")
    assert out[:6] == ["CODE invalid_job_id", "CODE image_not_found", "STATE queued",
                       "CODE not_ready", "CANCEL cancelled", "CODE job_cancelled"]
