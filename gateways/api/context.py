"""What the routes share: settings, tokens, revocations, rate limits, the store, the producer, the listener.

Blocking work (database, the broker's ack) runs in dedicated thread pools so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import peewee as pw
from kafka.errors import KafkaError

from gateways.api.auth import TokenService
from gateways.api.errors import unavailable
from gateways.api.ratelimit import TokenBucketLimiter
from gateways.api.results import ResultsListener
from gateways.api.revocation import RevocationCache
from gateways.api.store import ApiStore
from gateways.api.tokens import TokenStore
from schema.events import Envelope
from trivia_actors.kafka import BrokerUnavailable, EventProducer
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
PURGE_EVERY_S = 600.0


class ProducerHolder:
    """Creates the Kafka producer on first use, so the API starts (and answers 503) while the broker is down."""

    def __init__(self, settings: Settings, producer: EventProducer | None = None) -> None:
        self._settings = settings
        self._producer = producer
        self._lock = threading.Lock()

    def get(self) -> EventProducer:
        """The producer, creating it if needed; :class:`BrokerUnavailable` when the broker is unreachable."""
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = EventProducer.connect(self._settings)
                except KafkaError as exc:
                    raise BrokerUnavailable(f"broker unreachable: {type(exc).__name__}") from exc
            return self._producer

    def close(self) -> None:
        """Flush and close the producer if it was created."""
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None


class ApiContext:
    """Everything a request needs; built once per process (or per test) and closed by the app's lifespan."""

    def __init__(self, settings: Settings, database: pw.Database, *, producer: EventProducer | None = None,
                 listen_for_results: bool = True, revocation_refresh_s: float = 2.0) -> None:
        self.settings = settings
        self.tokens = TokenService(settings)
        self.store = ApiStore(database)
        self.token_store = TokenStore(database, refresh_ttl_s=settings.refresh_token_ttl_s)
        self.producers = ProducerHolder(settings, producer)
        self.listener = ResultsListener(settings) if listen_for_results else None
        self.db_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api-db")
        self.kafka_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="api-kafka")
        self.revocations = RevocationCache(self._load_revocations, self.db_pool, refresh_s=revocation_refresh_s,
                                           max_stale_s=max(30.0, revocation_refresh_s))
        self.limiter = TokenBucketLimiter(settings.api_rate_limit)
        self._last_purge = 0.0
        self._closed = False

    def _load_revocations(self) -> tuple[frozenset[str], frozenset[str]]:
        now = time.monotonic()
        if now - self._last_purge > PURGE_EVERY_S:
            self._last_purge = now
            purged = self.token_store.purge_expired()
            if purged:
                logger.info("purged %d expired token rows", purged)
        return self.token_store.revocation_snapshot()

    def start(self) -> None:
        """Start the results listener and load the revocation snapshot (tolerating a database outage)."""
        if self.listener is not None:
            self.listener.start()
        try:
            self.revocations.reload()
        except pw.PeeweeException as exc:
            logger.warning("revocation snapshot not loaded at start (%s): it loads on first use",
                           type(exc).__name__)

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call in the database pool; 503 when the database is unreachable."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.db_pool, lambda: fn(*args, **kwargs))
        except (pw.OperationalError, pw.InterfaceError) as exc:
            logger.warning("database unavailable: %s", type(exc).__name__)
            raise unavailable("the database is unavailable, retry later") from None

    async def produce(self, envelope: Envelope) -> None:
        """Produce a command and wait for the broker's ack without blocking the loop."""
        loop = asyncio.get_running_loop()

        def send() -> None:
            self.producers.get().send_and_wait(self.settings.topic("commands"), envelope, timeout_s=5.0)

        await loop.run_in_executor(self.kafka_pool, send)

    def close(self) -> None:
        """Release pools, the producer and the listener (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.listener is not None:
            self.listener.stop()
        self.producers.close()
        self.db_pool.shutdown(wait=True)
        self.kafka_pool.shutdown(wait=True)
