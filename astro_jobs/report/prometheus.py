"""``stats`` in Prometheus' text exposition format (version 0.0.4), for
node_exporter's textfile collector or any scraper. Names start ``astro_jobs_``.
"""
import math

PREFIX = "astro_jobs_"


def _value(number):
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return "NaN"
    if isinstance(number, bool):
        return "1" if number else "0"
    return repr(float(number)) if isinstance(number, float) else str(int(number))


def _escape(text):
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels):
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


class Exposition:
    """Metric families written in order, each with its HELP and TYPE once."""

    def __init__(self):
        self.lines = []

    def family(self, name, kind, help_text, samples):
        """``samples``: (suffix, labels, value) triples of one metric family."""
        self.lines.append(f"# HELP {PREFIX}{name} {help_text}")
        self.lines.append(f"# TYPE {PREFIX}{name} {kind}")
        for suffix, labels, value in samples:
            self.lines.append(f"{PREFIX}{name}{suffix}{_labels(labels)} {_value(value)}")

    def text(self):
        return "\n".join(self.lines) + "\n"


def _run_seconds(recent):
    samples = []
    for window, figures in recent.items():
        runs = figures["run_seconds"]
        for quantile, key in (("0.5", "median"), ("0.95", "p95")):
            samples.append(("", {"window": window, "quantile": quantile}, runs[key]))
        samples.append(("_sum", {"window": window}, runs["sum"]))
        samples.append(("_count", {"window": window}, runs["count"]))
    return samples


def _consumer_families(out, consumers):
    out.family("consumers_alive", "gauge", "Consumers that sent a heartbeat lately.",
               [("", {}, sum(1 for c in consumers if c.get("alive")))])
    out.family("consumers", "gauge", "Consumers in the registry, alive or not.",
               [("", {}, len(consumers))])
    out.family("consumer_up", "gauge", "1 if this consumer is alive, else 0.",
               [("", {"node": c.get("node"), "pid": c.get("pid")}, bool(c.get("alive")))
                for c in consumers])
    out.family("consumer_running_jobs", "gauge", "Jobs this consumer is running.",
               [("", {"node": c.get("node"), "pid": c.get("pid")}, len(c.get("running") or []))
                for c in consumers])


def render(stats):
    """The text of one scrape, from the dict ``stats.collect`` returns."""
    out = Exposition()
    out.family("jobs", "gauge", "Jobs by state (corrupt: status.json unreadable).",
               [("", {"state": state}, count) for state, count in stats["jobs"].items()])
    out.family("done_jobs", "gauge", "Done jobs by outcome: solved, or done with no solution.",
               [("", {"outcome": outcome}, count) for outcome, count in stats["done"].items()])
    out.family("oldest_queued_seconds", "gauge",
               "Age of the oldest queued job (0 with none queued).",
               [("", {}, stats["oldest_queued_seconds"] or 0.0)])
    recent = stats["recent"]
    out.family("finished_jobs", "gauge", "Jobs that ended in the window, by state.",
               [("", {"window": window, "state": state}, figures[state])
                for window, figures in recent.items()
                for state in ("done", "error", "cancelled")])
    out.family("finished_done_jobs", "gauge",
               "Done jobs that ended in the window, by outcome (solved or unsolved).",
               [("", {"window": window, "outcome": outcome}, figures[outcome])
                for window, figures in recent.items() for outcome in ("solved", "unsolved")])
    out.family("error_ratio", "gauge", "Share of the window's finished jobs that failed.",
               [("", {"window": window}, figures["error_share"])
                for window, figures in recent.items()])
    out.family("run_seconds", "summary",
               "Run time (started to finished) of jobs that ended in the window.",
               _run_seconds(recent))
    _consumer_families(out, stats["consumers"] or [])
    return out.text()
