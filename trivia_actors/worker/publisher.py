"""Publishes the results of one command and reports the effect done once every result is acknowledged.

Each result carries its request id in the ``request-id`` header: every API process reads every result, and
decodes only those a request of its own waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from schema.events import Envelope, RequestFailed
from trivia_actors.kafka import Completion, EventProducer, describe
from trivia_actors.runtime import EVENTS_PROCESSED, PROCESS_SECONDS, failpoints


class ResultsPublisher:
    """Sends result events to the results topic without blocking the calling actor."""

    def __init__(self, producer: EventProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def publish(self, command: Envelope, results: Sequence[Envelope], completion: Completion,
                started: float) -> None:
        """Produce ``results``; ``completion`` is settled when all are acknowledged or one fails."""
        remaining = [len(results)]
        lock = threading.Lock()
        outcome = "failed" if results and results[0].type == RequestFailed.TYPE else "ok"

        def on_done(error: BaseException | None) -> None:
            if error is not None:
                completion.fail(f"publish failed: {describe(error)}", retryable=True)
                return
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                PROCESS_SECONDS.labels(command.type).observe(time.monotonic() - started)
                EVENTS_PROCESSED.labels(command.type, outcome).inc()
                completion.done()

        if not results:
            completion.done()
            return
        for result in results:
            self._producer.send(self._topic, result, on_done, with_request_id=True)
            failpoints.hit("publish.after_send")
