"""The telebot's durable state: session snapshots per chat and the outbound message ledger."""

from __future__ import annotations

import peewee as pw

from schema.models import BaseModel, JSONField, utcnow


class ChatSession(BaseModel):
    """The latest snapshot of the session running in a chat (restored after a restart)."""

    chat_id = pw.BigIntegerField(primary_key=True)
    game_id = pw.CharField(max_length=36, null=True, index=True)
    phase = pw.CharField(max_length=16, index=True)
    snapshot = JSONField()
    version = pw.IntegerField(default=0)
    updated_at = pw.DateTimeField(default=utcnow, index=True)
    # When the session must be woken if nothing else comes (epoch seconds; NULL: nothing due), so a restart
    # schedules dormant sessions without reading their snapshots.
    wake_at = pw.DoubleField(null=True)

    class Meta:
        table_name = "chat_sessions"


# Most rows are finished games (a chat keeps its last one): a restart reads the unfinished ones' (chat, wake_at)
# from this partial index alone (``phase`` is in it only so that SQLite sees it covers the query). Its predicate
# is a literal: SQLite refuses parameters there, and uses a partial index only for a query with the same term.
UNFINISHED_SESSIONS_WHERE = "phase <> 'finished'"
UNFINISHED_SESSIONS_INDEX = ChatSession.index(ChatSession.chat_id, ChatSession.wake_at, ChatSession.phase,
                                              name="chat_sessions_unfinished", where=pw.SQL(UNFINISHED_SESSIONS_WHERE))
ChatSession.add_index(UNFINISHED_SESSIONS_INDEX)


class OutboundMessage(BaseModel):
    """One Telegram call to make (send or edit), written with the snapshot that caused it; sent once."""

    id = pw.BigAutoField()
    dedupe_key = pw.CharField(max_length=300, unique=True)
    chat_id = pw.BigIntegerField(index=True)
    key = pw.CharField(max_length=200)
    kind = pw.CharField(max_length=8)
    text = pw.TextField()
    keyboard = JSONField(default=list)
    extra = JSONField(null=True)  # a poll's options, correct option and open period
    poll_id = pw.CharField(max_length=64, null=True, index=True)
    status = pw.CharField(max_length=8, default="pending", index=True)
    telegram_message_id = pw.BigIntegerField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "outbound_messages"
        indexes = ((("chat_id", "key", "kind"), False),)


class ChatSettings(BaseModel):
    """A chat's game settings, changed with /settings (by a chat admin in groups)."""

    chat_id = pw.BigIntegerField(primary_key=True)
    settings = JSONField(default=dict)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "chat_settings"


TELEBOT_MODELS: tuple[type[BaseModel], ...] = (ChatSession, OutboundMessage, ChatSettings)
