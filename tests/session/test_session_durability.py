"""Sessions survive: snapshots and the outbound ledger in PostgreSQL, passivation, restore after a restart."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from schema import events as ev
from schema.telebot_models import ChatSession, OutboundMessage
from tests.session.dummies import DummyApi, DummyCommands, DummyCompletion, DummyOutbox
from trivia_actors.runtime import TimerService
from trivia_actors.session import (
    AnswerGiven,
    ApiRefused,
    GameOptions,
    LoadPending,
    MarkSent,
    Player,
    ResultArrived,
    SessionKind,
    SessionStoreActor,
    StartGame,
    start_sessions,
)


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


class Engine:
    """The telebot's session engine over a real store: two shards and a timer service."""

    def __init__(self, *, outbox, api, store, passivate_after_s: float = 60.0) -> None:
        self.timers = TimerService().start()
        self.router = start_sessions(shards=2, outbox=outbox, api=api, timers=self.timers, commands=DummyCommands(),
                                     writers=[store], passivate_after_s=passivate_after_s)

    def tell(self, message) -> None:
        self.router.tell(message)

    def chats(self, kind: SessionKind = SessionKind.LIVE) -> list[int]:
        return self.router.chats(kind)

    def stop(self) -> None:
        self.router.stop()
        self.timers.stop()


@pytest.fixture
def store(database):
    ref = SessionStoreActor.start(database)
    yield ref
    ref.stop()


def _questions():
    return tuple(ev.QuestionView(no=i, text=f"Q{i}?", options=("a", "b", "c", "d"), category="art",
                                 difficulty="easy") for i in range(2))


def _created(game_id: str, chat_id: int) -> ResultArrived:
    envelope = ev.Envelope(request_id=str(uuid.uuid4()), game_id=game_id, chat_id=chat_id, user_id="tg:7",
                           payload=ev.GameCreated(question_count=2, time_limit_s=600, questions=_questions()))
    return ResultArrived(event=envelope, completion=DummyCompletion())


def test_restart_restores_the_game_and_resends_only_unsent_calls(store, database):
    chat_id = int(uuid.uuid4().int % 10**9)
    game_id = str(uuid.uuid4())
    tag = game_id.replace("-", "")[:8]
    player = Player(telegram_id=chat_id, name="Kim")
    outbox, api = DummyOutbox(), DummyApi(game_id)
    manager = Engine(outbox=outbox, api=api, store=store)
    manager.tell(StartGame(chat_id=chat_id, player=player, update_id=1,
                           options=GameOptions(category=None, question_count=2)))
    manager.tell(_created(game_id, chat_id))
    calls = outbox.wait_for(2)
    assert calls[1][2] == f"{tag}:q:0"
    # The first message reached Telegram, the question did not, when the process died.
    with database.connection_context():
        ledger = list(OutboundMessage.select().where(OutboundMessage.chat_id == chat_id).order_by(OutboundMessage.id))
    assert [row.key for row in ledger] == ["prep:1", f"{tag}:q:0"]
    store.ask(MarkSent(ledger_id=ledger[0].id, message_id=501))
    manager.stop()

    pending = store.ask(LoadPending())
    assert [(op.chat_id, op.key) for op in pending if op.chat_id == chat_id] == [(chat_id, f"{tag}:q:0")]
    outbox2, api2 = DummyOutbox(), DummyApi(game_id)
    manager2 = Engine(outbox=outbox2, api=api2, store=store)
    assert chat_id in manager2.chats(SessionKind.PASSIVE), "after a restart an open game sleeps until it is due"
    manager2.tell(AnswerGiven(chat_id=chat_id, player=player, game_tag=tag, question_no=0, option=2, update_id=3))
    _wait(lambda: any(c[0] == "submit_answer" for c in api2.calls))
    assert [c[1]["option"] for c in api2.calls if c[0] == "submit_answer"] == [2]
    assert outbox2.calls == [], "a restored session must not repeat what it already decided to send"
    # A /play update delivered again after the restart is recognised and ignored.
    manager2.tell(StartGame(chat_id=chat_id, player=player, update_id=1,
                            options=GameOptions(category=None, question_count=2)))
    manager2.chats()
    assert outbox2.calls == []
    manager2.stop()


class RefusingApi(DummyApi):
    """Refuses each game creation with the next of ``statuses``, as the API client reports it after its retries."""

    def __init__(self, game_id: str, statuses: list[int]) -> None:
        super().__init__(game_id)
        self.statuses = statuses

    def create_game(self, *, reply, **kwargs) -> None:
        self.calls.append(("create_game", kwargs))
        status = self.statuses.pop(0)
        code, message = (("broker_unavailable", "the message broker is unavailable; retry with the same "
                          "Idempotency-Key") if status == 503 else ("invalid", "category: unknown"))
        reply(ApiRefused(kind=ev.GameCreate.TYPE, status=status, code=code, message=message,
                                 key=kwargs["idempotency_key"]))


