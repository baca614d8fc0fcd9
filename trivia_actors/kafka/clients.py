"""Kafka clients with the settings measured in DESIGN.md section 13, and the event producer.

kafka-python 3.0 works against Apache Kafka and against Tansu, the Kafka-compatible broker used here:
a short ``fetch_max_wait_ms`` (Tansu does not answer a waiting fetch when data arrives), lengthened by
:class:`FetchPacer` while a consumer is idle, and a short session timeout (Tansu completes a group join only
after half of it). Producers batch for ``KAFKA_LINGER_MS``. Results (and the commands the API waits for) carry
their request id in a header, so a consumer can skip events it has no use for without decoding them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from schema.events import Envelope, encode
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)

TOPICS = ("commands", "results", "dlq")
REQUEST_ID_HEADER = "request-id"
RENEW_AFTER_S = 15.0  # sends failing this long with no success: the producer is replaced
# While a starting process waits for the broker, each attempt to bootstrap is this short: kafka-python's own
# bootstrap backs off up to 30 s between tries, long enough to sleep through the broker's return.
BOOTSTRAP_ATTEMPT_S = 5.0


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time; the event may be retried with the same ids."""


# An idle consumer's fetch wait. Tansu re-reads its log a few times during a wait rather than answering when
# data arrives: at 250 ms the first record after a quiet spell took 13-44 ms (p50) and at most 170 ms there
# (7 and 17 ms at 10 ms), and the consumer costs 2% of a core instead of 24% (client and Tansu). Apache Kafka
# answers a waiting fetch as soon as data arrives.
IDLE_FETCH_MAX_WAIT_MS = 250
IDLE_AFTER_S = 1.0  # no record for this long: the consumer is idle


def make_producer(settings: Settings, *, linger_ms: int | None = None,
                  bootstrap_timeout_s: float = 30.0) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all) and batches for
    ``linger_ms`` (``KAFKA_LINGER_MS`` unless given)."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms if linger_ms is None else linger_ms,
        max_block_ms=3000,
        request_timeout_ms=5000,
        retries=5,
        client_id="trivia-producer",
    )


def make_consumer(settings: Settings, *, group_id: str | None, topics: tuple[str, ...] = (),
                  client_id: str = "trivia-consumer", auto_offset_reset: str = "earliest") -> KafkaConsumer:
    """A consumer with manual commits (offsets are committed only after the effect)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 4, 250),
        max_poll_records=500,
        max_poll_interval_ms=300_000,
    )
    if topics:
        consumer.subscribe(list(topics))
    return consumer


def fetch_max_wait_ms(consumer: KafkaConsumer) -> int:
    """The fetch wait ``consumer`` puts in its next fetch request."""
    config = _fetcher_config(consumer)
    return int((config if config is not None else consumer.config)["fetch_max_wait_ms"])


def _fetcher_config(consumer: KafkaConsumer) -> dict[str, Any] | None:
    # kafka-python has no setter for the fetch wait, but its fetcher reads this dict for every fetch request.
    config = getattr(getattr(consumer, "_fetcher", None), "config", None)
    return config if isinstance(config, dict) and "fetch_max_wait_ms" in config else None


class FetchPacer:
    """Keeps a consumer's fetch wait short while records flow and long once it is idle.

    Tansu does not answer a waiting fetch when data arrives, so the short wait its latency needs
    (``KAFKA_FETCH_MAX_WAIT_MS=10``) costs an idle consumer about a hundred empty fetches a second (measured:
    15% of a core in the client and 8% in Tansu). After ``idle_after_s`` without a record the wait becomes
    ``idle_wait_ms``: on Apache Kafka that costs nothing (the broker answers as soon as data arrives), on
    Tansu the first records after a quiet spell wait longer (see ``IDLE_FETCH_MAX_WAIT_MS``). A configured
    wait as long (as for Apache Kafka) is left alone. Call :meth:`observe` after every poll, on the polling
    thread.
    """

    def __init__(self, consumer: KafkaConsumer, *, idle_wait_ms: int = IDLE_FETCH_MAX_WAIT_MS,
                 idle_after_s: float = IDLE_AFTER_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = _fetcher_config(consumer)
        self.busy_wait_ms = int(consumer.config["fetch_max_wait_ms"])
        self.idle_wait_ms = max(idle_wait_ms, self.busy_wait_ms)
        self._idle_after_s = idle_after_s
        self._clock = clock
        self._last_active = clock()
        self.idle = False
        if self._config is None and self.idle_wait_ms > self.busy_wait_ms:
            logger.warning("this kafka-python keeps its fetch wait private: an idle consumer keeps fetching "
                           "every %d ms", self.busy_wait_ms)

    def observe(self, active: bool) -> None:
        """Note a poll's outcome: ``active`` if it returned records (or the consumer is busy anyway)."""
        now = self._clock()
        if active:
            self._last_active = now
            if self.idle:
                self._set(idle=False)
        elif not self.idle and now - self._last_active >= self._idle_after_s:
            self._set(idle=True)

    def _set(self, *, idle: bool) -> None:
        self.idle = idle
        if self._config is not None:
            self._config["fetch_max_wait_ms"] = self.idle_wait_ms if idle else self.busy_wait_ms


