"""Kafka: the consumer bridge (records to actors, offsets committed after the effect) and the event producer."""

from trivia_actors.kafka.bridge import ConsumerBridgeActor
from trivia_actors.kafka.clients import (
    REQUEST_ID_HEADER,
    TOPICS,
    BrokerUnavailable,
    EventProducer,
    FetchPacer,
    describe,
    ensure_topics,
    header_request_id,
    make_consumer,
    make_producer,
)
from trivia_actors.kafka.completion import Completion
from trivia_actors.kafka.messages import CountInFlight, Drain, IsAssigned

__all__ = [
    "REQUEST_ID_HEADER",
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
    "header_request_id",
    "make_consumer",
    "make_producer",
]
