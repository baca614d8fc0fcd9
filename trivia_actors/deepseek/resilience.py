"""Resilience around DeepSeek, as plain thread-safe code tested without threads: a circuit breaker, retries
with backoff and jitter within a deadline, and a per-player daily generation quota."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable

import attrs

from trivia_actors.deepseek.metrics import BREAKER_OPEN, CALLS, LATENCY, TOKENS
from trivia_actors.deepseek.ports import ChatClient, ChatError, ChatReply, ChatRequest

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown_s`` lets one probe through.

    A successful probe closes it, a failed one opens it for another cooldown. Thread-safe.
    """

    def __init__(self, *, threshold: int = 5, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "open" if self._clock() - self._opened_at < self.cooldown_s else "half_open"

    def rejects(self) -> bool:
        """True while a call would be refused: open and cooling down, or half-open with a probe out."""
        with self._lock:
            if self._opened_at is None:
                return False
            now = self._clock()
            return now - self._opened_at < self.cooldown_s or self._probe_out(now)

    def _probe_out(self, now: float) -> bool:
        # A probe that never reported (its thread died) must not keep the breaker half-open forever.
        return self._probe_started is not None and now - self._probe_started < self.cooldown_s

    def allow(self) -> bool:
        """May a call go out now? In half-open state only the first caller (the probe) may."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now - self._opened_at < self.cooldown_s or self._probe_out(now):
                return False
            self._probe_started = now
            return True

    def record_success(self) -> None:
        """A call succeeded: close."""
        with self._lock:
            if self._opened_at is not None:
                logger.info("deepseek: circuit breaker closed")
            self._failures = 0
            self._opened_at = None
            self._probe_started = None
            BREAKER_OPEN.set(0)

    def record_failure(self) -> None:
        """A call failed: count it; open at the threshold, re-open after a failed probe."""
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:
                self._opened_at = now
                self._probe_started = None
                return
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = now
                BREAKER_OPEN.set(1)
                logger.warning("deepseek: circuit breaker opened after %d consecutive failures; probe in %.0f s",
                               self._failures, self.cooldown_s)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter for retryable failures (429, 5xx, timeouts, connection errors)."""

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, retry_after_s: float | None, jitter: float) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based); ``jitter`` in [0, 1).

        The backoff is spread over [50%, 100%] of its exponential value so that workers that failed together
        do not retry together; a server's Retry-After is a floor, never shortened by the jitter.
        """
        exponential: float = self.base_delay_s * 2.0 ** (attempt - 1)
        backoff = min(self.max_delay_s, exponential) * (0.5 + jitter / 2)
        if retry_after_s is not None:
            return max(retry_after_s, backoff)
        return backoff


# An attempt with less time than this left is not worth starting.
MIN_ATTEMPT_S = 0.05


def call_with_retries(client: ChatClient, request: ChatRequest, *, breaker: CircuitBreaker, policy: RetryPolicy,
                      deadline: float, timeout_s: float, clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep,
                      jitter: Callable[[], float] = random.random) -> ChatReply:
    """One chat completion, retried within ``deadline`` (a ``clock`` time) while the breaker allows.

    Each attempt's timeout is ``timeout_s`` or the time left, whichever is shorter. A wait that would end past
    the deadline is not started: the caller's fallback is better served by failing now.
    """
    purpose = request.purpose
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - clock()
        if remaining < MIN_ATTEMPT_S:
            raise ChatError("deadline", retryable=False)
        if not breaker.allow():
            raise ChatError("breaker_open", retryable=False)
        started = clock()
        try:
            reply = client.complete(request, timeout_s=min(timeout_s, remaining))
        except ChatError as exc:
            breaker.record_failure()
            CALLS.labels(purpose, exc.kind).inc()
            LATENCY.labels(purpose).observe(clock() - started)
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc.retry_after_s, jitter())
            if clock() + wait > deadline - MIN_ATTEMPT_S:
                raise
            logger.info("deepseek: %s attempt %d failed (%s); retrying in %.2f s", purpose, attempt, exc.kind, wait)
            sleep(wait)
            continue
        except Exception as exc:
            # A bug in a client must still release a half-open probe and reach the caller's fallback.
            breaker.record_failure()
            raise ChatError("internal", type(exc).__name__, retryable=False) from exc
        breaker.record_success()
        CALLS.labels(purpose, "ok").inc()
        LATENCY.labels(purpose).observe(clock() - started)
        TOKENS.labels(purpose, "prompt").inc(max(reply.prompt_tokens, 0))
        TOKENS.labels(purpose, "completion").inc(max(reply.completion_tokens, 0))
        return reply


def utc_today() -> dt.date:
    """Today in UTC: the day a quota counts."""
    return dt.datetime.now(dt.UTC).date()


class DailyQuota:
    """At most ``limit`` generations per player per UTC day, counted in this process. Thread-safe."""

    def __init__(self, limit: int, *, today: Callable[[], dt.date] = utc_today) -> None:
        self.limit = limit
        self._today = today
        self._lock = threading.Lock()
        self._day: dt.date | None = None
        self._used: dict[str, int] = {}

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._used = {}

    def take(self, subject: str) -> bool:
        """Use one generation of ``subject``'s quota; False when none is left."""
        with self._lock:
            self._roll()
            used = self._used.get(subject, 0)
            if used >= self.limit:
                return False
            self._used[subject] = used + 1
            return True

    def refund(self, subject: str) -> None:
        """Give back a generation that never went out."""
        with self._lock:
            self._roll()
            if self._used.get(subject, 0) > 0:
                self._used[subject] -= 1

    def remaining(self, subject: str) -> int:
        """Generations ``subject`` has left today."""
        with self._lock:
            self._roll()
            return max(self.limit - self._used.get(subject, 0), 0)
