"""The session store's group commit (SaveSessions), lazy-restore schedule (LoadSchedule), batched sent marks
(MarkSentMany) and migration 5, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator

import attrs
import peewee as pw
import pytest

from schema.db import bind_database, make_database
from schema.migrations import MIGRATIONS, apply_migrations
from schema.models import SchemaMigration
from schema.telebot_models import UNFINISHED_SESSIONS_WHERE, ChatSession, OutboundMessage
from trivia_actors.rules import Phase
from trivia_actors.session import (
    Button,
    LoadMessageIds,
    LoadPending,
    LoadPolls,
    LoadSchedule,
    MarkSentMany,
    OpKind,
    OutboundOp,
    SaveSessions,
    SentMark,
    SessionStoreActor,
    SessionWrite,
    keys,
)

ASK_TIMEOUT = 30
UNFINISHED_INDEX = "chat_sessions_unfinished"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, pg_factory) -> Iterator[pw.Database]:
    """A fresh, migrated database of each kind, bound to the models."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else pg_factory()
    database = bind_database(url)
    with database.connection_context():
        apply_migrations(database)
    yield database
    if hasattr(database, "close_all"):
        database.close_all()
    else:
        database.close()


class StatementLog:
    """Every statement Peewee runs on ``database`` (from any thread), and whether it ran in a transaction."""

    def __init__(self, database: pw.Database) -> None:
        self.database = database
        self.lock = threading.Lock()
        self.statements: list[tuple[str, bool]] = []

    def __call__(self, event) -> None:
        with self.lock:
            self.statements.append((event.sql, self.database.in_transaction()))

    def __enter__(self) -> StatementLog:
        self.database.query_hooks.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        self.database.query_hooks.remove(self)

    def verbs(self) -> list[str]:
        return [sql.split(None, 1)[0].upper() for sql, _ in self.statements]


@pytest.fixture
def store_factory(db) -> Iterator:
    started = []

    def start(**kwargs):
        ref = SessionStoreActor.start(db, **kwargs)
        started.append(ref)
        return ref

    yield start
    for ref in started:
        ref.stop()


@pytest.fixture
def store(store_factory):
    return store_factory()


def _ops(chat_id: int, round_no: int = 0) -> tuple[OutboundOp, ...]:
    keyboard = ((Button(text="A", data=f"a:0000000{round_no}:0:0"), Button(text="B", data="a:00000000:0:1")),)
    return (
        OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=f"g:q:{round_no}", text=f"Question {round_no}?",
                   keyboard=keyboard),
        OutboundOp(kind=OpKind.EDIT, chat_id=chat_id, key="prep:1", text=f"Round {round_no} is on"),
    )


def _writes(chats: range, *, phase: Phase = Phase.ASKING, round_no: int = 0) -> tuple[SessionWrite, ...]:
    return tuple(SessionWrite(chat_id=chat, game_id=f"game-{chat}", phase=phase,
                              snapshot={"chat": chat, "round": round_no}, wake_at=1_700_000_000.25 + chat,
                              ops=_ops(chat, round_no)) for chat in chats)


CHATS = range(1_000_001, 1_000_301)  # 300 chats


def test_a_batch_of_300_chats_is_written_in_one_transaction_and_returns_the_new_ops_with_ids(db, store):
    writes = _writes(CHATS)
    with StatementLog(db) as log:
        reply = store.ask(SaveSessions(writes=writes), timeout=ASK_TIMEOUT)

    assert len(reply) == len(writes), "the reply must be aligned with the writes"
    with db.connection_context():
        ids = {row.dedupe_key: row.id for row in OutboundMessage.select()}
        sessions = {row.chat_id: row for row in ChatSession.select()}
    assert len(ids) == 600 and len(sessions) == 300
    for write, new_ops in zip(writes, reply, strict=True):
        assert new_ops == tuple(attrs.evolve(op, ledger_id=ids[keys.ledger_key(op)]) for op in write.ops)
        row = sessions[write.chat_id]
        assert (row.game_id, row.phase, row.snapshot, row.wake_at, row.version) == (
            write.game_id, "asking", write.snapshot, write.wake_at, 0)
        # The ledger's ids keep the order in which a chat's calls were decided.
        assert new_ops[0].ledger_id < new_ops[1].ledger_id
    assert all(in_transaction for _, in_transaction in log.statements), log.statements


