"""Tell the world a job ended: the command hook and the webhook, from the consumer.

Every transition to a terminal state marks the job ``finish_event:
{"pending": true}`` (store/record.apply), whoever made it: a worker, a
cancel from the CLI, the recovery sweep giving up. A consumer reports it:
the worker that finished the job offers it here at once, and the sweep
offers every pending one it meets (a cancel made by the CLI, a delivery a
crashed consumer left half done). Reporting runs on this module's own
threads, never on a worker's, so a slow receiver or hook only delays other
reports.

A consumer takes an event with a lease in status.json (``owner``,
``lease_until``) renewed at each step; another consumer takes it over once
the lease has run out, so a crash costs a repeat (at-least-once), never a
loss. Receivers de-duplicate on ``job_id`` and ``state``.
"""
import heapq
import json
import logging
import threading
import time

from .. import config
from ..errors import AstroJobsError
from ..identity import INSTANCE
from ..store import jobdir, record
from ..store.layout import Job
from ..store.states import TERMINAL
from ..timefmt import iso, now_iso, parse_iso
from . import hook, webhook

logger = logging.getLogger("astro_jobs.notify.events")
THREADS = 4


def backoff(failed_attempts):
    """Seconds to wait after the n-th failed delivery: doubling from the base."""
    return config.notify_backoff_seconds() * 2 ** (failed_attempts - 1)


class Event:
    """One job's finish event, handled by this consumer while it holds the lease."""

    def __init__(self, job_id, instance):
        self.job = Job(job_id)
        self.instance = instance
        self.attempts = None  # the job attempt whose end this reports

    def owned(self, status):
        event = record.event(status)
        return (status["state"] in TERMINAL and event.get("pending")
                and event.get("owner") == self.instance
                and status.get("attempts") == self.attempts)

    def claimable(self, status, now):
        event = record.event(status)
        if status["state"] not in TERMINAL or not event.get("pending"):
            return False
        owner, until = event.get("owner"), event.get("lease_until")
        return owner in (None, self.instance) or not until or parse_iso(until) < now

    def lease(self, wait=0.0):
        """The event's lease fields: ours for ``wait`` s plus one step of work."""
        work = 2 * config.notify_timeout_seconds()
        if config.on_finish():
            work += config.on_finish_timeout_seconds()
        return {"owner": self.instance,
                "lease_until": iso(time.time() + wait + work + config.stale_after_seconds())}

    def claim(self):
        """Take (or renew) the lease; the status, or None if the event is not ours."""
        now = time.time()
        current = jobdir.read_status(self.job)
        if not self.claimable(current, now):
            return None
        wait = max(0.0, seconds_until(record.webhook(current).get("next_attempt_at")))
        status = jobdir.update(
            self.job, lambda s: self.claimable(s, now) and s["attempts"] == current["attempts"],
            record.with_event(current, **self.lease(wait)))
        if status is not None:
            self.attempts = status["attempts"]
        return status

    def settle_at_once(self):
        """Settle an event with nothing to do (no hook, no webhook) in one write."""
        now = time.time()
        settled = jobdir.update(
            self.job, lambda s: self.claimable(s, now) and not needs_delivery(s)
            and "hook" not in record.event(s),
            {"finish_event": record.FinishEvent(pending=False, hook=None, settled_at=iso(now))})
        return settled is not None

    def write(self, changes):
        """Write ``changes`` while we still own the event; the new status, or None."""
        return jobdir.update(self.job, self.owned, changes)

    def handle(self):
        """One step: run the hook, make one delivery attempt; seconds until the
        next step, or None when the event is settled (or not ours)."""
        if not config.on_finish() and self.settle_at_once():
            return None
        status = self.claim()
        if status is None:
            return None
        wait = seconds_until(record.webhook(status).get("next_attempt_at"))
        if wait > 0:  # taken over from a consumer that had scheduled a later attempt
            return wait
        if "hook" not in record.event(status):
            status = self.run_hook(status)
            if status is None:
                return None
        delay = self.deliver(status) if needs_delivery(status) else None
        if delay is None:
            self.write(record.with_event(status, pending=False, owner=None, lease_until=None,
                                          settled_at=now_iso()))
        return delay

    def run_hook(self, status):
        program = config.on_finish()
        outcome = hook.run(self.job, program, status) if program else None
        return self.write(record.with_event(status, hook=outcome))

    def deliver(self, status):
        """One POST; seconds until the next attempt, or None if there will be none."""
        attempt = record.webhook(status).get("attempts", 0) + 1
        body = json.dumps(final_status(status)).encode()
        outcome = webhook.post(record.webhook(status)["url"], body, config.webhook_secret(),
                               config.notify_timeout_seconds(), attempt)
        again = (not outcome.delivered and outcome.retryable
                 and attempt < config.notify_attempts())
        delay = backoff(attempt) if again else None
        tried = {"attempts": attempt, "next_attempt_at": None}
        if outcome.delivered:
            tried.update(delivered_at=now_iso(), last_error=None)
        else:
            tried.update(last_error=outcome.error,
                         next_attempt_at=iso(time.time() + delay) if again else None)
        changes = record.with_webhook(status, **tried)
        changes.update(record.with_event(status, **self.lease(delay or 0.0)))
        if self.write(changes) is None:
            return None
        logger.info("job %s: webhook attempt %d: %s", self.job.job_id, attempt,
                    "delivered" if outcome.delivered else outcome.error)
        return delay


