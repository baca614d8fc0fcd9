"""The timer service: one thread, due order, a batch per target per wake-up, cancel, failures, shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from trivia_actors.runtime import ManualClock, TimerService
from trivia_actors.runtime import timers as timers_module

WAIT_S = 5.0


class Recorder:
    """A target that records each call's items and signals once it has seen ``expect`` items."""

    def __init__(self, expect: int = 1) -> None:
        self.calls: list[list[Any]] = []
        self.expect = expect
        self.done = threading.Event()
        self._lock = threading.Lock()

    def timers_due(self, items: list[Any]) -> None:
        with self._lock:
            self.calls.append(list(items))
            if sum(len(call) for call in self.calls) >= self.expect:
                self.done.set()

    @property
    def items(self) -> list[Any]:
        with self._lock:
            return [item for call in self.calls for item in call]


class SignallingClock(ManualClock):
    """A manual clock that tells the test when the timer thread has read it (it then holds the lock until it waits)."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()

    def __call__(self) -> float:
        self.read.set()
        return super().__call__()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
def service(clock: ManualClock) -> Iterator[TimerService]:
    timers = TimerService(clock=clock, name="test-timers").start()
    yield timers
    timers.stop()


def test_items_due_together_reach_the_target_in_due_order(service: TimerService, clock: ManualClock) -> None:
    target = Recorder(expect=3)
    for due, item in ((1005.0, "c"), (1001.0, "a"), (1003.0, "b")):
        service.schedule(due, target, item)
    clock.advance(10)
    service.wake()
    assert target.done.wait(WAIT_S), "the due timers never fired"
    assert target.calls == [["a", "b", "c"]]
    assert service.pending() == 0


def test_timers_fire_in_due_order_as_the_clock_moves(service: TimerService, clock: ManualClock) -> None:
    target = Recorder(expect=3)
    for due, item in ((1003.0, 3), (1001.0, 1), (1002.0, 2)):
        service.schedule(due, target, item)
    for expected in (1, 2, 3):
        clock.advance(1)
        service.wake()
        deadline = time.monotonic() + WAIT_S
        while len(target.items) < expected and time.monotonic() < deadline:
            target.done.wait(0.01)
        assert target.items == list(range(1, expected + 1))
    assert target.calls == [[1], [2], [3]]


def test_each_target_gets_one_call_per_wake_up(service: TimerService, clock: ManualClock) -> None:
    first, second = Recorder(expect=3), Recorder(expect=2)
    for n in range(3):
        service.schedule(1001.0 + n / 10, first, f"first-{n}")
    for n in range(2):
        service.schedule(1001.05 + n / 10, second, f"second-{n}")
    clock.advance(5)
    service.wake()
    assert first.done.wait(WAIT_S) and second.done.wait(WAIT_S)
    assert first.calls == [["first-0", "first-1", "first-2"]]
    assert second.calls == [["second-0", "second-1"]]


def test_a_cancelled_timer_never_fires(service: TimerService, clock: ManualClock) -> None:
    target = Recorder(expect=2)
    keep = service.schedule(1001.0, target, "keep")
    dropped = service.schedule(1002.0, target, "dropped")
    service.schedule(1003.0, target, "also-kept")
    dropped.cancel()
    dropped.cancel()  # idempotent
    assert service.pending() == 2
    assert not dropped.active and keep.active
    clock.advance(5)
    service.wake()
    assert target.done.wait(WAIT_S)
    assert target.items == ["keep", "also-kept"]
    assert service.pending() == 0
    keep.cancel()  # after firing: harmless
    assert service.pending() == 0


def test_call_later_runs_the_callback_after_the_delay(service: TimerService, clock: ManualClock) -> None:
    fired = threading.Event()
    service.call_later(30, fired.set)
    clock.advance(29)
    service.wake()
    assert not fired.wait(0.05), "fired before its delay"
    clock.advance(1)
    service.wake()
    assert fired.wait(WAIT_S)


def test_a_raising_target_or_callback_does_not_stop_the_service(
        service: TimerService, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def timers_due(self, items: list[Any]) -> None:
            raise RuntimeError("boom")

    def broken_callback() -> None:
        raise RuntimeError("callback boom")

    caplog.set_level(logging.ERROR, logger=timers_module.__name__)
    after_callback = threading.Event()
    service.schedule(1001.0, Broken(), "x")
    service.call_at(1001.0, broken_callback)
    service.call_at(1001.0, after_callback.set)
    clock.advance(2)
    service.wake()
    assert after_callback.wait(WAIT_S), "a failing callback stopped the callbacks after it"
    later = Recorder()
    service.schedule(1003.0, later, "later")
    clock.advance(2)
    service.wake()
    assert later.done.wait(WAIT_S), "a failing target stopped the timer thread"
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert {str(record.exc_info[1]) for record in tracebacks if record.exc_info} >= {"boom", "callback boom"}


def test_schedule_from_many_threads(clock: ManualClock) -> None:
    threads_n, per_thread = 8, 500
    target = Recorder(expect=threads_n * per_thread)
    service = TimerService(clock=clock).start()
    try:
        start = threading.Barrier(threads_n)

        def schedule_many(t: int) -> None:
            start.wait()
            for n in range(per_thread):
                service.schedule(1000.5 + n / 1000, target, (t, n))

        workers = [threading.Thread(target=schedule_many, args=(t,)) for t in range(threads_n)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(WAIT_S)
        assert service.pending() == threads_n * per_thread
        clock.advance(10)
        service.wake()
        assert target.done.wait(WAIT_S)
        assert sorted(target.items) == sorted((t, n) for t in range(threads_n) for n in range(per_thread))
        assert service.pending() == 0
    finally:
        service.stop()


def test_stop_joins_the_thread_and_pending_timers_never_fire(clock: ManualClock) -> None:
    target = Recorder()
    service = TimerService(clock=clock, name="stopping-timers").start()
    service.schedule(1001.0, target, "never")
    thread = next(t for t in threading.enumerate() if t.name == "stopping-timers")
    assert thread.daemon
    service.stop()
    assert not thread.is_alive()
    clock.advance(5)
    service.wake()
    assert not target.done.is_set()


def test_an_earlier_timer_scheduled_while_waiting_for_a_later_one_fires_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the wait cap the thread would sleep the whole minute unless the new, earlier entry wakes it.
    monkeypatch.setattr(timers_module, "_MAX_WAIT_S", 3600.0)
    clock = SignallingClock()
    service = TimerService(clock=clock).start()
    try:
        target = Recorder()
        service.schedule(1060.0, target, "late")
        # The thread reads the clock under the lock and holds it until it waits: the schedule below lands
        # while the thread is waiting for the late timer.
        assert clock.read.wait(WAIT_S)
        service.schedule(1000.0, target, "early")  # due now; no wake() call
        assert target.done.wait(WAIT_S), "the earlier timer waited for the later one"
        assert target.items == ["early"]
        assert service.pending() == 1
    finally:
        service.stop()


def test_one_thread_holds_ten_thousand_timers(service: TimerService, clock: ManualClock) -> None:
    before = threading.active_count()
    target = Recorder(expect=10_000)
    for n in range(10_000):
        service.schedule(1001.0 + n / 100, target, n)
    assert threading.active_count() == before
    assert service.pending() == 10_000
    clock.advance(200)
    service.wake()
    assert target.done.wait(WAIT_S)
    assert target.items == list(range(10_000))
    assert threading.active_count() == before


def test_a_hundred_thousand_timers_with_half_cancelled(service: TimerService, clock: ManualClock) -> None:
    target = Recorder(expect=50_000)
    handles = [service.schedule(1001.0 + n / 1000, target, n) for n in range(100_000)]
    for handle in handles[::2]:
        handle.cancel()
    assert service.pending() == 50_000
    clock.advance(200)
    service.wake()
    assert target.done.wait(WAIT_S * 2)
    assert target.items == list(range(1, 100_000, 2))
    assert service.pending() == 0