def ensure_topics(settings: Settings, *, timeout_s: float = 30.0) -> list[str]:
    """Create the commands, results and dlq topics if missing; return the names created."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        client_id="trivia-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        wanted = [settings.topic(name) for name in TOPICS]
        missing = [name for name in wanted if name not in existing]
        created: list[str] = []
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name=name, num_partitions=settings.kafka_partitions, replication_factor=1)]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                logger.info("topic %s was created concurrently", name)
        return created
    finally:
        admin.close()


class EventProducer:
    """Produces envelopes keyed by game id; thread-safe (kafka-python's producer is).

    Given a ``factory``, it heals itself: kafka-python's idempotent producer never recovers once the broker
    has lost its producer state (a replaced broker, a wiped log: every send times out for good), so after
    ``renew_after_s`` of failures with no success in between the producer is replaced by a new one.
    """

    def __init__(self, producer: KafkaProducer, *, factory: Callable[[], KafkaProducer] | None = None,
                 renew_after_s: float = RENEW_AFTER_S) -> None:
        self._producer = producer
        self._factory = factory
        self._renew_after_s = renew_after_s
        self._failing_since: float | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @classmethod
    def connect(cls, settings: Settings, *, wait_s: float = 0.0) -> EventProducer:
        """A self-healing producer for ``settings`` (raises KafkaError when the broker is unreachable).

        With ``wait_s``, an unreachable broker is tried again for that long, so a process started while the
        broker restarts starts once it is back instead of failing.
        """
        if wait_s <= 0:
            return cls(make_producer(settings), factory=lambda: make_producer(settings))
        deadline = time.monotonic() + wait_s
        while True:
            attempt_s = max(min(BOOTSTRAP_ATTEMPT_S, deadline - time.monotonic()), 0.5)
            try:
                return cls(make_producer(settings, bootstrap_timeout_s=attempt_s),
                           factory=lambda: make_producer(settings))
            except KafkaError as exc:
                if time.monotonic() >= deadline:
                    raise
                logger.info("waiting for the broker at %s: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
                time.sleep(0.2)  # an error raised at once (not a timed-out attempt) is not retried in a busy loop

    def _succeeded(self) -> None:
        self._failing_since = None

    def _failed(self) -> None:
        """Note a failed send; replace the producer once sends have failed for ``renew_after_s``."""
        now = time.monotonic()
        with self._lock:
            if self._failing_since is None:
                self._failing_since = now
                return
            if self._factory is None or self._closed.is_set() or now - self._failing_since < self._renew_after_s:
                return
            try:
                fresh = self._factory()
            except KafkaError as exc:
                logger.warning("producer: a new producer could not connect yet: %s", type(exc).__name__)
                return
            stale, self._producer, self._failing_since = self._producer, fresh, now
        logger.warning("producer: sends failed for %.0fs; replaced the producer", self._renew_after_s)
        threading.Thread(target=_close_quietly, args=(stale,), name="producer-close", daemon=True).start()

    def send(self, topic: str, envelope: Envelope, on_done: Callable[[BaseException | None], None],
             *, key: str | None = None, with_request_id: bool = False) -> None:
        """Produce without blocking on the ack; ``on_done`` runs on the producer's I/O thread.

        ``with_request_id`` adds :func:`event_headers`, for events a consumer may skip without decoding them.
        """
        record: dict[str, Any] = {"key": (key or envelope.game_id).encode(), "value": encode(envelope)}
        if with_request_id:
            record["headers"] = event_headers(envelope)
        try:
            future = self._producer.send(topic, **record)
        except KafkaError as exc:
            self._failed()
            on_done(exc)
            return

        def acked(_metadata: Any) -> None:
            self._succeeded()
            on_done(None)

        def refused(error: BaseException) -> None:
            self._failed()
            on_done(error)

        future.add_callback(acked)
        future.add_errback(refused)

    def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]],
                 *, timeout_s: float = 10.0) -> None:
        """Produce raw bytes (an encoded event, or the dead-letter copy of a poison message) and wait for the
        ack; raise :class:`BrokerUnavailable` if none comes."""
        try:
            self._producer.send(topic, key=key, value=value, headers=headers).get(timeout=timeout_s)
        except KafkaError as exc:
            self._failed()
            raise BrokerUnavailable(f"broker did not acknowledge on {topic}: {type(exc).__name__}") from exc
        self._succeeded()

    def send_and_wait(self, topic: str, envelope: Envelope, *, timeout_s: float = 10.0,
                      key: str | None = None) -> None:
        """Produce (with :func:`event_headers`) and block until the broker acknowledges; raise
        :class:`BrokerUnavailable` if not."""
        self.send_raw(topic, (key or envelope.game_id).encode(), encode(envelope), event_headers(envelope),
                      timeout_s=timeout_s)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait for every buffered event to be acknowledged."""
        self._producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush and close once."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            logger.warning("producer flush on close failed: %s", type(exc).__name__)
        _close_quietly(self._producer, timeout_s)


def _close_quietly(producer: KafkaProducer, timeout_s: float = 5.0) -> None:
    """Close a producer; events still unacknowledged are abandoned (their senders retry by their ids)."""
    try:
        producer.close(timeout=timeout_s)
    except KafkaError as exc:
        logger.warning("producer close: %s (unacknowledged events are retried by their senders)",
                       type(exc).__name__)


def event_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """Headers naming the event's request id, readable without decoding the value."""
    return [(REQUEST_ID_HEADER, envelope.request_id.encode())]


def header_request_id(headers: Sequence[tuple[str, bytes | None]] | None) -> str | None:
    """The request id in a record's headers; None for a record produced without it (an older producer)."""
    for name, value in headers or ():
        if name == REQUEST_ID_HEADER and value is not None:
            return value.decode("utf-8", "replace")
    return None


def describe(exc: BaseException | Any) -> str:
    """A short error description without payloads or secrets."""
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:200]}"
