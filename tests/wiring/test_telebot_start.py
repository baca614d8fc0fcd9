"""The telebot's wiring, in-process against the real database, broker and Telegram stand-in: it starts in
order and stops in reverse, and a start that fails half-way leaves no actor and no thread behind."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import attrs
import pykka
import pytest

from gateways.local_broker import LocalBroker
from gateways.telegram import main as telebot
from gateways.telegram_standin import StandinServer
from schema.db import bind_database
from schema.migrations import apply_migrations
from tests.conftest import TEST_JWT_SECRET
from trivia_actors.runtime import Settings, load_settings

SWEEP_WARNING = "actors still running after shutdown"


@pytest.fixture(scope="module")
def telebot_db_url(pg_factory) -> str:
    """A database of its own: no other test's pending Telegram calls are delivered at start."""
    url = pg_factory()
    database = bind_database(url)
    with database.connection_context():
        apply_migrations(database)
    database.close_all() if hasattr(database, "close_all") else None
    return url


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def telebot_settings(telebot_db_url: str, broker: LocalBroker, standin: StandinServer) -> Settings:
    return load_settings({
        "TRIVIA_ENV": "test",
        "DATABASE_URL": telebot_db_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC_PREFIX": f"w{uuid.uuid4().hex[:8]}.",
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "JWT_SECRET": TEST_JWT_SECRET,
        "TELEGRAM_API_BASE_URL": standin.bot_base_url,
        "OPS_PORT": "0",
    })


@pytest.fixture
def clean_slate() -> Iterator[set[threading.Thread]]:
    """No actor running before the test (one left by an earlier test is stopped), and the threads that were."""
    pykka.ActorRegistry.stop_all(timeout=10)
    yield set(threading.enumerate())


def _leftovers(baseline: set[threading.Thread], timeout_s: float = 10.0) -> tuple[list[str], list[str]]:
    """Actors still registered, and non-daemon threads started since the baseline that do not end in time."""
    deadline = time.monotonic() + timeout_s
    for thread in set(threading.enumerate()) - baseline:
        if not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0.0))
    actors = [ref.actor_class.__name__ for ref in pykka.ActorRegistry.get_all()]
    threads = [thread.name for thread in set(threading.enumerate()) - baseline if not thread.daemon]
    return actors, threads


def _serve(settings: Settings, *, stopped: bool = True) -> int:
    stop = asyncio.Event()
    if stopped:
        stop.set()  # stop as soon as it has started
    return asyncio.run(telebot.serve(settings, stop))


def test_it_starts_polling_then_stops_everything_in_reverse(telebot_settings, clean_slate, caplog):
    with caplog.at_level(logging.INFO):
        assert _serve(telebot_settings) == 0
    assert "telebot polling" in caplog.text
    assert SWEEP_WARNING not in caplog.text, "the ordered stop itself must stop every actor"
    actors, threads = _leftovers(clean_slate)
    assert actors == [] and threads == [], f"left running: actors {actors}, threads {threads}"


def test_a_late_start_step_that_fails_leaks_no_actor_or_thread(telebot_settings, clean_slate, caplog):
    # The ops server is among the last steps: its port is taken, after every actor has started.
    with socket.socket() as busy:
        busy.bind((telebot_settings.api_host, 0))
        busy.listen()
        settings = attrs.evolve(telebot_settings, ops_port=busy.getsockname()[1])
        with caplog.at_level(logging.INFO), pytest.raises(OSError):
            _serve(settings)
    assert "telebot: consuming" in caplog.text, "the results consumer had started before the failure"
    assert SWEEP_WARNING not in caplog.text, "the ordered stop itself must stop every actor"
    actors, threads = _leftovers(clean_slate)
    assert actors == [] and threads == [], f"left running after a failed start: actors {actors}, threads {threads}"


def test_an_actor_that_dies_while_starting_fails_the_start_cleanly(telebot_settings, clean_slate, caplog,
                                                                   monkeypatch):
    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise ConnectionRefusedError("the broker refused the consumer")

    monkeypatch.setattr(telebot, "make_consumer", unreachable)
    with caplog.at_level(logging.INFO):
        assert _serve(telebot_settings, stopped=False) == 1  # returns without being told to stop
    assert "telebot did not start: the results consumer stopped while starting" in caplog.text
    assert "telebot polling" not in caplog.text
    assert SWEEP_WARNING not in caplog.text
    actors, threads = _leftovers(clean_slate)
    assert actors == [] and threads == [], f"left running after a failed start: actors {actors}, threads {threads}"
