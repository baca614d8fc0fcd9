"""The event producer heals itself: after the broker lost its state (replaced on the same address), sends
fail for a while and then succeed through a new producer; closing with the broker gone never raises."""

from __future__ import annotations

import time

import pytest

from gateways.local_broker import LocalBroker
from schema.events import Envelope, GameFinish, new_id
from tests.kafka_helpers import TopicReader
from trivia_actors.kafka import BrokerUnavailable, EventProducer, ensure_topics, make_producer
from trivia_actors.runtime import load_settings


def _envelope() -> Envelope:
    return Envelope(request_id=new_id(), game_id=new_id(), user_id="api:c:p",
                    payload=GameFinish(client_id="c", subject="api:c:p"))


@pytest.mark.timeout(120)
def test_sends_recover_after_the_broker_is_replaced(tmp_path) -> None:
    broker = LocalBroker(log_path=tmp_path / "broker.log").start()
    try:
        settings = load_settings({"TRIVIA_ENV": "test", "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                                  "KAFKA_TOPIC_PREFIX": "heal.", "KAFKA_PARTITIONS": "1"})
        ensure_topics(settings)
        producer = EventProducer(make_producer(settings), factory=lambda: make_producer(settings), renew_after_s=2)
        producer.send_and_wait(settings.topic("commands"), _envelope(), timeout_s=5)
        broker.restart()  # same address, every topic, offset and producer id gone
        ensure_topics(settings)
        failures, deadline = 0, time.monotonic() + 60
        last = _envelope()
        while True:
            try:
                producer.send_and_wait(settings.topic("commands"), last, timeout_s=3)
                break
            except BrokerUnavailable:
                failures += 1
                assert time.monotonic() < deadline, "the producer never recovered"
        reader = TopicReader(settings, "commands")
        try:
            records = reader.poll_until(lambda rs: any(r.key == last.game_id.encode() for r in rs))
        finally:
            reader.close()
        assert [r.key for r in records] == [last.game_id.encode()], "only the send after the replacement is there"
        assert failures >= 1, "the old producer failed first (otherwise this test tests nothing)"
        producer.close(timeout_s=2)
    finally:
        broker.stop()


def test_close_with_the_broker_gone_does_not_raise(tmp_path) -> None:
    broker = LocalBroker(log_path=tmp_path / "broker.log").start()
    settings = load_settings({"TRIVIA_ENV": "test", "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                              "KAFKA_TOPIC_PREFIX": "gone.", "KAFKA_PARTITIONS": "1"})
    ensure_topics(settings)
    producer = EventProducer.connect(settings)
    broker.stop()
    producer.send(settings.topic("commands"), _envelope(), lambda error: None)
    producer.close(timeout_s=1)  # pending sends are abandoned with a warning, not an exception