def test_a_batch_that_fails_in_its_last_statement_writes_nothing(db, store_factory):
    """300 chats in chunks of 100: the last ledger chunk breaks a NOT NULL (an op without text) after every
    session row was upserted, and the whole batch is rolled back; the store goes on."""
    store = store_factory(chunk_rows=100)
    writes = list(_writes(CHATS))
    broken_op = attrs.evolve(writes[-1].ops[-1], text=None)  # type: ignore[arg-type]
    writes[-1] = attrs.evolve(writes[-1], ops=(writes[-1].ops[0], broken_op))
    with StatementLog(db) as log, pytest.raises(pw.IntegrityError):
        store.ask(SaveSessions(writes=tuple(writes)), timeout=ASK_TIMEOUT)
    assert log.verbs() == ["INSERT"] * 9, "3 session chunks, then 6 ledger chunks, the last one failing"
    with db.connection_context():
        assert ChatSession.select().count() == 0
        assert OutboundMessage.select().count() == 0

    reply = store.ask(SaveSessions(writes=_writes(CHATS)), timeout=ASK_TIMEOUT)
    assert sum(len(ops) for ops in reply) == 600


def test_a_repeated_batch_returns_no_ops_and_bumps_every_version(db, store):
    store.ask(SaveSessions(writes=_writes(CHATS)), timeout=ASK_TIMEOUT)
    again = tuple(attrs.evolve(write, snapshot={"again": True}, wake_at=None, phase=Phase.JUDGING)
                  for write in _writes(CHATS))
    reply = store.ask(SaveSessions(writes=again), timeout=ASK_TIMEOUT)

    assert reply == ((),) * 300, "every op was already in the ledger"
    with db.connection_context():
        assert OutboundMessage.select().count() == 600
        rows = list(ChatSession.select())
    assert {(row.version, row.phase, row.wake_at) for row in rows} == {(1, "judging", None)}
    assert all(row.snapshot == {"again": True} for row in rows)


def test_a_dedupe_key_repeated_inside_a_batch_is_written_once_and_the_first_wins(db, store):
    chat = 42
    send = OutboundOp(kind=OpKind.SEND, chat_id=chat, key="g:q:0", text="first")
    send_again = attrs.evolve(send, text="second")  # a send is made once per message key
    edit = OutboundOp(kind=OpKind.EDIT, chat_id=chat, key="g:q:0", text="closed")
    other_edit = attrs.evolve(edit, text="revealed")  # a different edit of the same message is new
    writes = (
        SessionWrite(chat_id=chat, game_id="g", phase=Phase.ASKING, snapshot={"n": 1}, wake_at=10.0,
                     ops=(send, edit, edit)),
        SessionWrite(chat_id=7, game_id="h", phase=Phase.ASKING, snapshot={}, wake_at=None, ops=()),
        SessionWrite(chat_id=chat, game_id="g", phase=Phase.JUDGING, snapshot={"n": 2}, wake_at=20.0,
                     ops=(send_again, edit, other_edit)),
    )
    reply = store.ask(SaveSessions(writes=writes), timeout=ASK_TIMEOUT)

    assert [[op.text for op in ops] for ops in reply] == [["first", "closed"], [], ["revealed"]]
    with db.connection_context():
        ledger = {row.id: row.text for row in OutboundMessage.select().where(OutboundMessage.chat_id == chat)}
        row = ChatSession.get_by_id(chat)
    assert ledger == {op.ledger_id: op.text for ops in reply for op in ops}
    assert (row.snapshot, row.phase, row.wake_at) == ({"n": 2}, "judging", 20.0), "the chat's last write wins"


