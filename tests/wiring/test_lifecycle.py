"""The processes' lifecycle helpers (gateways/process.py): confirmed starts, reverse-order stops, the sweep."""

from __future__ import annotations

import asyncio
import logging
import threading

import attrs
import pykka
import pytest

from gateways.process import Shutdown, StartFailed, confirm_started, stop_remaining_actors


class QuietActor(pykka.ThreadingActor):
    """Starts at once and answers nothing of its own."""


@attrs.frozen(kw_only=True)
class Hold:
    seconds: float


class BusyActor(pykka.ThreadingActor):
    """Busy for a while with each Hold, so a stop told after one is pending meanwhile."""

    def on_receive(self, message: object) -> None:
        if isinstance(message, Hold):
            threading.Event().wait(message.seconds)


class FailingStartActor(pykka.ThreadingActor):
    def on_start(self) -> None:
        raise RuntimeError("cannot reach its dependency")


class SlowStartActor(pykka.ThreadingActor):
    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def on_start(self) -> None:
        self.release.wait(10)


@pytest.fixture(autouse=True)
def no_actors_left():
    yield
    pykka.ActorRegistry.stop_all(timeout=10)


def test_a_started_actor_is_confirmed():
    ref = QuietActor.start()
    confirm_started(ref, "the quiet actor", timeout_s=5)
    assert ref.is_alive()
    ref.stop()


def test_an_actor_whose_start_fails_is_reported_by_name():
    ref = FailingStartActor.start()
    with pytest.raises(StartFailed, match="the failing actor stopped while starting"):
        confirm_started(ref, "the failing actor", timeout_s=5)


def test_an_actor_that_does_not_finish_starting_times_out():
    release = threading.Event()
    ref = SlowStartActor.start(release)
    try:
        with pytest.raises(StartFailed, match=r"the slow actor did not answer within 0\.2 s"):
            confirm_started(ref, "the slow actor", timeout_s=0.2)
    finally:
        release.set()
        ref.stop()


def test_shutdown_runs_steps_last_first_and_a_failing_step_does_not_stop_the_others(caplog):
    done: list[str] = []

    async def stop_async() -> None:
        await asyncio.sleep(0)
        done.append("async")

    def fail() -> None:
        raise OSError("already closed")

    shutdown = Shutdown("test")
    shutdown.push("first", lambda: done.append("first"))
    shutdown.push("async part", stop_async)
    shutdown.push("broken part", fail)
    shutdown.push("last", lambda: done.append("last"))
    with caplog.at_level(logging.ERROR, logger="gateways.process"):
        asyncio.run(shutdown.run())
    assert done == ["last", "async", "first"]
    assert "test: stopping broken part failed" in caplog.text
    asyncio.run(shutdown.run())
    assert done == ["last", "async", "first"], "each step runs once"


def test_the_sweep_stops_and_names_actors_left_running(caplog):
    left = QuietActor.start()
    with caplog.at_level(logging.WARNING, logger="gateways.process"):
        assert stop_remaining_actors("test", grace_s=0.1) == ["QuietActor"]
    assert not left.is_alive()
    assert pykka.ActorRegistry.get_all() == []
    assert "test: 1 actors still running after shutdown, stopping them: QuietActor" in caplog.text


def test_the_sweep_waits_for_actors_already_stopping_and_stays_quiet(caplog):
    # A parent stopping its children without waiting (the session manager does) leaves them stopping, not leaked.
    stopping = BusyActor.start()
    stopping.tell(Hold(seconds=1.0))
    stopping.stop(block=False)
    assert stopping.is_alive()
    with caplog.at_level(logging.WARNING, logger="gateways.process"):
        assert stop_remaining_actors("test", grace_s=10) == []
    assert not stopping.is_alive()
    assert "still running" not in caplog.text
