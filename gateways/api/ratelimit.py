"""Per-client request rate limits: one token bucket per key, in this process's memory.

``API_RATE_LIMIT`` is the sustained rate in requests per minute; a bucket holds ten seconds' worth, so a
client may burst briefly above the rate but not for long. Each API replica limits on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

BURST_SECONDS = 10.0
MAX_KEYS = 50_000


class TokenBucketLimiter:
    """``acquire(key)`` spends one token of ``key``'s bucket or says how long to wait for one."""

    def __init__(self, per_minute: int, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.rate_per_s = per_minute / 60.0
        self.capacity = burst if burst is not None else max(1.0, self.rate_per_s * BURST_SECONDS)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0.0 when the request may proceed, else the seconds until the bucket holds a token again."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > MAX_KEYS:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s

    def _forget_full(self, now: float) -> None:
        # A full bucket carries no information: dropping it bounds memory without changing any answer.
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.rate_per_s >= self.capacity:
                del self._buckets[key]


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, never 0 (a client retrying at once would be refused again)."""
    return str(max(1, math.ceil(wait_s)))
