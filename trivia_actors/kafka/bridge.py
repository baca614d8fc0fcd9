"""The consumer bridge actor: Kafka records in, events handed to actors, offsets committed after the effect.

At-least-once delivery with an exactly-once effect: a record's offset is committed only once the handler
reports its effect done (persisted and published); handlers are idempotent, so a record delivered again
after a crash changes nothing. Records that cannot be decoded, or that fail permanently, are copied to the
dead-letter topic with the reason in a header, and consumption goes on.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from schema.events import Envelope, EventDecodeError, decode
from trivia_actors.kafka.clients import IDLE_AFTER_S, BrokerUnavailable, EventProducer, FetchPacer, describe
from trivia_actors.kafka.completion import Completion
from trivia_actors.kafka.messages import CountInFlight, Drain, EffectDone, EffectFailed, IsAssigned, RecordRef
from trivia_actors.runtime import CONSUMED, DEAD_LETTERED, TimerService, failpoints, process_timers

logger = logging.getLogger(__name__)

# Retryable failures (database or broker down) are retried forever: dropping a valid event would lose it.
MAX_RETRY_DELAY_S = 5.0
RECONNECT_AFTER_S = 0.5  # a broker that could not be reached (or polled) is tried again after this
# A poll blocks the mailbox; with nothing in flight and nothing to commit no message is due, so it may block
# this long (records still return it at once).
IDLE_POLL_TIMEOUT_MS = 250


Dispatch = Callable[[Envelope, Completion], None]


@attrs.frozen(kw_only=True)
class _Poll:
    pass


@attrs.frozen(kw_only=True)
class _Retry:
    ref: RecordRef


@attrs.define
class _InFlight:
    envelope: Envelope
    key: bytes | None
    value: bytes
    attempts: int = 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: ConsumerBridgeActor) -> None:
        self.bridge = bridge

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.bridge.partitions_revoked(list(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.bridge.partitions_assigned(list(assigned))


class ConsumerBridgeActor(pykka.ThreadingActor):
    """Polls a Kafka consumer, dispatches decoded events, commits offsets whose effects are done."""

    def __init__(
        self,
        *,
        name: str,
        consumer_factory: Callable[[], KafkaConsumer],
        topics: tuple[str, ...],
        dispatch: Dispatch,
        dlq: EventProducer,
        dlq_topic: str,
        max_in_flight: int = 2000,
        poll_timeout_ms: int = 50,
        idle_poll_timeout_ms: int = IDLE_POLL_TIMEOUT_MS,
        idle_after_s: float = IDLE_AFTER_S,
        timers: TimerService | None = None,
    ) -> None:
        super().__init__()
        self._timers = timers if timers is not None else process_timers()
        self.name = name
        self._consumer_factory = consumer_factory
        self._topics = topics
        self._dispatch = dispatch
        self._dlq = dlq
        self._dlq_topic = dlq_topic
        self._max_in_flight = max_in_flight
        self._poll_timeout_ms = poll_timeout_ms
        self._idle_poll_timeout_ms = max(idle_poll_timeout_ms, poll_timeout_ms)
        self._idle_after_s = idle_after_s
        self._consumer: KafkaConsumer | None = None
        self._pacer: FetchPacer | None = None
        self._generation = 0
        self._in_flight: dict[RecordRef, _InFlight] = {}
        self._pending: dict[TopicPartition, set[int]] = {}
        self._next_offset: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._paused = False
        self._stopping = False
        self._last_commit = 0.0
        self.assigned = threading.Event()

    # --- lifecycle --------------------------------------------------------------------------------

    def on_start(self) -> None:
        self._connect()
        self.actor_ref.tell(_Poll())

    def _connect(self) -> bool:
        """Create and subscribe the consumer. A broker unreachable now (restarting as the process starts) is
        tried again from the poll loop: raising here would stop the bridge for good, the process still up."""
        try:
            consumer = self._consumer_factory()
        except KafkaError as exc:
            logger.warning("%s: broker unreachable, trying again: %s", self.name, describe(exc))
            return False
        consumer.subscribe(list(self._topics), listener=_Rebalance(self))
        self._consumer = consumer
        self._pacer = FetchPacer(consumer, idle_after_s=self._idle_after_s)
        logger.info("%s: consuming %s", self.name, ", ".join(self._topics))
        return True

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("%s: bridge failed: %s", self.name, describe(exception_value))
        self._close()

    def _close(self) -> None:
        if self._consumer is None:
            return
        try:
            self._commit(force=True)
        except KafkaError as exc:
            logger.warning("%s: final commit failed: %s", self.name, describe(exc))
        self._consumer.close(autocommit=False)
        self._consumer = None

    # --- rebalance --------------------------------------------------------------------------------

    def partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what is done, then forget the revoked partitions (their late completions are ignored)."""
        try:
            self._commit(force=True)
        except KafkaError as exc:
            logger.warning("%s: commit on revoke failed: %s", self.name, describe(exc))
        for tp in revoked:
            self._pending.pop(tp, None)
            self._next_offset.pop(tp, None)
            self._committed.pop(tp, None)
        revoked_set = set(revoked)
        for ref in [r for r in self._in_flight if TopicPartition(r.topic, r.partition) in revoked_set]:
            del self._in_flight[ref]
        self._generation += 1

    def partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Note the new assignment generation."""
        self._generation += 1
        logger.info("%s: assigned %d partitions", self.name, len(assigned))
        self.assigned.set()

    # --- messages ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Poll):
            self._poll()
        elif isinstance(message, EffectDone):
            self._settle(message.ref)
        elif isinstance(message, EffectFailed):
            self._failed(message)
        elif isinstance(message, _Retry):
            entry = self._in_flight.get(message.ref)
            if entry is not None:
                self._dispatch_one(message.ref, entry)
        elif isinstance(message, IsAssigned):
            return self.assigned.is_set()
        elif isinstance(message, Drain):
            # Graceful shutdown: take no new records; in-flight ones still complete and get committed.
            self._stopping = True
            if self._consumer is not None:
                self._consumer.pause(*self._consumer.assignment())
            return len(self._in_flight)
        elif isinstance(message, CountInFlight):
            return len(self._in_flight)
        else:
            logger.warning("%s: unexpected message %s", self.name, type(message).__name__)
        return None

    def _poll(self) -> None:
        consumer = self._consumer
        if consumer is None:
            if not self._stopping:
                if self._connect():
                    self.actor_ref.tell(_Poll())
                else:
                    self._poll_later(RECONNECT_AFTER_S)
            return
        try:
            batches = consumer.poll(timeout_ms=self._poll_timeout())
        except KafkaError as exc:
            logger.warning("%s: poll failed, retrying: %s", self.name, describe(exc))
            self._poll_later(RECONNECT_AFTER_S)
            return
        if self._pacer is not None:
            self._pacer.observe(bool(batches) or self._paused)
        for tp, records in batches.items():
            for record in records:
                self._accept(tp, record)
                failpoints.hit("bridge.mid_batch")
        if self._stopping and consumer.assignment():
            # A rebalance during the drain may hand us partitions that are not paused yet.
            consumer.pause(*consumer.assignment())
        self._apply_backpressure()
        try:
            self._commit()
        except KafkaError as exc:
            logger.warning("%s: commit failed, will retry: %s", self.name, describe(exc))
        self.actor_ref.tell(_Poll())

    def _poll_timeout(self) -> int:
        """Short while completions may arrive or offsets wait to be committed, long when there is nothing to do."""
        if self._in_flight or self._paused or self._uncommitted():
            return self._poll_timeout_ms
        return self._idle_poll_timeout_ms

    def _accept(self, tp: TopicPartition, record: Any) -> None:
        self._next_offset[tp] = record.offset + 1
        CONSUMED.labels(self.name).inc()
        try:
            envelope = decode(record.value)
        except EventDecodeError as exc:
            self._dead_letter(record.key, record.value, exc.reason, tp, record.offset)
            return
        except Exception as exc:  # a decoder bug must dead-letter the record, not crash-loop the consumer
            logger.exception("%s: decoding record %s/%d/%d failed", self.name, tp.topic, tp.partition, record.offset)
            self._dead_letter(record.key, record.value, f"undecodable: {type(exc).__name__}", tp, record.offset)
            return
        ref = RecordRef(topic=tp.topic, partition=tp.partition, offset=record.offset, generation=self._generation)
        entry = _InFlight(envelope=envelope, key=record.key, value=record.value or b"")
        self._in_flight[ref] = entry
        self._pending.setdefault(tp, set()).add(record.offset)
        self._dispatch_one(ref, entry)

    def _dispatch_one(self, ref: RecordRef, entry: _InFlight) -> None:
        completion = Completion(self.actor_ref, ref)
        try:
            self._dispatch(entry.envelope, completion)
        except Exception as exc:
            logger.exception("%s: dispatch of %s failed", self.name, entry.envelope.event_id)
            completion.fail(f"dispatch failed: {describe(exc)}", retryable=False)

    def _settle(self, ref: RecordRef) -> None:
        self._in_flight.pop(ref, None)
        tp = TopicPartition(ref.topic, ref.partition)
        pending = self._pending.get(tp)
        if pending is not None and ref.generation == self._generation:
            pending.discard(ref.offset)

    def _failed(self, message: EffectFailed) -> None:
        entry = self._in_flight.get(message.ref)
        if entry is None:
            return
        entry.attempts += 1
        if not message.retryable:
            tp = TopicPartition(message.ref.topic, message.ref.partition)
            self._dead_letter(entry.key, entry.value, message.reason, tp, message.ref.offset)
            self._settle(message.ref)
            return
        delay = min(0.1 * 2 ** min(entry.attempts, 6), MAX_RETRY_DELAY_S)
        logger.warning(
            "%s: event %s (game %s) failed, retry %d in %.1fs: %s",
            self.name, entry.envelope.event_id, entry.envelope.game_id, entry.attempts, delay, message.reason,
        )
        self._timers.call_later(delay, functools.partial(self._tell_self, _Retry(ref=message.ref)))

    def _poll_later(self, delay_s: float) -> None:
        self._timers.call_later(delay_s, functools.partial(self._tell_self, _Poll()))

    def _tell_self(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            logger.debug("%s: timer fired after the bridge stopped", self.name)

    def _dead_letter(self, key: bytes | None, value: bytes | None, reason: str, tp: TopicPartition,
                     offset: int) -> None:
        headers = [
            ("dlq-reason", reason.encode("utf-8", "replace")[:1000]),
            ("dlq-source", f"{tp.topic}/{tp.partition}/{offset}".encode()),
            ("dlq-consumer", self.name.encode()),
        ]
        while True:
            try:
                self._dlq.send_raw(self._dlq_topic, key, value or b"", headers)
                break
            except BrokerUnavailable as exc:
                # Committing past a poison record without its dead-letter copy would lose it.
                logger.warning("%s: dead-letter publish failed, retrying: %s", self.name, describe(exc))
                time.sleep(1.0)
        DEAD_LETTERED.labels(self.name).inc()
        logger.warning("%s: record %s/%d/%d dead-lettered: %s", self.name, tp.topic, tp.partition, offset, reason)

    def _apply_backpressure(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        in_flight = len(self._in_flight)
        if not self._paused and in_flight >= self._max_in_flight:
            consumer.pause(*consumer.assignment())
            self._paused = True
        elif self._paused and not self._stopping and in_flight <= self._max_in_flight // 2:
            consumer.resume(*consumer.paused())
            self._paused = False

    def _commit(self, *, force: bool = False) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        now = time.monotonic()
        if not force and now - self._last_commit < 0.05:
            return
        offsets = self._uncommitted()
        if offsets:
            failpoints.hit("bridge.before_commit")
            consumer.commit(offsets=offsets)
            for tp, meta in offsets.items():
                self._committed[tp] = meta.offset
        self._last_commit = now

    def _uncommitted(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Per partition, the offset to commit (the lowest pending one, else the next), where it moved."""
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, next_offset in self._next_offset.items():
            pending = self._pending.get(tp)
            commit_to = min(pending) if pending else next_offset
            if self._committed.get(tp) != commit_to:
                offsets[tp] = OffsetAndMetadata(commit_to, "", -1)
        return offsets
