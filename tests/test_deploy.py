"""The systemd unit: valid for systemd, and its command runs a consumer from
anywhere with systemd's PATH (no venv on it), as a server would."""
import re
import shlex
import shutil
import signal
import subprocess
import sys

from support import BIN, REPO

UNIT = REPO / "deploy" / "astro-jobs-worker.service"
UNIT_VENV = "/opt/astro-jobs/venv"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def unit_here(tmp_path):
    """The unit with this test venv in place of /opt/astro-jobs/venv."""
    text = UNIT.read_text()
    assert f"ExecStart={UNIT_VENV}/bin/huey_consumer astro_jobs.consumer.huey " in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(UNIT_VENV, sys.prefix))
    return copy


def test_systemd_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run scripts/install-deps.sh --test"
    proc = subprocess.run([analyze, "verify", str(unit_here(tmp_path))], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr


def test_the_units_command_runs_jobs_from_anywhere(env, images, tmp_path):
    text = unit_here(tmp_path).read_text()
    command = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
    argv = [arg.replace("${ASTRO_JOBS_WORKERS}", "2") for arg in shlex.split(command)]
    assert argv[0] == str(BIN / "huey_consumer")
    env.jobs_dir.mkdir()
    unit_env = dict(env, PATH=SYSTEMD_PATH)
    unit_env.pop("ASTRO_JOBS_BIN")
    log = open(tmp_path / "unit.log", "wb")
    # cwd "/": nothing may depend on the checkout being the working directory.
    proc = subprocess.Popen(argv, cwd="/", env=unit_env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        job_id = env.submit(images("ok"))
        assert env.wait(job_id, timeout=30)["state"] == "done", \
            (tmp_path / "unit.log").read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        log.close()
