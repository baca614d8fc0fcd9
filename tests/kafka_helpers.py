"""Test helpers that talk to the real broker: produce commands, read results and the dead-letter topic."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from schema.events import Envelope, decode, encode
from trivia_actors.runtime import Settings


class TopicReader:
    """Reads every record of a topic from the beginning (no group), accumulating them."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.topic = settings.topic(name)
        self.consumer = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers], group_id=None,
                                      enable_auto_commit=False, fetch_max_wait_ms=10)
        partitions: set[int] | None = None
        deadline = time.monotonic() + 10
        while not partitions and time.monotonic() < deadline:
            partitions = self.consumer.partitions_for_topic(self.topic)
            if not partitions:
                time.sleep(0.1)
        assert partitions, f"topic {self.topic} not found"
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: list[Any] = []

    def poll_until(self, predicate, timeout_s: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in self.consumer.poll(timeout_ms=100).values():
                self.records.extend(batch)
            if predicate(self.records):
                return self.records
        raise AssertionError(f"timed out on {self.topic}; got {len(self.records)} records")

    def events(self) -> list[Envelope]:
        return [decode(r.value) for r in self.records]

    def close(self) -> None:
        self.consumer.close()


class CommandWriter:
    """Produces raw or encoded commands to the commands topic."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic("commands")
        self.producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")

    def send(self, envelope: Envelope) -> None:
        self.producer.send(self.topic, key=envelope.game_id.encode(), value=encode(envelope)).get(timeout=10)

    def send_raw(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.topic, key=key, value=value).get(timeout=10)

    def close(self) -> None:
        self.producer.close()
