"""An idle consumer waits in the broker instead of fetching a hundred times a second, and a record still
reaches it at once: the fetch wait is short while records flow and long once idle (Tansu does not answer a
waiting fetch when data arrives); the bridge's poll blocks long only when no completion or commit is due."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

import attrs

from schema.events import Envelope, GameFinish, new_id
from tests.kafka_helpers import CommandWriter
from trivia_actors.kafka import (
    ConsumerBridgeActor,
    EventProducer,
    FetchPacer,
    IsAssigned,
    ensure_topics,
    make_consumer,
    make_producer,
)
from trivia_actors.kafka.bridge import IDLE_POLL_TIMEOUT_MS
from trivia_actors.kafka.clients import IDLE_FETCH_MAX_WAIT_MS, fetch_max_wait_ms

BUSY_POLL_TIMEOUT_MS = 50  # the bridge's default poll timeout


def _wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_fetch_wait_is_short_while_records_flow_and_long_once_idle(settings) -> None:
    consumer = make_consumer(settings, group_id=None)
    try:
        clock = _Clock()
        pacer = FetchPacer(consumer, idle_after_s=1.0, clock=clock)
        short = settings.kafka_fetch_max_wait_ms
        assert fetch_max_wait_ms(consumer) == short
        clock.now += 0.9
        pacer.observe(False)
        assert fetch_max_wait_ms(consumer) == short, "idle too early"
        clock.now += 0.2
        pacer.observe(False)
        assert pacer.idle and fetch_max_wait_ms(consumer) == IDLE_FETCH_MAX_WAIT_MS
        pacer.observe(True)
        assert not pacer.idle and fetch_max_wait_ms(consumer) == short
    finally:
        consumer.close()


def test_a_fetch_wait_configured_long_is_kept_when_idle(settings) -> None:
    # Apache Kafka answers a waiting fetch when data arrives: compose configures 500 ms, and idling keeps it.
    consumer = make_consumer(attrs.evolve(settings, kafka_fetch_max_wait_ms=500), group_id=None)
    try:
        clock = _Clock()
        pacer = FetchPacer(consumer, idle_after_s=1.0, clock=clock)
        clock.now += 5
        pacer.observe(False)
        assert fetch_max_wait_ms(consumer) == 500
    finally:
        consumer.close()


def test_an_idle_bridge_blocks_in_the_broker_and_still_gets_a_record(settings) -> None:
    ensure_topics(settings)
    consumers: list[Any] = []
    timeouts: list[int] = []  # every poll's timeout, in order

    def consumer_factory() -> Any:
        consumer = make_consumer(settings, group_id=f"{settings.kafka_topic_prefix}idle-bridge")
        real_poll = consumer.poll

        def poll(timeout_ms: int = 0, **kwargs: Any) -> Any:
            timeouts.append(timeout_ms)
            return real_poll(timeout_ms=timeout_ms, **kwargs)

        consumer.poll = poll
        consumers.append(consumer)
        return consumer

    received: queue.Queue[tuple[Envelope, Any]] = queue.Queue()
    producer = EventProducer(make_producer(settings))
    bridge = ConsumerBridgeActor.start(name="idle-test", consumer_factory=consumer_factory,
                                       topics=(settings.topic("commands"),),
                                       dispatch=lambda event, completion: received.put((event, completion)),
                                       dlq=producer, dlq_topic=settings.topic("dlq"), idle_after_s=0.3)
    writer = CommandWriter(settings)
    try:
        _wait_until(lambda: bool(bridge.ask(IsAssigned(), timeout=5)), "the bridge has its partitions")
        consumer = consumers[-1]
        _wait_until(lambda: fetch_max_wait_ms(consumer) == IDLE_FETCH_MAX_WAIT_MS, "the idle fetch wait is long")
        assert timeouts[-1] == IDLE_POLL_TIMEOUT_MS, "nothing in flight: the poll may block long"

        sent = Envelope(request_id=new_id(), game_id=new_id(), user_id="api:c:p",
                        payload=GameFinish(client_id="c", subject="api:c:p"))
        writer.send(sent)
        try:
            got, completion = received.get(timeout=20)
        except queue.Empty:
            raise AssertionError(f"the idle bridge got nothing (alive: {bridge.is_alive()})") from None
        assert got.request_id == sent.request_id
        assert fetch_max_wait_ms(consumer) == settings.kafka_fetch_max_wait_ms, "records flow: short wait again"

        mark = len(timeouts)
        _wait_until(lambda: len(timeouts) >= mark + 2, "the bridge polls while the effect is outstanding")
        assert set(timeouts[mark:]) == {BUSY_POLL_TIMEOUT_MS}, "a completion is due: the poll stays short"
        completion.done()
        _wait_until(lambda: timeouts[-1] == IDLE_POLL_TIMEOUT_MS, "settled and committed: the poll blocks long again")
    finally:
        writer.close()
        if bridge.is_alive():
            bridge.stop(timeout=10)
        producer.close(timeout_s=2)
