"""store/tasklog.py: task.log appended by the runner, read whole, by its tail,
and from an offset, on real files."""
import pytest

from astro_jobs.store import tasklog
from astro_jobs.store.layout import Job

JOB_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def job(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path))
    found = Job(JOB_ID)
    found.path.mkdir()
    return found


def test_append_and_read(job):
    assert tasklog.read(job) == ""
    for n in range(5):
        assert tasklog.append(job, f"line {n}")
    assert tasklog.read(job) == "".join(f"line {n}\n" for n in range(5))
    assert tasklog.read(job, tail=2) == "line 3\nline 4\n"
    assert tasklog.read(job, tail=0) == ""
    assert job.log_path.stat().st_mode & 0o007 == 0  # never world-readable


def test_tail_of_a_log_larger_than_one_block(job):
    tasklog.append(job, "x" * 200_000)
    tasklog.append(job, "last")
    assert tasklog.read(job, tail=1) == "last\n"


def test_read_from_an_offset_follows_growth(job):
    data, offset = tasklog.read_from(job, 0)
    assert (data, offset) == (b"", 0)
    tasklog.append(job, "one")
    data, offset = tasklog.read_from(job, offset)
    assert (data, offset) == (b"one\n", 4)
    tasklog.append(job, "two")
    assert tasklog.read_from(job, offset) == (b"two\n", 8)
    assert tasklog.read_from(job, 0, tail=1) == (b"two\n", 8)


def test_a_planted_link_reads_as_no_log(job, tmp_path):
    (tmp_path / "secret").write_text("not yours\n")
    job.log_path.symlink_to(tmp_path / "secret")
    assert tasklog.read(job) == ""
    assert tasklog.read_from(job, 0) == (b"", 0)


def test_an_unwritable_log_is_false_not_an_error(job):
    job.log_path.mkdir()  # a folder where the log should be
    assert tasklog.append(job, "line") is False


def test_run_open_sees_whether_the_last_attempt_wrote_its_end(job):
    assert tasklog.run_open(job) is False
    tasklog.append(job, "--- 2026-01-01T00:00:00.000Z attempt 1 on node pid 1: x")
    tasklog.append(job, "extractor output")
    assert tasklog.run_open(job) is True
    tasklog.append(job, "--- 2026-01-01T00:00:01.000Z extractor exited with code 0")
    assert tasklog.run_open(job) is False