def test_load_schedule_returns_the_wake_up_time_of_every_unfinished_session(db, store):
    writes = (
        SessionWrite(chat_id=1, game_id="a", phase=Phase.ASKING, snapshot={}, wake_at=1_700_000_123.5),
        SessionWrite(chat_id=2, game_id="b", phase=Phase.FINISHED, snapshot={}, wake_at=1_700_000_999.0),
        SessionWrite(chat_id=3, game_id="c", phase=Phase.JUDGING, snapshot={}, wake_at=None),
    )
    store.ask(SaveSessions(writes=writes), timeout=ASK_TIMEOUT)
    store.ask(SaveSessions(writes=(SessionWrite(chat_id=4, game_id="d", phase=Phase.CREATING, snapshot={},
                                                wake_at=None),
                                   attrs.evolve(writes[0], phase=Phase.FINISHED))), timeout=ASK_TIMEOUT)
    store.ask(SaveSessions(writes=(attrs.evolve(writes[0], chat_id=5),)), timeout=ASK_TIMEOUT)

    with StatementLog(db) as log:
        schedule = store.ask(LoadSchedule(), timeout=ASK_TIMEOUT)

    assert sorted(schedule) == [(3, None), (4, None), (5, 1_700_000_123.5)]
    [(sql, _)] = log.statements
    assert "snapshot" not in sql and "*" not in sql, f"the schedule reads only two columns: {sql}"
    if isinstance(db, pw.SqliteDatabase):
        with db.connection_context():
            plan = " ".join(str(row[-1]) for row in db.execute_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert f"COVERING INDEX {UNFINISHED_INDEX}" in plan, plan


def test_the_unfinished_index_names_the_finished_phase():
    assert f"phase <> '{Phase.FINISHED.value}'" == UNFINISHED_SESSIONS_WHERE


def test_mark_sent_many_marks_several_rows_in_one_statement(db, store):
    ops = (
        OutboundOp(kind=OpKind.SEND, chat_id=9, key="g:q:0", text="Q?"),
        OutboundOp(kind=OpKind.POLL, chat_id=9, key="g:p:0", text="Poll?", options=("a", "b"),
                   correct_option=1, open_period=30),
        OutboundOp(kind=OpKind.EDIT, chat_id=9, key="g:q:0", text="Q (closed)"),
        OutboundOp(kind=OpKind.SEND, chat_id=9, key="g:q:1", text="Next?"),
    )
    [new] = store.ask(SaveSessions(writes=(SessionWrite(chat_id=9, game_id="g", phase=Phase.ASKING, snapshot={},
                                                        wake_at=None, ops=ops),)), timeout=ASK_TIMEOUT)
    send, poll, edit, unsent = (op.ledger_id for op in new)
    marks = (SentMark(ledger_id=send, message_id=5_000_000_001), SentMark(ledger_id=poll, message_id=77,
                                                                         poll_id="poll-1"),
             SentMark(ledger_id=edit, message_id=None))
    with StatementLog(db) as log:
        store.tell(MarkSentMany(marks=marks))
        pending = store.ask(LoadPending(), timeout=ASK_TIMEOUT)  # after the told marks, in mailbox order

    assert log.verbs()[0] == "UPDATE" and log.verbs().count("UPDATE") == 1
    assert [op.ledger_id for op in pending] == [unsent]
    with db.connection_context():
        rows = {row.id: row for row in OutboundMessage.select()}
    assert [(rows[i].status, rows[i].telegram_message_id, rows[i].poll_id) for i in (send, poll, edit, unsent)] == [
        ("sent", 5_000_000_001, None), ("sent", 77, "poll-1"), ("sent", None, None), ("pending", None, None)]
    assert all(rows[i].sent_at is not None for i in (send, poll, edit)) and rows[unsent].sent_at is None
    assert store.ask(LoadMessageIds(chat_ids=(9,)), timeout=ASK_TIMEOUT) == {(9, "g:q:0"): 5_000_000_001,
                                                                           (9, "g:p:0"): 77}
    assert store.ask(LoadPolls(chat_ids=(9,)), timeout=ASK_TIMEOUT) == {"poll-1": (9, "g:p:0")}
    # Marks without any message or poll id (PostgreSQL types such a VALUES column as text).
    store.tell(MarkSentMany(marks=(SentMark(ledger_id=unsent, message_id=None),)))
    assert store.ask(LoadPending(), timeout=ASK_TIMEOUT) == []


def test_a_failing_mark_sent_many_never_stops_the_store(db, store, caplog):
    with caplog.at_level(logging.ERROR, logger="trivia_actors.session.store"):
        store.tell(MarkSentMany(marks=(SentMark(ledger_id="x", message_id=1),)))  # type: ignore[arg-type]
        assert store.ask(LoadPending(), timeout=ASK_TIMEOUT) == []
    assert any(record.exc_info for record in caplog.records), "the failure must be logged with its traceback"
    assert store.is_alive()


def test_a_database_outage_skips_told_marks_and_raises_to_a_batch_writer():
    ref = SessionStoreActor.start(make_database("postgresql://postgres@127.0.0.1:1/nowhere"))
    try:
        ref.tell(MarkSentMany(marks=(SentMark(ledger_id=1, message_id=10),)))
        with pytest.raises(pw.OperationalError):
            ref.ask(SaveSessions(writes=_writes(range(1, 3))), timeout=ASK_TIMEOUT)
        with pytest.raises(pw.OperationalError):
            ref.ask(LoadSchedule(), timeout=ASK_TIMEOUT)
        assert ref.is_alive(), "the store died on a database outage"
    finally:
        ref.stop()


def _back_to_version_4(database: pw.Database) -> None:
    """Make the database what migrations 1-4 left: chat_sessions without wake_at nor the index."""
    with database.atomic():
        database.execute_sql(f'DROP INDEX IF EXISTS "{UNFINISHED_INDEX}"')
        database.execute_sql('ALTER TABLE "chat_sessions" DROP COLUMN "wake_at"')
        SchemaMigration.delete().where(SchemaMigration.version == 5).execute()


def test_migration_5_is_idempotent_on_a_database_from_before_it(db, store):
    with db.connection_context():
        _back_to_version_4(db)
        db.execute_sql("INSERT INTO chat_sessions (chat_id, game_id, phase, snapshot, version, updated_at) "
                       "VALUES (11, 'old', 'asking', '{}', 3, '2024-01-01 00:00:00')")
        assert "wake_at" not in {column.name for column in db.get_columns("chat_sessions")}

        assert apply_migrations(db) == [5]
        assert apply_migrations(db) == []
        [migration_5] = [m for m in MIGRATIONS if m.version == 5]
        migration_5.apply(db)  # the step itself may run again

        assert "wake_at" in {column.name for column in db.get_columns("chat_sessions")}
        assert [index.name for index in db.get_indexes("chat_sessions")].count(UNFINISHED_INDEX) == 1
        assert ChatSession.get_by_id(11).version == 3
    assert store.ask(LoadSchedule(), timeout=ASK_TIMEOUT) == [(11, None)]


@pytest.mark.parametrize("chunk_rows", [500, 100])
def test_a_batch_takes_a_statement_per_chunk_not_per_row(db, store_factory, chunk_rows):
    store = store_factory(chunk_rows=chunk_rows)
    with StatementLog(db) as log:
        store.ask(SaveSessions(writes=_writes(CHATS)), timeout=ASK_TIMEOUT)
        store.ask(SaveSessions(writes=_writes(CHATS, round_no=1)), timeout=ASK_TIMEOUT)
    per_batch = math.ceil(300 / chunk_rows) + math.ceil(600 / chunk_rows)
    assert log.verbs() == ["INSERT"] * (2 * per_batch), log.verbs()
