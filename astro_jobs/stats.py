"""The queue at a glance: counts by state, the oldest queued job, recent run
times and error share, and the consumers.

Cheap with a hundred thousand jobs: finished jobs never change (a retry
changes status.json, which moves the folder's mtime), so their few figures
are kept in a small index (jobdir's ``.stats-index.json``) under the folder's
mtime, and only folders that are not finished, or whose mtime moved, are
read: each at most once. A missing or unreadable index is rebuilt from the
folders; pruned jobs leave it at the next run.
"""
import time

from . import jobdir
from .errors import AstroJobsError
from .states import TERMINAL, State
from .timefmt import iso, parse_iso

WINDOWS = (("5m", 300), ("60m", 3600))
INDEX_VERSION = 1
# A folder is indexed only once its mtime is this old: a change in the same
# clock tick as the reading would otherwise keep the mtime and go unseen.
SETTLE_SECONDS = 10
STATES = [state.value for state in State]


def _epoch(stamp):
    try:
        return parse_iso(stamp) if stamp else None
    except (TypeError, ValueError):
        return None


def summary(status):
    """What stats needs of one status: [state, queued since, started, finished, job's
    worker instance] (times in epoch seconds), or None if it is not a status."""
    if not isinstance(status, dict) or status.get("state") not in STATES:
        return None
    worker = status.get("worker") if isinstance(status.get("worker"), dict) else {}
    return [status["state"], _epoch(status.get("queued_at") or status.get("created_at")),
            _epoch(status.get("started_at")), _epoch(status.get("finished_at")),
            worker.get("instance")]


def _load_index():
    index = jobdir.read_stats_index()
    if isinstance(index, dict) and index.get("version") == INDEX_VERSION \
            and isinstance(index.get("jobs"), dict):
        return index["jobs"]
    return {}


def scan(now):
    """(summaries of every readable job, number of corrupt ones, ids of processing jobs
    by worker instance), the index refreshed."""
    cached = _load_index()
    fresh, summaries, corrupt, changed, running = {}, [], 0, False, {}
    settled_before = (now - SETTLE_SECONDS) * 1e9
    for job_id, mtime in jobdir.job_stamps():
        entry = cached.get(job_id)
        if entry is not None and entry[0] == mtime:
            fresh[job_id] = entry
            summaries.append(entry[1:])
            continue
        try:
            found = summary(jobdir.read_status(jobdir.Job(job_id)))
        except AstroJobsError as exc:
            found = None if exc.code == "corrupt_status" else False
        if found is False:  # pruned or half made while we looked: not a job any more
            continue
        if found is None:
            corrupt += 1
            continue
        summaries.append(found)
        if found[0] == State.PROCESSING:
            running.setdefault(found[4], []).append(job_id)
        if found[0] in TERMINAL and mtime < settled_before:
            fresh[job_id] = [mtime, *found]
            changed = True
    if changed or len(fresh) != len(cached):
        jobdir.write_stats_index({"version": INDEX_VERSION, "jobs": fresh})
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
        "error_share": round(counts["error"] / len(ended), 4) if ended else None,
        "run_seconds": {"count": len(runs), "sum": round(sum(runs), 3),
                        "median": percentile(runs, 0.5), "p95": percentile(runs, 0.95)},
    }


def oldest_queued(summaries, now):
    times = [s[1] for s in summaries if s[0] == State.QUEUED and s[1] is not None]
    return round(max(0.0, now - min(times)), 3) if times else None


def consumers(running):
    """The consumer registry, each with the ids of the jobs it is running now."""
    try:
        from .consumers import list_consumers
    except ImportError:  # the registry is not in this build
        return None
    return [dict(record, running=sorted(running.get(record.get("instance"), [])))
            for record in list_consumers()]


def collect(now=None):
    """Every figure of ``stats`` as one dict."""
    now = time.time() if now is None else now
    summaries, corrupt, running = scan(now)
    counts = dict.fromkeys(STATES, 0)
    for s in summaries:
        counts[s[0]] += 1
    found = consumers(running)
    return {
        "generated_at": iso(now),
        "jobs": dict(counts, corrupt=corrupt),
        "total": len(summaries) + corrupt,
        "oldest_queued_seconds": oldest_queued(summaries, now),
        "recent": {name: window(summaries, now, seconds) for name, seconds in WINDOWS},
        "consumers": found,
        "consumers_alive": None if found is None else sum(1 for c in found if c["alive"]),
    }
