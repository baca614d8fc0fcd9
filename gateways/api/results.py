"""Wakes long-polling requests: a consumer of the results topic (no group, every partition, from the end).

The database stays the source of truth; this only shortens the wait. A missed wake-up costs at most one
re-check interval of the long poll, never a result. Every API process reads every result, so an event is
decoded only if a request here waits for it: its request id is read from the ``request-id`` header, and the
others are remembered undecoded (decoded if :meth:`ResultsListener.recent` asks for them). An event without
the header (an older producer) is decoded to find its request id.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from typing import Any

from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from schema.events import EventDecodeError, decode, to_dict
from trivia_actors.kafka import FetchPacer, header_request_id, make_consumer
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)

RECENT_RESULTS = 20_000
POLL_TIMEOUT_MS = 250  # how soon stop() is noticed; records return a poll at once


class ResultsListener:
    """Background thread reading ``trivia.results``; ``wait`` resolves when a request's result arrives."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = settings.topic("results")
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        # The first result of each request: its dict, or the raw value while nobody asked for it.
        self._recent: OrderedDict[str, dict[str, Any] | bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-listener", daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        """Start consuming in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop consuming and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def recent(self, request_id: str) -> dict[str, Any] | None:
        """The first result seen for ``request_id`` (the one stored as its status), if still remembered."""
        with self._lock:
            seen = self._recent.get(request_id)
        if not isinstance(seen, bytes):
            return seen
        try:
            document = to_dict(decode(seen))
        except EventDecodeError:
            document = None
        with self._lock:
            if document is None:
                self._recent.pop(request_id, None)
            elif request_id in self._recent:
                self._recent[request_id] = document
        return document

    def register(self, request_id: str) -> asyncio.Event:
        """An event set when a result for ``request_id`` arrives; call from the event loop."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.setdefault(request_id, []).append((asyncio.get_running_loop(), event))
        return event

    def unregister(self, request_id: str, event: asyncio.Event) -> None:
        """Forget a waiter (after it woke or timed out)."""
        with self._lock:
            waiters = self._waiters.get(request_id, [])
            self._waiters[request_id] = [(lp, ev) for lp, ev in waiters if ev is not event]
            if not self._waiters[request_id]:
                del self._waiters[request_id]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except KafkaError as exc:
                self.ready.clear()
                logger.warning("results listener: broker error, reconnecting: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def _consume(self) -> None:
        consumer = make_consumer(self._settings, group_id=None, client_id="trivia-api-results",
                                 auto_offset_reset="latest")
        try:
            partitions = None
            while not partitions and not self._stop.is_set():
                partitions = consumer.partitions_for_topic(self._topic)
                if not partitions:
                    self._stop.wait(0.5)
            if not partitions:
                return
            tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_end(*tps)
            for tp in tps:
                consumer.position(tp)
            self.ready.set()
            pacer = FetchPacer(consumer)
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                pacer.observe(bool(batches))
                for records in batches.values():
                    for record in records:
                        self._deliver(record.value, record.headers)
        finally:
            consumer.close(autocommit=False)

    def _deliver(self, raw: bytes | None, headers: Any = None) -> None:
        """Remember a result and wake its waiters; decode it only if someone waits (or it has no header)."""
        request_id = header_request_id(headers)
        if request_id is not None and raw is not None:
            with self._lock:
                waited = request_id in self._waiters
                if not waited:
                    self._remember(request_id, raw)
            if not waited:
                return
        try:
            envelope = decode(raw)
        except EventDecodeError:
            return
        with self._lock:
            self._remember(envelope.request_id, to_dict(envelope))
            waiters = list(self._waiters.get(envelope.request_id, []))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def _remember(self, request_id: str, seen: dict[str, Any] | bytes) -> None:
        """Keep the first result of ``request_id`` (the one stored as its status); call with the lock held."""
        if request_id not in self._recent:
            self._recent[request_id] = seen
            if len(self._recent) > RECENT_RESULTS:
                self._recent.popitem(last=False)
