"""store/statsindex.py: the files behind stats' index, on real files."""
import os

import pytest

from astro_jobs.store import statsindex


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path))
    return tmp_path


def test_the_index_round_trips_and_a_broken_one_reads_as_none(jobs):
    assert statsindex.read() is None
    assert statsindex.write({"version": 3, "ids": ["a"]}) is True
    assert statsindex.read() == {"version": 3, "ids": ["a"]}
    (jobs / ".stats-index.json").write_text("{half")
    assert statsindex.read() is None


def test_an_unwritable_index_is_false_not_an_error(jobs):
    (jobs / ".stats-index.json").mkdir()
    assert statsindex.write({"version": 3}) is False


def test_reopened_ids_are_read_from_an_offset_whole_lines_only(jobs):
    assert statsindex.read_reopened(0) == (set(), 0)
    statsindex.note_reopened("a" * 32)
    statsindex.note_reopened("b" * 32)
    ids, offset = statsindex.read_reopened(0)
    assert ids == {"a" * 32, "b" * 32} and offset == 66
    with open(jobs / ".stats-reopened", "ab") as handle:
        handle.write(b"c" * 10)  # a line being written counts next time
    assert statsindex.read_reopened(offset) == (set(), 66)
    with open(jobs / ".stats-reopened", "ab") as handle:
        handle.write(b"c" * 22 + b"\n")
    assert statsindex.read_reopened(offset) == ({"c" * 32}, 99)
    assert os.stat(jobs / ".stats-reopened").st_mode & 0o007 == 0