def test_every_refused_play_is_answered_and_a_passing_outage_asks_to_try_again(store, database):
    chat_id = int(uuid.uuid4().int % 10**9)
    player = Player(telegram_id=chat_id, name="Ola")
    outbox = DummyOutbox()
    manager = Engine(outbox=outbox, api=RefusingApi(str(uuid.uuid4()), [503, 503, 422]), store=store)
    try:
        for n, update_id in enumerate((21, 22, 23)):
            manager.tell(StartGame(chat_id=chat_id, player=player, update_id=update_id,
                                   options=GameOptions(category=None, question_count=2)))
            outbox.wait_for(2 * (n + 1))  # "Preparing", then the refusal: the session has ended
    finally:
        manager.stop()
    texts = [call[3] for call in outbox.calls]
    busy = "😕 Could not start a game: the game service is busy right now. Please send /play again in a minute."
    assert texts[1::2] == [busy, busy, "😕 Could not start a game: category: unknown"], (
        "each refused /play gets its own answer; a passing outage asks to try again")


def test_idle_sessions_are_passivated_and_woken_by_the_next_update(store, database):
    chat_id = int(uuid.uuid4().int % 10**9)
    game_id = str(uuid.uuid4())
    tag = game_id.replace("-", "")[:8]
    player = Player(telegram_id=chat_id, name="Lee")
    outbox, api = DummyOutbox(), DummyApi(game_id)
    manager = Engine(outbox=outbox, api=api, store=store, passivate_after_s=0.3)
    manager.tell(StartGame(chat_id=chat_id, player=player, update_id=11,
                           options=GameOptions(category=None, question_count=2)))
    manager.tell(_created(game_id, chat_id))
    outbox.wait_for(2)
    # The database is shared with other tests: look at this chat only.
    _wait(lambda: chat_id in manager.chats(SessionKind.PASSIVE))
    assert chat_id not in manager.chats()
    with database.connection_context():
        assert ChatSession.get_by_id(chat_id).phase == "asking"
    manager.tell(AnswerGiven(chat_id=chat_id, player=player, game_tag=tag, question_no=0, option=1, update_id=12))
    _wait(lambda: any(c[0] == "submit_answer" for c in api.calls))
    assert chat_id not in manager.chats(SessionKind.PASSIVE)
    assert chat_id in manager.chats()
    manager.stop()


def test_the_ledger_forgets_old_sent_calls_and_claims_but_never_a_pending_call(store, database):
    from schema.models import ProcessedMessage, utcnow
    from trivia_actors.session import Claim, PurgeLedger

    old, fresh = utcnow() - dt.timedelta(days=8), utcnow() - dt.timedelta(days=6)
    tag = uuid.uuid4().hex[:8]
    with database.connection_context():
        for name, status, sent_at in (("old-sent", "sent", old), ("fresh-sent", "sent", fresh),
                                      ("old-pending", "pending", None)):
            OutboundMessage.insert(dedupe_key=f"{tag}:{name}", chat_id=424242, key=f"{tag}:{name}", kind="send",
                                   text="hi", status=status, sent_at=sent_at, created_at=old).execute()
        ProcessedMessage.insert(key=f"{tag}:old-claim", created_at=old).execute()
        ProcessedMessage.insert(key=f"{tag}:fresh-claim", created_at=fresh).execute()

    assert store.ask(PurgeLedger(older_than=dt.timedelta(days=7)), timeout=10) >= 2

    with database.connection_context():
        kept = {row.key for row in OutboundMessage.select().where(OutboundMessage.key.startswith(tag))}
        claims = {row.key for row in ProcessedMessage.select().where(ProcessedMessage.key.startswith(tag))}
    assert kept == {f"{tag}:fresh-sent", f"{tag}:old-pending"}
    assert claims == {f"{tag}:fresh-claim"}
    # A purged claim is simply new again; a kept one still refuses its replay.
    assert store.ask(Claim(key=f"{tag}:fresh-claim"), timeout=10) is False


def test_a_database_outage_never_stops_the_store() -> None:
    """Told messages (a sent mark, the purge) meet a dead database: the store logs and lives on; an asked
    message gets the error back. Before, a refused connection on a told MarkSent killed the store for good."""
    import peewee as pw

    from schema.db import make_database
    from trivia_actors.rules import Phase
    from trivia_actors.session import PurgeLedger, SaveSessions, SessionWrite

    unreachable = make_database("postgresql://postgres@127.0.0.1:1/nowhere")
    ref = SessionStoreActor.start(unreachable)
    try:
        ref.tell(MarkSent(ledger_id=1, message_id=10))
        ref.tell(PurgeLedger(older_than=dt.timedelta(days=7)))
        with pytest.raises(pw.OperationalError):
            ref.ask(SaveSessions(writes=(SessionWrite(chat_id=1, game_id=None, phase=Phase.ASKING, snapshot={},
                                                      wake_at=None),)), timeout=10)
        assert ref.is_alive(), "the store died on a database outage"
    finally:
        ref.stop()


def test_a_bug_in_a_told_message_never_stops_the_store(store, caplog) -> None:
    """A told message that fails for a reason other than the database (here a ledger id that is no number) is
    logged with its traceback; the store carries on with the next message."""
    import logging

    from trivia_actors.session import Claim

    with caplog.at_level(logging.ERROR, logger="trivia_actors.session.store"):
        store.tell(MarkSent(ledger_id="not-a-number", message_id=10))  # type: ignore[arg-type]
        assert store.ask(Claim(key=f"bug-{uuid.uuid4().hex}"), timeout=10) is True
    assert any(r.exc_info for r in caplog.records), "the failure must be logged with its traceback"
    assert store.is_alive()
