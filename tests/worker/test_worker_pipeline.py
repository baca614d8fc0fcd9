"""The worker against the real broker and PostgreSQL: game creation, idempotent scoring, the DLQ."""

from __future__ import annotations

import time

import pytest

from schema.events import AnswerSubmit, Envelope, GameCreate, new_id
from schema.models import Answer, GameSession, RequestStatus
from tests.kafka_helpers import CommandWriter, TopicReader
from trivia_actors.kafka import CountInFlight, EventProducer, IsAssigned, ensure_topics, make_producer
from trivia_actors.worker import WorkerRuntime


@pytest.fixture
def worker(settings, database):
    ensure_topics(settings)
    runtime = WorkerRuntime(settings, database, EventProducer(make_producer(settings)), evaluators=2)
    deadline = time.monotonic() + 20
    while not runtime.is_assigned() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.is_assigned(), "worker never joined its consumer group"
    yield runtime
    runtime.stop()


@pytest.fixture
def kafka(settings, worker):
    writer = CommandWriter(settings)
    results = TopicReader(settings, "results")
    dlq = TopicReader(settings, "dlq")
    yield writer, results, dlq
    writer.close()
    results.close()
    dlq.close()


def _create(writer: CommandWriter, results: TopicReader, subject: str, count: int = 3) -> tuple[str, list]:
    game_id = new_id()
    command = Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                       payload=GameCreate(client_id="c1", subject=subject, player_name="Ann", question_count=count))
    writer.send(command)
    results.poll_until(lambda rs: any(e.game_id == game_id and e.type == "game.created" for e in _decode(rs)))
    created = next(e for e in results.events() if e.game_id == game_id and e.type == "game.created")
    return game_id, list(created.payload.questions)


def _decode(records):
    from schema.events import decode
    return [decode(r.value) for r in records]


def test_answer_delivered_twice_is_scored_once(kafka, database):
    writer, results, _dlq = kafka
    subject = f"api:c1:{new_id()}"
    game_id, questions = _create(writer, results, subject)
    assert len(questions) == 3
    answer = Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                      payload=AnswerSubmit(client_id="c1", subject=subject, question_no=0, idempotency_key="k-1",
                                           option=0))
    writer.send(answer)
    writer.send(answer)  # the same event redelivered (same ids): must change nothing
    results.poll_until(lambda rs: sum(1 for e in _decode(rs) if e.request_id == answer.request_id) >= 2)
    time.sleep(0.5)
    evaluated = [e for e in results.events() if e.request_id == answer.request_id]
    assert {e.type for e in evaluated} == {"answer.evaluated"}
    assert len({e.event_id for e in evaluated}) == 1, "a replay must publish the same event id"
    assert evaluated[0].payload == evaluated[1].payload
    with database.connection_context():
        assert Answer.select().where(Answer.game == game_id).count() == 1
        game = GameSession.get_by_id(game_id)
        assert game.current_no == 1
        assert game.score == evaluated[0].payload.points
        assert RequestStatus.get_by_id(answer.request_id).status == "done"


def test_garbage_goes_to_dlq_and_next_event_is_processed(kafka):
    writer, results, dlq = kafka
    writer.send_raw(b"poison", b"\xff\xfenot json at all")
    writer.send_raw(b"poison", b'{"v": 99, "type": "game.create"}')
    subject = f"api:c1:{new_id()}"
    _game_id, questions = _create(writer, results, subject, count=2)
    assert len(questions) == 2
    records = dlq.poll_until(lambda rs: len(rs) >= 2)
    reasons = sorted(dict(r.headers)["dlq-reason"].decode() for r in records)
    assert reasons == ["envelope: unsupported version 99", "not valid UTF-8"]
    assert records[0].value == b"\xff\xfenot json at all"


POISON = [
    b"",  # empty
    b"null",
    b"[1, 2, 3]",
    b'{"v": 1}',  # an envelope without a type
    b'{"v": 1, "type": "game.explode", "payload": {}}',
    b'{"v": 1, "type": "answer.submit", "payload": {"question_no": NaN}}',
    b'{"v": 1, "type": "answer.submit", "payload": {"question_no": ' + b"9" * 5000 + b"}}",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"v": 1, "type": "game.create", "payload": "\\u0000"}',
]


