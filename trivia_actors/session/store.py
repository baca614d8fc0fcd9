"""The telebot's persistence actor: session snapshots, the outbound ledger and processed-update claims.

A session's new state and the Telegram calls it decided to make are written in one transaction, so after a
crash a restored session never re-sends what it had sent, and never forgets what it had decided to send.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import attrs
import peewee as pw

from schema.models import ProcessedMessage, utcnow
from schema.telebot_models import ChatSession, OutboundMessage
from schema.telebot_models import ChatSettings as ChatSettingsRow
from trivia_actors.runtime import TRANSIENT_DB_ERRORS, DatabaseActor
from trivia_actors.session.ports import Button, OutboundOp

logger = logging.getLogger(__name__)


def _dedupe_key(op: OutboundOp) -> str:
    if op.kind in {"send", "poll"}:
        return f"{op.chat_id}:{op.kind}:{op.key}"
    # An edit is identified by its content: the same edit decided twice is made once.
    digest = hashlib.sha256(f"{op.text}\x1f{op.keyboard!r}".encode()).hexdigest()[:24]
    return f"{op.chat_id}:edit:{op.key}:{digest}"[:300]


def _keyboard_json(op: OutboundOp) -> list[list[dict[str, str]]]:
    return [[{"text": b.text, "data": b.data} for b in row] for row in op.keyboard]


def _op_from_row(row: OutboundMessage) -> OutboundOp:
    keyboard = tuple(tuple(Button(text=b["text"], data=b["data"]) for b in r) for r in (row.keyboard or []))
    extra = row.extra or {}
    return OutboundOp(kind=row.kind, chat_id=row.chat_id, key=row.key, text=row.text, keyboard=keyboard,
                      ledger_id=row.id, options=tuple(extra.get("options", ())),
                      correct_option=extra.get("correct_option"), open_period=extra.get("open_period"))


def _extra(op: OutboundOp) -> dict[str, Any] | None:
    if op.kind != "poll":
        return None
    return {"options": list(op.options), "correct_option": op.correct_option, "open_period": op.open_period}


@attrs.frozen(kw_only=True)
class SaveSession:
    """Persist a session's snapshot with the ops it produced; the reply is the ops actually new."""

    chat_id: int
    game_id: str | None
    phase: str
    snapshot: dict[str, Any]
    ops: tuple[OutboundOp, ...]


@attrs.frozen(kw_only=True)
class MarkSent:
    """Telegram accepted ledger op ``ledger_id`` (a send returns the message id)."""

    ledger_id: int
    message_id: int | None
    poll_id: str | None = None


@attrs.frozen(kw_only=True)
class SaveChatSettings:
    """Store a chat's settings document."""

    chat_id: int
    settings: dict[str, Any]


@attrs.frozen(kw_only=True)
class Claim:
    """Claim a processed-message key (a Telegram update id); the reply is True only the first time."""

    key: str


@attrs.frozen(kw_only=True)
class PurgeLedger:
    """Forget what is older than ``older_than``: calls Telegram accepted, and claimed update and event ids.

    Pending calls are never purged. Telegram keeps an unconfirmed update for 24 hours and our topics keep
    events for days, so a week-old claim can no longer meet its update or event again. The reply is the
    number of rows deleted; at most ``batch`` of each kind go per message, so the ledger is never locked long.
    """

    older_than: dt.timedelta
    batch: int = 5000


# Messages sent with ``tell`` (no caller waits): a database error on them must not stop the store.
TOLD = (MarkSent, PurgeLedger)


class SessionStoreActor(DatabaseActor):
    """All of the telebot's writes; callers ask (with a timeout) when they need the outcome."""

    def __init__(self, database: pw.Database) -> None:
        super().__init__(database)

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

    def _handle(self, message: Any) -> Any:
        if isinstance(message, SaveSession):
            return self._save(message)
        if isinstance(message, MarkSent):
            self._mark_sent(message)
            return None
        if isinstance(message, Claim):
            return self._claim(message.key)
        if isinstance(message, PurgeLedger):
            return self._purge(message)
        if isinstance(message, SaveChatSettings):
            self._save_chat_settings(message)
            return None
        if isinstance(message, tuple) and message and message[0] == "chat_settings":
            return self._chat_settings(message[1])
        if message == "load_sessions":
            return self._load_sessions()
        if message == "load_pending":
            return self._load_pending()
        if isinstance(message, tuple) and message and message[0] == "message_ids":
            return self._message_ids(message[1])
        if isinstance(message, tuple) and message and message[0] == "polls":
            return self._polls(message[1])
        if isinstance(message, tuple) and message and message[0] == "load_session":
            row = ChatSession.get_or_none(ChatSession.chat_id == message[1])
            return row.snapshot if row is not None and row.phase != "finished" else None
        logger.warning("session store: unexpected message %s", type(message).__name__)
        return None

    def _save(self, message: SaveSession) -> list[OutboundOp]:
        new_ops: list[OutboundOp] = []
        with self.database.atomic():
            updated = (
                ChatSession.update(game_id=message.game_id, phase=message.phase, snapshot=message.snapshot,
                                   version=ChatSession.version + 1, updated_at=utcnow())
                .where(ChatSession.chat_id == message.chat_id)
                .execute()
            )
            if not updated:
                ChatSession.insert(chat_id=message.chat_id, game_id=message.game_id, phase=message.phase,
                                   snapshot=message.snapshot).execute()
            for op in message.ops:
                key = _dedupe_key(op)
                inserted = (
                    OutboundMessage.insert(dedupe_key=key, chat_id=op.chat_id, key=op.key, kind=op.kind, text=op.text,
                                           keyboard=_keyboard_json(op), extra=_extra(op))
                    .on_conflict_ignore()
                    .as_rowcount()
                    .execute()
                )
                if inserted:
                    row_id = OutboundMessage.get(OutboundMessage.dedupe_key == key).id
                    new_ops.append(attrs.evolve(op, ledger_id=row_id))
        return new_ops

    def _save_chat_settings(self, message: SaveChatSettings) -> None:
        ChatSettingsRow.insert(chat_id=message.chat_id, settings=message.settings, updated_at=utcnow()).on_conflict(
            conflict_target=[ChatSettingsRow.chat_id],
            update={ChatSettingsRow.settings: message.settings, ChatSettingsRow.updated_at: utcnow()},
        ).execute()

    def _chat_settings(self, chat_id: int) -> dict[str, Any] | None:
        settings_row = ChatSettingsRow.get_or_none(ChatSettingsRow.chat_id == chat_id)
        return None if settings_row is None else dict(settings_row.settings)

    def _mark_sent(self, message: MarkSent) -> None:
        OutboundMessage.update(status="sent", telegram_message_id=message.message_id, poll_id=message.poll_id,
                               sent_at=utcnow()).where(OutboundMessage.id == message.ledger_id).execute()

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
        rows = ChatSession.select().where(ChatSession.phase != "finished").order_by(ChatSession.chat_id)
        return [row.snapshot for row in rows]

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
            OutboundMessage.chat_id.in_(list(chat_ids)), OutboundMessage.kind.in_(["send", "poll"]),
            OutboundMessage.telegram_message_id.is_null(False))
        return {(row.chat_id, row.key): int(row.telegram_message_id or 0) for row in rows}
