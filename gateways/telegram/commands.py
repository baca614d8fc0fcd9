"""Commands the telebot emits on its own: a question's timer ran out (produced straight to Kafka).

A timeout is not a player's request, so it needs no request status and no API round trip. Its request id is
derived from the game and question, so a timer that fires twice (e.g. around a restart) applies once.
Every send is made on the sink's one sender thread, because a send can block (up to the producer's
``max_block_ms`` while the broker is away) and neither the session shard that decided it nor the timer
thread may block; a failed send is retried through the timer service, which hands it back to that thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid

from schema.events import Envelope, QuestionTimeout
from trivia_actors.kafka import EventProducer, describe
from trivia_actors.runtime import TimerService

logger = logging.getLogger(__name__)

TIMEOUT_NAMESPACE = uuid.UUID("0d3c2f5e-9b7a-4c1e-8f30-2a6d4b9e7c11")
MAX_ATTEMPTS = 60


class KafkaCommandSink:
    """Implements :class:`trivia_actors.session.ports.CommandSink` with the telebot's producer, retrying until acked."""

    def __init__(self, producer: EventProducer, topic: str, *, timers: TimerService,
                 client_id: str = "telebot") -> None:
        self.producer = producer
        self.topic = topic
        self.client_id = client_id
        self.timers = timers
        self._resends: queue.SimpleQueue[tuple[Envelope, int]] = queue.SimpleQueue()
        self._resender: threading.Thread | None = None
        self._resender_lock = threading.Lock()

    def question_timed_out(self, *, game_id: str, chat_id: int, subject: str, question_no: int) -> None:
        request_id = str(uuid.uuid5(TIMEOUT_NAMESPACE, f"{game_id}:{question_no}"))
        envelope = Envelope(request_id=request_id, game_id=game_id, chat_id=chat_id, user_id=subject,
                            payload=QuestionTimeout(client_id=self.client_id, subject=subject,
                                                    question_no=question_no))
        self._enqueue(envelope, 1)

    def _send(self, envelope: Envelope, attempt: int) -> None:
        def on_done(error: BaseException | None) -> None:
            if error is None:
                return
            if attempt >= MAX_ATTEMPTS:
                logger.error("game %s: timeout command not delivered after %d attempts: %s",
                             envelope.game_id, attempt, describe(error))
                return
            logger.warning("game %s: timeout command failed (attempt %d), retrying: %s",
                           envelope.game_id, attempt, describe(error))
            self.timers.call_later(min(attempt, 5), lambda: self._enqueue(envelope, attempt + 1))

        self.producer.send(self.topic, envelope, on_done)

    def _enqueue(self, envelope: Envelope, attempt: int) -> None:
        """Hand a send to the sender thread (callers are a shard or the timer thread: they only enqueue)."""
        with self._resender_lock:
            if self._resender is None:
                # Started on the first timeout: a telebot whose games never time out has no extra thread.
                self._resender = threading.Thread(target=self._resend_forever, name="timeout-command-sender",
                                                  daemon=True)
                self._resender.start()
        self._resends.put((envelope, attempt))

    def _resend_forever(self) -> None:
        while True:
            envelope, attempt = self._resends.get()
            try:
                self._send(envelope, attempt)
            except Exception:
                # EventProducer.send reports KafkaErrors through on_done; anything else is a bug, and the
                # thread must outlive it for the other games' retries.
                logger.exception("game %s: sending the timeout command failed (attempt %d)",
                                 envelope.game_id, attempt)
