"""The floors the pipeline stands on, each measured alone with the pipeline's own settings.

* broker: produce (acks=all, wait for the ack, as the API does) -> consume, with ``make_producer`` /
  ``make_consumer`` from :mod:`trivia_actors.kafka.clients`;
* database: the rows one answer writes at the least (an ``answers`` row and its game's score), one savepoint
  per answer and one transaction per batch, as the persistence actor does;
* in-process: the worker's own code for an answer (:meth:`GameStore.question_for`, :func:`evaluate`,
  :meth:`GameStore.record_answer`) batched like the persistence actor, without Kafka or HTTP.

The HTTP floor (a no-op app behind the same uvicorn and load generator) lives in
:mod:`gateways.simulate.floor_app`; the bench runs it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import peewee as pw
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.structs import TopicPartition

from gateways.simulate.report import summarize
from schema.events import AnswerSubmit, Envelope, GameCreate, encode
from schema.models import Answer, GameSession, Question, RequestStatus
from trivia_actors.kafka import make_consumer, make_producer
from trivia_actors.rules import evaluate
from trivia_actors.runtime import Settings
from trivia_actors.worker import GameStore

FLOOR_CLIENT = "bench-floor"


def _answer_envelope(game_id: str, subject: str, question_no: int, option: int) -> Envelope:
    key = uuid.uuid4().hex
    return Envelope(request_id=str(uuid.uuid4()), game_id=game_id, user_id=subject,
                    payload=AnswerSubmit(client_id=FLOOR_CLIENT, subject=subject, question_no=question_no,
                                         idempotency_key=key, option=option, player_name="Bench"))


# --- broker ----------------------------------------------------------------------------------------------


def broker_floor(settings: Settings, *, duration_s: float, concurrency: int, rate: float | None = None,
                 partitions: int = 6) -> dict[str, Any]:
    """Round trips through the broker: ``concurrency`` threads produce and wait for the ack (as the API's
    pool does) while one consumer reads every partition; throughput and produce -> consume latency."""
    topic = f"{settings.kafka_topic_prefix}floor.{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","), client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    producer = make_producer(settings)
    consumer = make_consumer(settings, group_id=None, client_id="bench-floor")
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    deadline = time.monotonic() + 20
    while len(consumer.partitions_for_topic(topic) or ()) < partitions and time.monotonic() < deadline:
        time.sleep(0.1)
    consumer.assign(assigned)
    consumer.seek_to_end(*assigned)
    for partition in assigned:
        consumer.position(partition)  # resolve the end offsets now, before anything is produced
    sent: dict[str, float] = {}
    rtts: list[float] = []
    acks: list[float] = []
    stop = threading.Event()
    lock = threading.Lock()
    interval = None if rate is None else concurrency / rate
    template = _answer_envelope(str(uuid.uuid4()), "api:bench:floor", 0, 1)

    def produce(worker: int) -> None:
        next_at = time.monotonic() + (interval or 0) * worker / concurrency
        while not stop.is_set():
            if interval is not None:
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_at += interval
            message_id = uuid.uuid4().hex
            envelope = Envelope(request_id=message_id, game_id=str(uuid.uuid4()), user_id=template.user_id,
                                payload=template.payload)
            started = time.monotonic()
            with lock:
                sent[message_id] = started
            producer.send(topic, key=envelope.game_id.encode(), value=encode(envelope)).get(timeout=10)
            with lock:
                acks.append(time.monotonic() - started)

    def consume() -> None:
        drain_until: float | None = None
        while True:
            batches = consumer.poll(timeout_ms=100)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    message_id = json.loads(record.value)["request_id"]
                    with lock:
                        started = sent.pop(message_id, None)
                    if started is not None:
                        rtts.append(now - started)
            if stop.is_set():
                # After the producers stop, read what they had acknowledged (for at most 3 s).
                drain_until = drain_until or now + 3.0
                with lock:
                    outstanding = len(sent)
                if not outstanding or now >= drain_until:
                    return

    reader = threading.Thread(target=consume, name="floor-consumer")
    reader.start()
    writers = [threading.Thread(target=produce, args=(n,), name=f"floor-producer-{n}") for n in range(concurrency)]
    began = time.monotonic()
    for writer in writers:
        writer.start()
    time.sleep(duration_s)
    stop.set()
    for writer in writers:
        writer.join(timeout=15)
    elapsed = time.monotonic() - began
    reader.join(timeout=15)
    producer.close(timeout=5)
    consumer.close()
    return {"round_trips": len(rtts), "round_trips_per_s": len(rtts) / elapsed, "acked_per_s": len(acks) / elapsed,
            "concurrency": concurrency, "rate": rate, "rtt_ms": summarize(rtts), "ack_ms": summarize(acks),
            "not_seen": len(acks) - len(rtts)}


# --- database -------------------------------------------------------------------------------------------


def create_games(database: pw.Database, count: int, *, questions: int = 5) -> list[tuple[Envelope, list[int]]]:
    """``count`` fresh games of one bench player each (through the worker's own create_game)."""
    store = GameStore(database)
    with database.connection_context():
        pool = [q.id for q in Question.select(Question.id).where(Question.tf_true.is_null())] or \
               [q.id for q in Question.select(Question.id)]
    rng = random.Random(7)
    games = []
    with database.connection_context():
        for n in range(count):
            subject = f"api:{FLOOR_CLIENT}:p{n % 64}"
            command = Envelope(request_id=str(uuid.uuid4()), game_id=str(uuid.uuid4()), user_id=subject,
                               payload=GameCreate(client_id=FLOOR_CLIENT, subject=subject, player_name="Bench",
                                                  question_count=questions, time_limit_s=300.0))
            chosen = rng.sample(pool, questions)
            store.create_game(command, chosen)
            games.append((command, chosen))
    return games


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def database_floor(database: pw.Database, games: Sequence[tuple[Envelope, list[int]]], *, answers: int,
                   batch: int) -> dict[str, Any]:
    """The least one answer writes: an ``answers`` row and its game's score, a savepoint each, ``batch`` per
    transaction; answers/s over ``answers`` answers."""
    rows = []
    for n in range(answers):
        command, question_ids = games[n % len(games)]
        rows.append((command.game_id, question_ids[n % len(question_ids)], n % len(question_ids)))
    with database.connection_context():
        pairs: Any = GameSession.select(GameSession.id, GameSession.owner).tuples()
        owners = {str(game_id): owner for game_id, owner in pairs}
        started, cpu = time.monotonic(), time.process_time()
        for chunk in _batches(rows, batch):
            with database.atomic():
                for game_id, question_id, position in chunk:
                    with database.atomic():
                        Answer.insert(game=game_id, question=question_id, position=position, user=owners[game_id],
                                      raw_answer="bench", verdict="correct", points=100, latency_ms=1000,
                                      judged_by="local", idempotency_key=f"{FLOOR_CLIENT}:{uuid.uuid4().hex}",
                                      request_id=str(uuid.uuid4())).execute()
                        GameSession.update(score=GameSession.score + 100).where(GameSession.id == game_id).execute()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    return {"answers": answers, "batch": batch, "seconds": elapsed, "answers_per_s": answers / elapsed,
            "cpu_ms_per_answer": cpu * 1000 / answers}


def inprocess_floor(database: pw.Database, games: Sequence[tuple[Envelope, list[int]]], *,
                    batch: int) -> dict[str, Any]:
    """Every question of ``games`` answered through the worker's code, without Kafka or HTTP: the evaluator's
    read and judgement, then :meth:`GameStore.record_answer` in one transaction per ``batch`` answers."""
    store = GameStore(database)
    questions = max(len(ids) for _c, ids in games)
    work: list[Envelope] = []
    for position in range(questions):  # like many players at once: the batch holds answers of many games
        for command, _ids in games:
            work.append(_answer_envelope(command.game_id, command.user_id or "", position, position % 4))
    with database.connection_context():
        RequestStatus.insert_many([
            {"id": e.request_id, "client_id": FLOOR_CLIENT, "subject": e.user_id, "kind": "answer.submit",
             "game_id": e.game_id, "idempotency_key": e.payload.idempotency_key}  # type: ignore[union-attr]
            for e in work]).execute()
        verdicts: dict[str, int] = {}
        chunks = _batches(work, batch)
        # The first batch, untimed, with Peewee's query log counted: statements per answer.
        counter = _StatementCounter()
        peewee_log = logging.getLogger("peewee")
        level, propagate = peewee_log.level, peewee_log.propagate
        peewee_log.addHandler(counter)
        peewee_log.setLevel(logging.DEBUG)
        peewee_log.propagate = False  # counted, not printed
        try:
            _answer_batch(database, store, chunks[0], verdicts)
        finally:
            peewee_log.removeHandler(counter)
            peewee_log.setLevel(level)
            peewee_log.propagate = propagate
        started, cpu = time.monotonic(), time.process_time()
        for chunk in chunks[1:]:
            _answer_batch(database, store, chunk, verdicts)
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    timed = len(work) - len(chunks[0])
    return {"answers": timed, "batch": batch, "seconds": elapsed, "answers_per_s": timed / elapsed if timed else None,
            "outcomes": verdicts, "statements_per_answer": counter.count / len(chunks[0]),
            "cpu_ms_per_answer": cpu * 1000 / timed if timed else None}


class _StatementCounter(logging.Handler):
    """Counts the statements Peewee logs (it logs each one at DEBUG before running it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _answer_batch(database: pw.Database, store: GameStore, chunk: Sequence[Envelope],
                  verdicts: dict[str, int]) -> None:
    """Judge a batch as the evaluators do, then record it in one transaction as the persistence actor does."""
    evaluated = []
    for envelope in chunk:
        submit = envelope.payload
        assert isinstance(submit, AnswerSubmit)
        question = store.question_for(envelope.game_id, submit.question_no)
        evaluated.append((envelope, evaluate(question, submit) if question is not None else None))
    with database.atomic():
        for envelope, evaluation in evaluated:
            results = store.record_answer(envelope, evaluation)
            kind = str(getattr(results[0].payload, "verdict", results[0].type))
            verdicts[kind] = verdicts.get(kind, 0) + 1
