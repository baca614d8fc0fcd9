"""The consumer bridge outlives a broker that is unreachable as it starts (a restart while the process starts):
it connects once the broker answers, instead of dying in on_start and leaving its process up but deaf."""

from __future__ import annotations

import queue

from kafka.errors import KafkaTimeoutError

from schema.events import Envelope, GameFinish, new_id
from tests.kafka_helpers import CommandWriter
from trivia_actors.kafka import ConsumerBridgeActor, EventProducer, ensure_topics, make_consumer, make_producer


def test_a_bridge_started_while_the_broker_is_unreachable_consumes_once_it_answers(settings) -> None:
    ensure_topics(settings)
    attempts: list[int] = []

    def consumer_factory():
        attempts.append(1)
        if len(attempts) == 1:  # what kafka-python raises when its bootstrap gives up
            raise KafkaTimeoutError(f"Unable to bootstrap from {settings.kafka_bootstrap_servers}")
        return make_consumer(settings, group_id=f"{settings.kafka_topic_prefix}bridge-start")

    received: queue.Queue[Envelope] = queue.Queue()

    def dispatch(event, completion) -> None:
        received.put(event)
        completion.done()

    producer = EventProducer(make_producer(settings))
    bridge = ConsumerBridgeActor.start(name="start-test", consumer_factory=consumer_factory,
                                       topics=(settings.topic("commands"),), dispatch=dispatch, dlq=producer,
                                       dlq_topic=settings.topic("dlq"))
    writer = CommandWriter(settings)
    try:
        sent = Envelope(request_id=new_id(), game_id=new_id(), user_id="api:c:p",
                        payload=GameFinish(client_id="c", subject="api:c:p"))
        writer.send(sent)
        try:
            got = received.get(timeout=30)
        except queue.Empty:
            raise AssertionError(f"nothing consumed (bridge alive: {bridge.is_alive()})") from None
        assert got.request_id == sent.request_id
        assert len(attempts) == 2, "the first, failed, connection was tried again"
    finally:
        writer.close()
        if bridge.is_alive():
            bridge.stop(timeout=10)
        producer.close(timeout_s=2)
