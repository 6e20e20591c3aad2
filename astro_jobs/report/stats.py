"""The queue at a glance: counts by state, the oldest queued job, recent run
times and error share, and the consumers.

Cheap with a hundred thousand jobs: a finished job never changes unless it
is retried, so its few figures are kept in a small index (store/statsindex:
``.stats-index.json``) and only the folders of unfinished jobs are read,
each at most once. Every change from a finished state is noted in
``.stats-reopened`` before it is made (store/jobdir.transition); the index
records how much of that list it has seen, and the jobs noted since are
read again. A missing or unreadable index is rebuilt from the folders;
pruned jobs leave it at the next run.
"""
import time

from ..errors import AstroJobsError
from ..store import consumers as registry
from ..store import jobdir, record, statsindex
from ..store.layout import Job
from ..store.states import TERMINAL, State
from ..timefmt import iso, parse_iso

WINDOWS = (("5m", 300), ("60m", 3600))
# 4: the "solved" column (a done job solved or not).
INDEX_VERSION = 4
STATES = [state.value for state in State]


def _epoch(stamp):
    try:
        return parse_iso(stamp) if stamp else None
    except (TypeError, ValueError):
        return None


def summary(status):
    """What stats needs of one status: (state, queued since, started, finished, its
    worker's instance, solved), times in epoch seconds; None if it is not a status.
    ``solved`` is True or False for a done job (None when its status predates the
    field: then ``_read`` asks the result), else None."""
    if not isinstance(status, dict) or status.get("state") not in STATES:
        return None
    state = status["state"]
    if state == State.QUEUED:
        return state, _epoch(status.get("queued_at") or status.get("created_at")), None, \
            None, None, None
    solved = status.get("solved") if state == State.DONE else None
    return state, None, _epoch(status.get("started_at")), _epoch(status.get("finished_at")), \
        record.instance(status), solved if isinstance(solved, bool) else None


class Index:
    """Finished jobs' figures by job id, in columns (quick to load and save)."""

    COLUMNS = ("ids", "states", "started", "finished", "solved")

    def __init__(self, data=None):
        data = data if self._valid(data) else dict.fromkeys(self.COLUMNS, [])
        self.columns = [data[name] for name in self.COLUMNS]
        self.position = {job_id: n for n, job_id in enumerate(data["ids"])}
        self.reopened, self.offset = statsindex.read_reopened(data.get("reopened_offset", 0))
        self.read_from = data.get("reopened_offset", 0)
        self.kept = []  # positions of entries still true
        self.added = []  # rows of new entries

    @classmethod
    def _valid(cls, data):
        return isinstance(data, dict) and data.get("version") == INDEX_VERSION and \
            isinstance(data.get("reopened_offset"), int) and all(
                isinstance(data.get(name), list) for name in cls.COLUMNS) and len(
                {len(data[name]) for name in cls.COLUMNS}) == 1

    def cached(self, job_id):
        """The summary of ``job_id`` if indexed and not reopened since, else None."""
        n = self.position.get(job_id)
        if n is None or job_id in self.reopened:
            return None
        self.kept.append(n)
        _, states, started, finished, solved = self.columns
        return states[n], None, started[n], finished[n], None, solved[n]

    def add(self, job_id, found):
        # A job noted as reopened in this run may have been read just before
        # its change was written: the next run reads it again.
        if job_id not in self.reopened:
            self.added.append((job_id, found[0], found[2], found[3], found[5]))

    def save(self):
        """Write the kept and new entries if anything changed (pruned jobs leave)."""
        if not self.added and len(self.kept) == len(self.position) \
                and self.offset == self.read_from:
            return
        rows = list(zip(*self.added)) if self.added else [()] * len(self.COLUMNS)
        data = {name: [column[n] for n in self.kept] + list(new)
                for name, column, new in zip(self.COLUMNS, self.columns, rows)}
        statsindex.write(dict(data, version=INDEX_VERSION, reopened_offset=self.offset))


