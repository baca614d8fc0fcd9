"""The telebot's persistence actor: session snapshots, the outbound ledger and processed-update claims.

A session's new state and the Telegram calls it decided to make are written in one transaction, so after a
crash a restored session never re-sends what it had sent, and never forgets what it had decided to send.
A shard's group commit (:class:`SaveSessions`) writes all its chats in that one transaction, with a few
multi-row statements whose SQL text is built once per size and reused.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import peewee as pw

from schema.models import JSONField, ProcessedMessage, utcnow
from schema.telebot_models import UNFINISHED_SESSIONS_WHERE, ChatSession, OutboundMessage
from schema.telebot_models import ChatSettings as ChatSettingsRow
from trivia_actors.rules import Phase
from trivia_actors.runtime import TRANSIENT_DB_ERRORS, DatabaseActor
from trivia_actors.session.keys import ledger_key
from trivia_actors.session.messages import (
    Claim,
    LoadChatSettings,
    LoadMessageIds,
    LoadPending,
    LoadPolls,
    LoadSchedule,
    LoadSession,
    LoadSessions,
    MarkSent,
    MarkSentMany,
    PurgeLedger,
    SaveChatSettings,
    SaveSessions,
    SentMark,
    SessionWrite,
)
from trivia_actors.session.ports import Button, OpKind, OutboundOp

logger = logging.getLogger(__name__)


def _keyboard_json(op: OutboundOp) -> list[list[dict[str, str]]]:
    return [[{"text": b.text, "data": b.data} for b in row] for row in op.keyboard]


def _op_from_row(row: OutboundMessage) -> OutboundOp:
    keyboard = tuple(tuple(Button(text=b["text"], data=b["data"]) for b in r) for r in (row.keyboard or []))
    extra = row.extra or {}
    return OutboundOp(kind=row.kind, chat_id=row.chat_id, key=row.key, text=row.text, keyboard=keyboard,
                      ledger_id=row.id, options=tuple(extra.get("options", ())),
                      correct_option=extra.get("correct_option"), open_period=extra.get("open_period"))


def _extra(op: OutboundOp) -> dict[str, Any] | None:
    if op.kind != OpKind.POLL:
        return None
    return {"options": list(op.options), "correct_option": op.correct_option, "open_period": op.open_period}


# Messages sent with ``tell`` (no caller waits): no error on them may stop the store.
TOLD = (MarkSent, MarkSentMany, PurgeLedger)

# Rows per multi-row statement: at most 8 parameters a row keeps a statement far under SQLite's 32,766 and
# PostgreSQL's 65,535 bound parameters, and a batch of a few thousand chats takes a handful of statements.
CHUNK_ROWS = 500

_JSON = JSONField()

# --- SQL text of the batched statements, built once per (parameter style, rows) ---------------------------
# Peewee's query builder costs more per row than the database does: these statements are plain text, valid on
# both dialects (SQLite >= 3.35 for RETURNING, 3.33 for UPDATE ... FROM), whose ``?`` become the database's
# placeholder (``%s`` for psycopg2) and whose ``{values}`` becomes one row template per row. Nothing from a
# message is ever spliced in: values are bound. Identifiers are quoted (``key`` and ``text`` are keywords).

_UPSERT_SESSIONS = (
    'INSERT INTO "chat_sessions" ("chat_id", "game_id", "phase", "snapshot", "wake_at", "version", "updated_at") '
    'VALUES {values} ON CONFLICT ("chat_id") DO UPDATE SET "game_id" = excluded."game_id", '
    '"phase" = excluded."phase", "snapshot" = excluded."snapshot", "wake_at" = excluded."wake_at", '
    '"version" = "chat_sessions"."version" + 1, "updated_at" = excluded."updated_at"'
)
_SESSION_ROW = "(?, ?, ?, ?, ?, 0, ?)"

_INSERT_LEDGER = (
    'INSERT INTO "outbound_messages" ("dedupe_key", "chat_id", "key", "kind", "text", "keyboard", "extra", '
    '"status", "created_at") VALUES {values} ON CONFLICT ("dedupe_key") DO NOTHING RETURNING "id", "dedupe_key"'
)
_LEDGER_ROW = "(?, ?, ?, ?, ?, ?, ?, 'pending', ?)"

# VALUES columns are column1.. on both dialects (SQLite allows no column list on a derived table). The cast:
# PostgreSQL types a VALUES column holding only NULLs as text, which a bigint column refuses.
_MARK_SENT = (
    'UPDATE "outbound_messages" SET "status" = \'sent\', "telegram_message_id" = CAST(v.column2 AS BIGINT), '
    '"poll_id" = v.column3, "sent_at" = ? FROM (VALUES {values}) AS v WHERE "outbound_messages"."id" = v.column1'
)
_MARK_ROW = "(?, ?, ?)"

# The partial index's own predicate (a constant of the schema), so that SQLite's planner uses the index.
_SCHEDULE = 'SELECT "chat_id", "wake_at" FROM "chat_sessions" WHERE ' + UNFINISHED_SESSIONS_WHERE  # noqa: S608


@functools.lru_cache(maxsize=64)
def _statement(template: str, row: str, param: str, rows: int) -> str:
    """``template`` for ``rows`` rows of ``row``, with ``param`` placeholders."""
    return template.replace("{values}", ", ".join([row] * rows)).replace("?", param)


def _chunks(rows: Sequence[tuple[Any, ...]], size: int) -> Iterable[Sequence[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _flat(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return list(itertools.chain.from_iterable(rows))


class SessionStoreActor(DatabaseActor):
    """All of the telebot's writes; callers ask (with a timeout) when they need the outcome."""

    def __init__(self, database: pw.Database, *, chunk_rows: int = CHUNK_ROWS) -> None:
        super().__init__(database)
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        self.chunk_rows = chunk_rows

    def on_receive(self, message: Any) -> Any:
        try:
            self.ensure_connection()
            return self._handle(message)
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            if isinstance(message, TOLD):
                # Nobody waits for an answer, so raising would only stop the store (pykka lets an exception
                # from a told message kill the actor). A sent mark stays "pending" (re-sent after a restart at
                # worst, the documented crash window, never lost); the next purge tries again.
                logger.warning("session store: %s skipped, database unavailable: %s", type(message).__name__,
                               type(exc).__name__)
                return None
            raise  # asked: the caller gets the error and decides
        except Exception:
            if isinstance(message, TOLD):
                # A bug, which must not stop the store either: logged with its traceback.
                logger.exception("session store: %s failed", type(message).__name__)
                return None
            raise

    def _handle(self, message: Any) -> Any:
        match message:
            case SaveSessions():
                return self._save_sessions(message.writes)
            case MarkSentMany():
                self._mark_sent(message.marks)
                return None
            case MarkSent():
                self._mark_sent((SentMark(ledger_id=message.ledger_id, message_id=message.message_id,
                                          poll_id=message.poll_id),))
                return None
            case LoadSchedule():
                return self._load_schedule()
            case Claim():
                return self._claim(message.key)
            case PurgeLedger():
                return self._purge(message)
            case SaveChatSettings():
                self._save_chat_settings(message)
                return None
            case LoadChatSettings():
                return self._chat_settings(message.chat_id)
            case LoadSessions():
                return self._load_sessions()
            case LoadSession():
                return self._load_session(message.chat_id)
            case LoadPending():
                return self._load_pending()
            case LoadMessageIds():
                return self._message_ids(message.chat_ids)
            case LoadPolls():
                return self._polls(message.chat_ids)
        logger.warning("session store: unexpected message %s", type(message).__name__)
        return None

    def _execute_rows(self, template: str, row: str, chunk: Sequence[tuple[Any, ...]], *,
                      leading: tuple[Any, ...] = ()) -> Any:
        """Run ``template`` for the rows of ``chunk`` (after the ``leading`` parameters); return the cursor."""
        sql = _statement(template, row, self.database.param, len(chunk))
        return self.database.execute_sql(sql, [*leading, *_flat(chunk)])

    def _save_sessions(self, writes: Sequence[SessionWrite]) -> tuple[tuple[OutboundOp, ...], ...]:
        """Upsert every chat's row and insert every op into the ledger, in one transaction."""
        if not writes:
            return ()
        now = utcnow()
        latest: dict[int, SessionWrite] = {}
        for write in writes:
            latest[write.chat_id] = write  # a chat written twice in one batch keeps its last snapshot
        # In chat order, so that two writers whose batches share chats lock their rows in the same order.
        session_rows = [(w.chat_id, w.game_id, Phase(w.phase).value, _JSON.db_value(w.snapshot), w.wake_at, now)
                        for _, w in sorted(latest.items())]
        # Ops in the order decided (the ledger's ids keep it); a call decided twice in one batch is made once:
        # the first wins, as it would have in two transactions.
        firsts: list[tuple[int, str, OutboundOp]] = []
        ledger_rows: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        for index, write in enumerate(writes):
            for op in write.ops:
                key = ledger_key(op)
                if key in seen:
                    continue
                seen.add(key)
                firsts.append((index, key, op))
                ledger_rows.append((key, op.chat_id, op.key, op.kind.value, op.text,
                                    _JSON.db_value(_keyboard_json(op)), _JSON.db_value(_extra(op)), now))
        ids: dict[str, int] = {}
        with self.database.atomic():
            for chunk in _chunks(session_rows, self.chunk_rows):
                self._execute_rows(_UPSERT_SESSIONS, _SESSION_ROW, chunk)
            for chunk in _chunks(ledger_rows, self.chunk_rows):
                cursor = self._execute_rows(_INSERT_LEDGER, _LEDGER_ROW, chunk)
                # Only the rows inserted come back (a conflict returns nothing), in no promised order.
                ids.update((str(key), int(row_id)) for row_id, key in cursor.fetchall())
        new: list[list[OutboundOp]] = [[] for _ in writes]
        for index, key, op in firsts:
            if key in ids:
                new[index].append(attrs.evolve(op, ledger_id=ids[key]))
        return tuple(tuple(ops) for ops in new)

    def _save_chat_settings(self, message: SaveChatSettings) -> None:
        ChatSettingsRow.insert(chat_id=message.chat_id, settings=message.settings, updated_at=utcnow()).on_conflict(
            conflict_target=[ChatSettingsRow.chat_id],
            update={ChatSettingsRow.settings: message.settings, ChatSettingsRow.updated_at: utcnow()},
        ).execute()

    def _chat_settings(self, chat_id: int) -> dict[str, Any] | None:
        settings_row = ChatSettingsRow.get_or_none(ChatSettingsRow.chat_id == chat_id)
        return None if settings_row is None else dict(settings_row.settings)

    def _mark_sent(self, marks: Iterable[SentMark]) -> None:
        latest = {int(mark.ledger_id): mark for mark in marks}  # the last mark of a row wins
        rows = [(ledger_id, None if m.message_id is None else int(m.message_id), m.poll_id)
                for ledger_id, m in sorted(latest.items())]
        if not rows:
            return
        sent_at = utcnow()
        with self.database.atomic():
            for chunk in _chunks(rows, self.chunk_rows):
                self._execute_rows(_MARK_SENT, _MARK_ROW, chunk, leading=(sent_at,))

    def _purge(self, message: PurgeLedger) -> int:
        cutoff = utcnow() - message.older_than
        sent = OutboundMessage.select(OutboundMessage.id).where(
            OutboundMessage.status == "sent", OutboundMessage.sent_at < cutoff).limit(message.batch)
        claims = ProcessedMessage.select(ProcessedMessage.key).where(
            ProcessedMessage.created_at < cutoff).limit(message.batch)
        with self.database.atomic():
            gone = int(OutboundMessage.delete().where(OutboundMessage.id.in_(sent)).execute())
            gone += int(ProcessedMessage.delete().where(ProcessedMessage.key.in_(claims)).execute())
        if gone:
            logger.info("ledger: purged %d rows older than %s", gone, message.older_than)
        return gone

    def _claim(self, key: str) -> bool:
        return bool(ProcessedMessage.insert(key=key[:200]).on_conflict_ignore().as_rowcount().execute())

    def _load_sessions(self) -> list[dict[str, Any]]:
        rows = ChatSession.select().where(ChatSession.phase != Phase.FINISHED.value).order_by(ChatSession.chat_id)
        return [row.snapshot for row in rows]

    def _load_schedule(self) -> list[tuple[int, float | None]]:
        rows = self.database.execute_sql(_SCHEDULE).fetchall()
        return [(int(chat_id), None if wake_at is None else float(wake_at)) for chat_id, wake_at in rows]

    def _load_session(self, chat_id: int) -> dict[str, Any] | None:
        row = ChatSession.get_or_none(ChatSession.chat_id == chat_id)
        return row.snapshot if row is not None and row.phase != Phase.FINISHED else None

    def _load_pending(self) -> list[OutboundOp]:
        rows = OutboundMessage.select().where(OutboundMessage.status == "pending").order_by(OutboundMessage.id)
        return [_op_from_row(row) for row in rows]

    def _polls(self, chat_ids: Sequence[int]) -> dict[str, tuple[int, str]]:
        """Poll id -> (chat, message key) of the polls sent in these chats: poll answers carry no chat."""
        if not chat_ids:
            return {}
        rows = OutboundMessage.select(OutboundMessage.chat_id, OutboundMessage.key, OutboundMessage.poll_id).where(
            OutboundMessage.chat_id.in_(list(chat_ids)), OutboundMessage.poll_id.is_null(False))
        return {str(row.poll_id): (int(row.chat_id), str(row.key)) for row in rows}

    def _message_ids(self, chat_ids: Sequence[int]) -> dict[tuple[int, str], int]:
        if not chat_ids:
            return {}
        rows = OutboundMessage.select(OutboundMessage.chat_id, OutboundMessage.key,
                                      OutboundMessage.telegram_message_id).where(
            OutboundMessage.chat_id.in_(list(chat_ids)),
            OutboundMessage.kind.in_([OpKind.SEND.value, OpKind.POLL.value]),
            OutboundMessage.telegram_message_id.is_null(False))
        return {(row.chat_id, row.key): int(row.telegram_message_id or 0) for row in rows}