def test_every_kind_of_undecodable_event_is_dead_lettered_and_consumption_goes_on(kafka):
    writer, results, dlq = kafka
    for value in POISON:
        writer.send_raw(b"poison", value)
    subject = f"api:c1:{new_id()}"
    _game_id, questions = _create(writer, results, subject, count=1)
    assert len(questions) == 1, "a real command after the poison is still processed"
    records = dlq.poll_until(lambda rs: len(rs) >= len(POISON))
    assert sorted(r.value for r in records) == sorted(POISON), "each poison record is copied to the DLQ as it was"
    for record in records:
        headers = dict(record.headers)
        assert headers["dlq-reason"] and headers["dlq-source"] and headers["dlq-consumer"] == b"worker"


def test_full_game_finishes_with_summary(kafka, database):
    writer, results, _dlq = kafka
    subject = f"api:c1:{new_id()}"
    game_id, _questions = _create(writer, results, subject, count=2)
    for no in range(2):
        writer.send(Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                             payload=AnswerSubmit(client_id="c1", subject=subject, question_no=no,
                                                  idempotency_key=f"k{no}", option=1)))
    results.poll_until(lambda rs: any(e.game_id == game_id and e.type == "game.finished" for e in _decode(rs)))
    finished = next(e for e in results.events() if e.game_id == game_id and e.type == "game.finished")
    with database.connection_context():
        game = GameSession.get_by_id(game_id)
        assert game.status == "finished"
        assert finished.payload.summary.score == game.score
        assert finished.payload.summary.question_count == 2


def test_group_game_first_correct_answer_wins(kafka, database):
    writer, results, _dlq = kafka
    game_id = new_id()
    create = Envelope(request_id=new_id(), game_id=game_id, chat_id=-100, user_id="tg:1",
                      payload=GameCreate(client_id="c1", subject="tg:1", player_name="Ann", mode="group",
                                         question_count=2))
    writer.send(create)
    results.poll_until(lambda rs: any(e.game_id == game_id and e.type == "game.created" for e in _decode(rs)))
    with database.connection_context():
        from schema.models import GameQuestion, Question
        gq = GameQuestion.get(GameQuestion.game == game_id, GameQuestion.position == 0)
        right = gq.options.index(Question.get_by_id(gq.question_id).answer)
    wrong = (right + 1) % 4

    def answer(subject: str, name: str, option: int) -> Envelope:
        envelope = Envelope(request_id=new_id(), game_id=game_id, chat_id=-100, user_id=subject,
                            payload=AnswerSubmit(client_id="c1", subject=subject, question_no=0,
                                                 idempotency_key=f"{subject}-0-{option}", option=option,
                                                 player_name=name))
        writer.send(envelope)
        results.poll_until(lambda rs: any(e.request_id == envelope.request_id for e in _decode(rs)))
        return next(e for e in results.events() if e.request_id == envelope.request_id)

    miss = answer("tg:2", "Bo", wrong)
    assert (miss.type, miss.payload.verdict, miss.payload.closed) == ("answer.evaluated", "incorrect", False)
    again = answer("tg:2", "Bo", right)
    assert (again.type, again.payload.code) == ("request.failed", "already_answered")
    win = answer("tg:3", "Cy", right)
    assert (win.payload.verdict, win.payload.closed, win.payload.player_name) == ("correct", True, "Cy")
    assert win.payload.next_question_no == 1
    assert [(line.name, line.score > 0) for line in win.payload.scoreboard] == [("Cy", True), ("Bo", False)]
    late = answer("tg:1", "Ann", right)
    assert (late.type, late.payload.code) == ("request.failed", "question_closed")



def test_the_bridge_answers_typed_queries_and_outlives_an_untyped_message(worker, kafka):
    writer, results, _dlq = kafka
    assert worker.bridge.ask("is_assigned", timeout=2) is None, "a bare string is no query any more"
    assert worker.bridge.ask(IsAssigned(), timeout=2) is True
    _game_id, questions = _create(writer, results, f"api:c1:{new_id()}", count=1)
    assert len(questions) == 1, "the bridge still consumes after an unexpected message"
    deadline = time.monotonic() + 10  # the effect is reported just after the result is acknowledged
    while worker.bridge.ask(CountInFlight(), timeout=2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.bridge.ask(CountInFlight(), timeout=2) == 0, "the settled record is still counted in flight"
