"""Commands the telebot emits on its own: a question's timer ran out (produced straight to Kafka).

A timeout is not a player's request, so it needs no request status and no API round trip. Its request id is
derived from the game and question, so a timer that fires twice (e.g. around a restart) applies once.
"""

from __future__ import annotations

import logging
import threading
import uuid

from schema.events import Envelope, QuestionTimeout
from trivia_actors.kafka import EventProducer, describe

logger = logging.getLogger(__name__)

TIMEOUT_NAMESPACE = uuid.UUID("0d3c2f5e-9b7a-4c1e-8f30-2a6d4b9e7c11")
MAX_ATTEMPTS = 60


class KafkaCommandSink:
    """Implements :class:`trivia_actors.session.ports.CommandSink` with the telebot's producer, retrying until acked."""

    def __init__(self, producer: EventProducer, topic: str, client_id: str = "telebot") -> None:
        self.producer = producer
        self.topic = topic
        self.client_id = client_id

    def question_timed_out(self, *, game_id: str, chat_id: int, subject: str, question_no: int) -> None:
        request_id = str(uuid.uuid5(TIMEOUT_NAMESPACE, f"{game_id}:{question_no}"))
        envelope = Envelope(request_id=request_id, game_id=game_id, chat_id=chat_id, user_id=subject,
                            payload=QuestionTimeout(client_id=self.client_id, subject=subject,
                                                    question_no=question_no))
        self._send(envelope, attempt=1)

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
            timer = threading.Timer(min(attempt, 5), self._send, args=(envelope, attempt + 1))
            timer.daemon = True
            timer.start()

        self.producer.send(self.topic, envelope, on_done)
