"""A session meets errors: a database away is retried (the result event is redelivered), a bug is not retried
for ever (the event is refused for good, the traceback logged), and neither stops the session."""

from __future__ import annotations

import logging

import peewee as pw
import pytest

from schema import events as ev
from tests.session.dummies import DummyApi, DummyOutbox, RaisingStore, RecordingCompletion, ShardHarness
from trivia_actors.session import GameOptions, GetState, Player, ResultArrived, StartGame

GAME_ID = "3f2b8c1e-0000-4000-8000-000000000001"
PLAYER = Player(telegram_id=42, name="Ann")


def _created(questions: int = 2) -> tuple[ResultArrived, RecordingCompletion]:
    views = tuple(ev.QuestionView(no=i, text=f"Q{i}?", options=("a", "b"), category="art", difficulty="easy")
                  for i in range(questions))
    envelope = ev.Envelope(request_id="r", game_id=GAME_ID, chat_id=42, user_id=PLAYER.subject,
                           payload=ev.GameCreated(question_count=questions, time_limit_s=30, questions=views))
    completion = RecordingCompletion()
    return ResultArrived(event=envelope, completion=completion), completion


def _play() -> StartGame:
    return StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category="art", question_count=2))


@pytest.fixture
def session_with():
    refs = []

    def start(store_error: BaseException):
        store = RaisingStore.start(store_error)
        outbox = DummyOutbox()
        ref = ShardHarness(outbox=outbox, api=DummyApi(GAME_ID), store=store)
        refs.extend([ref, store])
        ref.tell(_play())
        return ref, outbox

    yield start
    for ref in refs:
        ref.stop()


def test_a_database_outage_hands_the_result_back_to_be_redelivered(session_with) -> None:
    ref, outbox = session_with(pw.OperationalError("connection refused"))
    message, completion = _created()
    ref.tell(message)
    assert completion.wait() == [("fail", "session snapshot not saved", True)]
    assert outbox.wait_for(2)[1][2] == "3f2b8c1e:q:0", "the player still gets the question"
    assert ref.ask(GetState(chat_id=42), timeout=2).phase == "asking"


def test_a_bug_in_the_save_is_refused_for_good_and_logged_with_its_traceback(session_with, caplog) -> None:
    ref, outbox = session_with(TypeError("Object of type set is not JSON serializable"))
    message, completion = _created()
    with caplog.at_level(logging.ERROR, logger="trivia_actors.session.shard"):
        ref.tell(message)
        assert completion.wait() == [("fail", "session snapshot not saved: TypeError", False)]
        ref.ask(GetState(chat_id=42), timeout=2)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is TypeError]
    assert logged, "the bug must be logged with its traceback"
    assert outbox.wait_for(2)[1][2] == "3f2b8c1e:q:0"
    assert ref.is_alive(), "a told message must not stop the session"


def test_a_bug_in_handling_a_result_is_refused_for_good_and_the_session_lives_on(caplog) -> None:
    ref = ShardHarness(outbox=DummyOutbox(), api=DummyApi(GAME_ID))
    ref.tell(_play())
    try:
        broken, completion = _created(questions=0)  # a game without questions: asking the first one fails
        with caplog.at_level(logging.ERROR, logger="trivia_actors.session.shard"):
            ref.tell(broken)
            assert completion.wait() == [("fail", "session failed: IndexError", False)]
        assert any(r.exc_info and r.exc_info[0] is IndexError for r in caplog.records)
        assert ref.is_alive()
        assert ref.ask(GetState(chat_id=42), timeout=2).game_id == GAME_ID
    finally:
        ref.stop()