def needs_delivery(status):
    notify = record.webhook(status)
    return bool(notify.get("url")) and not notify.get("delivered_at") and (
        notify.get("attempts", 0) == 0 or notify.get("next_attempt_at") is not None)


def seconds_until(stamp):
    return parse_iso(stamp) - time.time() if stamp else 0.0


def final_status(status):
    """The job's status as ``status`` shows it, without the event's bookkeeping."""
    return {key: value for key, value in status.items() if key != "finish_event"}


class Dispatcher:
    """Finish events waiting in this process, each handled on one of a few threads."""

    def __init__(self, instance, threads=THREADS):
        self.instance = instance
        self.threads = threads
        self._cond = threading.Condition()
        self._due = []  # heap of (monotonic time, job id)
        self._known = set()
        self._started = False

    def offer(self, job_id, delay=0.0):
        """Report this job's finish event when it is due; a job already here is kept once."""
        with self._cond:
            if job_id in self._known:
                return
            self._known.add(job_id)
            heapq.heappush(self._due, (time.monotonic() + delay, job_id))
            self._start()
            self._cond.notify()

    def busy(self):
        with self._cond:
            return len(self._known)

    def _start(self):
        if not self._started:
            self._started = True
            for number in range(self.threads):
                threading.Thread(target=self._loop, name=f"astro-jobs-notify-{number}",
                                 daemon=True).start()

    def _next(self):
        with self._cond:
            while True:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    return heapq.heappop(self._due)[1]
                self._cond.wait(self._due[0][0] - now if self._due else None)

    def _loop(self):
        while True:
            job_id = self._next()
            delay = None
            try:
                delay = Event(job_id, self.instance).handle()
            except AstroJobsError as exc:  # the job vanished, JOBS_DIR failing
                logger.warning("job %s: finish event: %s", job_id, exc.message)
            except Exception:  # a report must never kill its thread
                logger.exception("job %s: finish event failed", job_id)
            with self._cond:
                if delay is None:
                    self._known.discard(job_id)
                else:
                    heapq.heappush(self._due, (time.monotonic() + delay, job_id))
                    self._cond.notify()


_dispatcher = None
_dispatcher_lock = threading.Lock()


def dispatcher():
    """This consumer's Dispatcher (created on first use)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher(INSTANCE)
        return _dispatcher


def offer(job_id):
    dispatcher().offer(job_id)