def _read(job_id):
    """A job's summary; None if its status is corrupt, False if it is gone."""
    try:
        found = summary(jobdir.read_status(job_id))
    except AstroJobsError as exc:
        return None if exc.code == "corrupt_status" else False
    if found is not None and found[0] == State.DONE and found[5] is None:
        # Done before status carried "solved": the result says (read once, then indexed).
        found = found[:5] + (jobdir.result_solved(Job(job_id)),)
    return found


def scan():
    """(summaries of every readable job, number of corrupt ones, ids of processing jobs
    by worker instance), the index refreshed."""
    index = Index(statsindex.read())
    summaries, corrupt, running = [], 0, {}
    for job_id in jobdir.job_ids():
        found = index.cached(job_id)
        if found is None:
            found = _read(job_id)
            if found is None:
                corrupt += 1
            if not found:  # corrupt, or pruned while we looked
                continue
            if found[0] == State.PROCESSING:
                running.setdefault(found[4], []).append(job_id)
            if found[0] in TERMINAL:
                index.add(job_id, found)
        summaries.append(found)
    index.save()
    return summaries, corrupt, running


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * fraction // 1))
    return sorted_values[int(rank) - 1]


def window(summaries, now, seconds):
    """Jobs that finished in the last ``seconds``: counts, run times, error share."""
    ended = [s for s in summaries if s[0] in TERMINAL and s[3] is not None
             and now - seconds <= s[3] <= now]
    runs = sorted(round(s[3] - s[2], 3) for s in ended
                  if s[2] is not None and s[0] != State.CANCELLED)
    counts = {state.value: sum(1 for s in ended if s[0] == state)
              for state in (State.DONE, State.ERROR, State.CANCELLED)}
    return {
        "finished": len(ended),
        **counts,
        **done_outcomes(ended),
        "error_share": round(counts["error"] / len(ended), 4) if ended else None,
        "run_seconds": {"count": len(runs), "sum": round(sum(runs), 3),
                        "median": percentile(runs, 0.5), "p95": percentile(runs, 0.95)},
    }


def per_hour(summaries, now, hours):
    """Jobs that ended in each of the last ``hours`` clock hours, oldest first: the
    hour's start and its solved, unsolved, error and cancelled counts."""
    start = (now // 3600 - hours + 1) * 3600
    bins = [dict(hour=iso(start + 3600 * n), solved=0, unsolved=0, error=0, cancelled=0)
            for n in range(hours)]
    for s in summaries:
        if s[0] in TERMINAL and s[3] is not None and start <= s[3] <= now:
            kind = s[0] if s[0] != State.DONE else "solved" if s[5] is True else "unsolved"
            bins[int((s[3] - start) // 3600)][kind] += 1
    return bins


def activity(now=None, hours=24):
    """:func:`per_hour` over every job, from the index (see :func:`scan`)."""
    now = time.time() if now is None else now
    return per_hour(scan()[0], now, hours)


def done_outcomes(summaries):
    """Done jobs split: ``solved`` (a calibration) and ``unsolved`` (done, nothing found)."""
    done = [s[5] for s in summaries if s[0] == State.DONE]
    return {"solved": sum(1 for solved in done if solved is True),
            "unsolved": sum(1 for solved in done if solved is not True)}


def oldest_queued(summaries, now):
    times = [s[1] for s in summaries if s[0] == State.QUEUED and s[1] is not None]
    return round(max(0.0, now - min(times)), 3) if times else None


def consumers(running):
    """The consumer registry, each with the ids of the jobs it is running now."""
    return [dict(entry, running=sorted(running.get(entry.get("instance"), [])))
            for entry in registry.list_consumers()]


def collect(now=None):
    """Every figure of ``stats`` as one dict."""
    now = time.time() if now is None else now
    summaries, corrupt, running = scan()
    counts = dict.fromkeys(STATES, 0)
    for s in summaries:
        counts[s[0]] += 1
    found = consumers(running)
    return {
        "generated_at": iso(now),
        "jobs": dict(counts, corrupt=corrupt),
        "done": done_outcomes(summaries),
        "total": len(summaries) + corrupt,
        "oldest_queued_seconds": oldest_queued(summaries, now),
        "recent": {name: window(summaries, now, seconds) for name, seconds in WINDOWS},
        "consumers": found,
        "consumers_alive": None if found is None else sum(1 for c in found if c["alive"]),
    }
