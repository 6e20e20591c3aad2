"""Wrong API keys, throttled per client address.

Each address holds a small bucket of tries that refills with time; a wrong
key takes one. With the bucket empty every login from that address is
refused (the right key too: otherwise the throttle would still answer
guesses) until one try has grown back, a few seconds, so a guesser gets a
handful of tries a minute and the key's holder waits seconds, not hours.
"""
import threading
import time

from ..errors import BadInput

BURST = 5            # wrong keys in a row before the throttle bites
REFILL_SECONDS = 3.0  # one more try per this long
MAX_ADDRESSES = 10_000


class Throttled(BadInput):
    """Too many wrong keys from one address (HTTP 429)."""

    code = "too_many_attempts"


class Buckets:
    """Tries left per address, refilled with time."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._tries = {}  # address -> (tries left, when counted)

    def _left(self, address, now):
        tries, when = self._tries.get(address, (BURST, now))
        return min(BURST, tries + (now - when) / REFILL_SECONDS)

    def check(self, address):
        """Throttled if ``address`` has no try left."""
        with self._lock:
            now = self._clock()
            left = self._left(address, now)
        if left < 1:
            wait = (1 - left) * REFILL_SECONDS
            raise Throttled(f"too many wrong API keys from this address: try again in "
                            f"{wait:.0f} s", retry_after=max(1, round(wait)))

    def failed(self, address):
        """A wrong key from ``address``: one try fewer."""
        with self._lock:
            now = self._clock()
            self._tries[address] = (self._left(address, now) - 1, now)
            if len(self._tries) > MAX_ADDRESSES:  # forget the longest-quiet addresses
                for old in sorted(self._tries, key=lambda a: self._tries[a][1])[:1000]:
                    del self._tries[old]


BUCKETS = Buckets()
