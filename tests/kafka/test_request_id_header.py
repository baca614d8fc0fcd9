"""Every event is produced with its request id in the ``request-id`` header (a consumer can skip what it has no
use for without decoding it): the worker's results, and commands produced and waited for."""

from __future__ import annotations

import threading

from schema.events import Envelope, GameFinish, GameFinished, GameSummary, new_id
from tests.kafka_helpers import TopicReader
from trivia_actors.kafka import REQUEST_ID_HEADER, EventProducer, ensure_topics, header_request_id, make_producer
from trivia_actors.worker.publisher import ResultsPublisher


class _Completion:
    def __init__(self) -> None:
        self.settled = threading.Event()
        self.failure: str | None = None

    def done(self) -> None:
        self.settled.set()

    def fail(self, reason: str, *, retryable: bool = True) -> None:
        self.failure = reason
        self.settled.set()


def _records_of(settings, topic: str, game_id: str) -> list:
    reader = TopicReader(settings, topic)
    try:
        records = reader.poll_until(lambda rs: any(r.key == game_id.encode() for r in rs))
    finally:
        reader.close()
    return [r for r in records if r.key == game_id.encode()]


def test_results_and_commands_carry_the_request_id_header(settings) -> None:
    ensure_topics(settings)
    game_id = new_id()
    command = Envelope(request_id=new_id(), game_id=game_id, user_id="api:c:p",
                       payload=GameFinish(client_id="c", subject="api:c:p"))
    summary = GameSummary(status="finished", score=0, correct_count=0, question_count=1, best_streak=0)
    result = Envelope(request_id=command.request_id, game_id=game_id, user_id="api:c:p",
                      payload=GameFinished(summary=summary))
    producer = EventProducer(make_producer(settings))
    completion = _Completion()
    try:
        producer.send_and_wait(settings.topic("commands"), command)
        ResultsPublisher(producer, settings.topic("results")).publish(command, [result], completion, started=0.0)
        assert completion.settled.wait(timeout=20) and completion.failure is None, completion.failure
    finally:
        producer.close(timeout_s=2)

    for topic in ("commands", "results"):
        (record,) = _records_of(settings, topic, game_id)
        assert (REQUEST_ID_HEADER, command.request_id.encode()) in list(record.headers), topic
        assert header_request_id(record.headers) == command.request_id


def test_a_record_without_the_header_has_no_request_id() -> None:
    assert header_request_id([]) is None
    assert header_request_id(None) is None
    assert header_request_id([("dlq-reason", b"x")]) is None
