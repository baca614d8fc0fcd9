"""The telebot's persistence actor: session snapshots, the outbound ledger and processed-update claims.

A session's new state and the Telegram calls it decided to make are written in one transaction, so after a
crash a restored session never re-sends what it had sent, and never forgets what it had decided to send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs
import peewee as pw

from schema.models import ProcessedMessage, utcnow
from schema.telebot_models import ChatSession, OutboundMessage
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
    LoadSession,
    LoadSessions,
    MarkSent,
    PurgeLedger,
    SaveChatSettings,
    SaveSession,
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
        except Exception:
            if isinstance(message, TOLD):
                # A bug, which must not stop the store either: logged with its traceback.
                logger.exception("session store: %s failed", type(message).__name__)
                return None
            raise

    def _handle(self, message: Any) -> Any:
        match message:
            case SaveSession():
                return self._save(message)
            case MarkSent():
                self._mark_sent(message)
                return None
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

    def _save(self, message: SaveSession) -> list[OutboundOp]:
        new_ops: list[OutboundOp] = []
        with self.database.atomic():
            updated = (
                ChatSession.update(game_id=message.game_id, phase=message.phase.value, snapshot=message.snapshot,
                                   version=ChatSession.version + 1, updated_at=utcnow())
                .where(ChatSession.chat_id == message.chat_id)
                .execute()
            )
            if not updated:
                ChatSession.insert(chat_id=message.chat_id, game_id=message.game_id, phase=message.phase.value,
                                   snapshot=message.snapshot).execute()
            for op in message.ops:
                key = ledger_key(op)
                inserted = (
                    OutboundMessage.insert(dedupe_key=key, chat_id=op.chat_id, key=op.key, kind=op.kind.value,
                                           text=op.text, keyboard=_keyboard_json(op), extra=_extra(op))
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
        rows = ChatSession.select().where(ChatSession.phase != Phase.FINISHED.value).order_by(ChatSession.chat_id)
        return [row.snapshot for row in rows]

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
