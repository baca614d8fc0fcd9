"""Kafka: the consumer bridge (records to actors, offsets committed after the effect) and the event producer."""

from trivia_actors.kafka.bridge import ConsumerBridgeActor
from trivia_actors.kafka.clients import (
    TOPICS,
    BrokerUnavailable,
    EventProducer,
    FetchPacer,
    describe,
    ensure_topics,
    make_consumer,
    make_producer,
)
from trivia_actors.kafka.completion import Completion
from trivia_actors.kafka.messages import CountInFlight, Drain, IsAssigned

__all__ = [
    "TOPICS",
    "BrokerUnavailable",
    "Completion",
    "ConsumerBridgeActor",
    "CountInFlight",
    "Drain",
    "EventProducer",
    "FetchPacer",
    "IsAssigned",
    "describe",
    "ensure_topics",
    "make_consumer",
    "make_producer",
]
