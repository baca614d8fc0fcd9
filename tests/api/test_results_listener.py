"""The API's results listener decodes only the results a request of this process waits for: the request id is
read from the ``request-id`` header; a result nobody waits for is kept undecoded (and decoded only if asked
for), and a result produced without the header (an older producer) is decoded as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaProducer

import gateways.api.results as results_module
from gateways.api.results import ResultsListener
from schema.events import Envelope, GameFinished, GameSummary, encode, new_id
from trivia_actors.kafka import EventProducer, ensure_topics, make_producer


def _result(game_id: str) -> Envelope:
    summary = GameSummary(status="finished", score=3, correct_count=1, question_count=1, best_streak=1)
    return Envelope(request_id=new_id(), game_id=game_id, user_id="api:c:p", payload=GameFinished(summary=summary))


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """Request ids of the values the listener decoded, in order."""
    seen: list[str] = []
    real_decode = results_module.decode

    def counting_decode(raw: bytes | None) -> Envelope:
        envelope = real_decode(raw)
        seen.append(envelope.request_id)
        return envelope

    monkeypatch.setattr(results_module, "decode", counting_decode)
    return seen


@pytest.fixture
def listener(settings) -> Iterator[ResultsListener]:
    ensure_topics(settings)
    running = ResultsListener(settings)
    running.start()
    assert running.ready.wait(timeout=30), "the results listener did not get its partitions"
    yield running
    running.stop()


def test_only_waited_for_results_are_decoded(settings, listener: ResultsListener, decoded: list[str]) -> None:
    game_id = new_id()  # one key, one partition: the results arrive in the order sent
    unwaited, waited, headerless = _result(game_id), _result(game_id), _result(game_id)
    producer = EventProducer(make_producer(settings))
    legacy = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")
    topic = settings.topic("results")

    async def scenario() -> None:
        woken = listener.register(waited.request_id)
        woken_headerless = listener.register(headerless.request_id)
        try:
            await asyncio.to_thread(producer.send_and_wait, topic, unwaited)
            await asyncio.to_thread(producer.send_and_wait, topic, waited)
            await asyncio.to_thread(
                lambda: legacy.send(topic, key=game_id.encode(), value=encode(headerless)).get(timeout=10))
            await asyncio.wait_for(woken.wait(), timeout=20)
            await asyncio.wait_for(woken_headerless.wait(), timeout=20)
        finally:
            listener.unregister(waited.request_id, woken)
            listener.unregister(headerless.request_id, woken_headerless)

    try:
        asyncio.run(scenario())
    finally:
        legacy.close()
        producer.close(timeout_s=2)

    # The waited-for result came after the unwaited one on the same partition: the listener has seen both.
    assert unwaited.request_id not in decoded, "a result nobody waited for was decoded"
    assert decoded == [waited.request_id, headerless.request_id]
    seen: dict[str, Any] | None = listener.recent(waited.request_id)
    assert seen is not None and seen["type"] == "game.finished"
    # A result nobody waited for is still remembered: decoded once, when asked for.
    remembered = listener.recent(unwaited.request_id)
    assert remembered is not None and remembered["request_id"] == unwaited.request_id
    assert decoded.count(unwaited.request_id) == 1
    assert listener.recent(unwaited.request_id) == remembered and decoded.count(unwaited.request_id) == 1

