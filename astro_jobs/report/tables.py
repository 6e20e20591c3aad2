"""``--format table``: what ``list``, ``stats`` and ``doctor`` show a person at
a terminal, from the same data their JSON carries.

Plain text only; every cell comes from job folders (file names, error
sentences, a consumer's node name) and is made printable on one line first,
so no byte from outside can move the cursor or colour the terminal.
"""
import time

from ..timefmt import parse_iso

NOTE_WIDTH = 60
FILE_WIDTH = 32


def cell(value, width=None):
    """One printable line: control characters shown as '?', cut to ``width``."""
    text = "-" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if width is not None and len(text) > width:
        text = text[:width - 3] + "..."
    return text


def render(headers, rows):
    """Columns padded to their widest cell, two spaces apart; the last one unpadded."""
    rows = [[cell(value) for value in row] for row in rows]
    widths = [max(len(row[n]) for row in [headers, *rows]) for n in range(len(headers))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip()
             for row in [headers, *rows]]
    return "\n".join(lines) + "\n"


def duration(seconds):
    """``42s``, ``12m``, ``3h``, ``5d``: coarse, for a column."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


def _epoch(stamp):
    try:
        return parse_iso(stamp)
    except (TypeError, ValueError, AttributeError):
        return None


def _since(stamp, until):
    start = _epoch(stamp)
    return None if start is None or until is None else max(0.0, until - start)


def outcome(status):
    """``solved``, ``not solved`` for a done job; else blank."""
    if status.get("state") != "done" or "solved" not in status:
        return "-"
    return {True: "solved", False: "not solved"}.get(status["solved"], "-")


def job_note(status):
    """The error sentence, the stage at work or the attempt: the row's last word."""
    error = str(status.get("error") or "").strip()
    if error:
        return cell(error.splitlines()[0], NOTE_WIDTH)
    if status.get("stage"):
        return cell(status["stage"], NOTE_WIDTH)
    attempts = status.get("attempts")
    return f"attempt {attempts}" if isinstance(attempts, int) and attempts > 1 else ""


def job_row(status, now):
    created, finished = status.get("created_at"), status.get("finished_at")
    run = None
    if status.get("state") != "queued":
        run = _since(status.get("started_at"), _epoch(finished) if finished else now)
    source = status.get("input") if isinstance(status.get("input"), dict) else {}
    return [status.get("job_id"), status.get("state"), outcome(status),
            duration(_since(created, now)), duration(run),
            cell(source.get("file"), FILE_WIDTH), job_note(status)]


def jobs_table(jobs, now=None):
    """``list --format table``: one row per job, newest first as given."""
    now = time.time() if now is None else now
    headers = ["JOB", "STATE", "OUTCOME", "AGE", "RUN", "FILE", "NOTE"]
    return render(headers, [job_row(status, now) for status in jobs])


def _count(value):
    return "-" if value is None else str(value)


def stats_table(figures):
    """``stats --format table``: jobs by state, the last 5 and 60 minutes, consumers."""
    jobs, done = figures.get("jobs", {}), figures.get("done", {})
    states = [[name, _count(jobs.get(name))] for name in
              ("queued", "processing", "done", "error", "cancelled", "corrupt")]
    states[2][1] += f" ({_count(done.get('solved'))} solved, " \
                    f"{_count(done.get('unsolved'))} not solved)"
    parts = [render(["STATE", "JOBS"], states + [["total", _count(figures.get("total"))]]),
             f"oldest queued: {duration(figures.get('oldest_queued_seconds'))}\n",
             render(["LAST", "FINISHED", "SOLVED", "NOT SOLVED", "ERROR", "CANCELLED",
                     "ERROR SHARE", "MEDIAN RUN", "P95 RUN"],
                    [_window_row(name, window) for name, window in
                     (figures.get("recent") or {}).items()]),
             consumers_table(figures.get("consumers"), figures.get("consumers_alive"))]
    return "\n".join(parts)


def _window_row(name, window):
    runs = window.get("run_seconds") or {}
    share = window.get("error_share")
    return [name, window.get("finished"), window.get("solved"), window.get("unsolved"),
            window.get("error"), window.get("cancelled"),
            "-" if share is None else f"{share:.0%}",
            duration(runs.get("median")), duration(runs.get("p95"))]


def consumers_table(consumers, alive):
    if consumers is None:
        return "consumers: unknown\n"
    if not consumers:
        return "consumers: none registered: queued jobs wait until one starts\n"
    rows = [[c.get("node"), c.get("pid"), c.get("workers"),
             "yes" if c.get("alive") else "no", c.get("last_seen"),
             " ".join(job_id[:8] for job_id in c.get("running") or []) or "-"]
            for c in consumers]
    return f"consumers: {alive} alive\n" + render(
        ["NODE", "PID", "WORKERS", "ALIVE", "LAST SEEN", "RUNNING"], rows)


def doctor_table(checks):
    """``doctor --format table``: each check, passed or not, and its detail."""
    rows = [[check["name"], "ok" if check["ok"] else "FAILED", check["detail"]]
            for check in checks]
    return render(["CHECK", "RESULT", "DETAIL"], rows)
