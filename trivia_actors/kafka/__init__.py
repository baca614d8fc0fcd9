"""Kafka: the consumer bridge (records to actors, offsets committed after the effect) and the event producer."""

from trivia_actors.kafka.bridge import Completion, ConsumerBridgeActor
from trivia_actors.kafka.clients import (
    TOPICS,
    BrokerUnavailable,
    EventProducer,
    describe,
    ensure_topics,
    make_consumer,
    make_producer,
)

__all__ = [
    "TOPICS",
    "BrokerUnavailable",
    "Completion",
    "ConsumerBridgeActor",
    "EventProducer",
    "describe",
    "ensure_topics",
    "make_consumer",
    "make_producer",
]
