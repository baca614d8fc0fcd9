"""The timeout-command sink retries a failed send through the timer service, up to its attempt cap."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from gateways.telegram import commands
from gateways.telegram.commands import KafkaCommandSink
from trivia_actors.kafka import EventProducer
from trivia_actors.runtime import ManualClock, TimerService

WAIT_S = 5.0


class FlakyKafkaProducer:
    """Stands in for kafka-python's producer: the first ``failures`` sends fail at once, later ones are acked."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sends: list[bytes] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def send(self, topic: str, *, key: bytes, value: bytes) -> Future:
        with self._changed:
            self.sends.append(value)
            self._changed.notify_all()
            failing = len(self.sends) <= self.failures
        if failing:
            raise KafkaTimeoutError("metadata not available")
        return Future().success(None)

    def wait_for_sends(self, count: int, timeout: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.sends) >= count, timeout=timeout)

    def count(self) -> int:
        with self._lock:
            return len(self.sends)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
def timers(clock: ManualClock) -> Iterator[TimerService]:
    service = TimerService(clock=clock).start()
    yield service
    service.stop()


def _sink(kafka: FlakyKafkaProducer, timers: TimerService) -> KafkaCommandSink:
    producer: Any = kafka
    return KafkaCommandSink(EventProducer(producer), "t.commands", timers=timers)


def _time_out(sink: KafkaCommandSink) -> None:
    sink.question_timed_out(game_id="g-1", chat_id=42, subject="tg:42", question_no=3)


def _eventually(predicate: Callable[[], bool]) -> bool:
    """Poll ``predicate`` until it holds or WAIT_S passes (the retry is armed on another thread)."""
    tick = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if predicate():
            return True
        tick.wait(0.01)
    return predicate()


def test_a_failed_send_is_retried_once_the_timer_service_says_so(
        timers: TimerService, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=commands.__name__)
    kafka = FlakyKafkaProducer(failures=1)
    _time_out(_sink(kafka, timers))
    assert kafka.wait_for_sends(1)
    assert _eventually(lambda: timers.pending() == 1), "no retry was scheduled on the timer service"
    clock.advance(0.5)
    timers.wake()
    assert not kafka.wait_for_sends(2, timeout=0.1), "retried before its delay"
    clock.advance(0.5)  # the first retry waits one second
    timers.wake()
    assert kafka.wait_for_sends(2), "the retry never reached the producer"
    assert kafka.sends[0] == kafka.sends[1], "the retry must send the same envelope (same request id)"
    assert timers.pending() == 0, "an acked send must not be retried again"
    assert any("retrying" in record.getMessage() and "g-1" in record.getMessage() for record in caplog.records)


def test_retries_stop_at_the_attempt_cap(
        timers: TimerService, clock: ManualClock, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "MAX_ATTEMPTS", 4)
    caplog.set_level(logging.WARNING, logger=commands.__name__)
    kafka = FlakyKafkaProducer(failures=100)
    _time_out(_sink(kafka, timers))
    for attempt in range(1, 4):
        assert _eventually(lambda: timers.pending() == 1), f"no retry scheduled after attempt {attempt}"
        clock.advance(min(attempt, 5))
        timers.wake()
        assert kafka.wait_for_sends(attempt + 1), f"retry {attempt} never reached the producer"

    def errors() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]

    assert _eventually(lambda: bool(errors())), "the last failure was not logged as an error"
    assert "after 4 attempts" in errors()[0]
    assert timers.pending() == 0
    assert kafka.count() == 4


class BlockingKafkaProducer(FlakyKafkaProducer):
    """A producer whose send blocks (as kafka-python's does for max_block_ms while the broker is away)."""

    def __init__(self) -> None:
        super().__init__(failures=0)
        self.release = threading.Event()
        self.threads: list[str] = []

    def send(self, topic: str, *, key: bytes, value: bytes) -> Future:
        self.threads.append(threading.current_thread().name)
        self.release.wait(WAIT_S)
        return super().send(topic, key=key, value=value)


def test_a_blocking_send_never_blocks_the_shard_that_decided_it(timers: TimerService) -> None:
    kafka = BlockingKafkaProducer()
    sink = _sink(kafka, timers)
    returned = threading.Event()
    caller = threading.Thread(target=lambda: (_time_out(sink), returned.set()), name="session-shard")
    caller.start()
    assert returned.wait(WAIT_S / 2), "the caller waited for the broker"
    kafka.release.set()
    assert kafka.wait_for_sends(1)
    caller.join()
    assert kafka.threads == ["timeout-command-sender"]
