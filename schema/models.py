"""Peewee models of DESIGN.md section 5; every model binds through :data:`schema.db.database_proxy`.

JSON columns are text holding JSON so the same schema runs on PostgreSQL and SQLite. Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee as pw

from schema.db import database_proxy


def utcnow() -> dt.datetime:
    """Naive UTC now, the form every timestamp column stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JSONField(pw.TextField):
    """A JSON document stored as text (portable between PostgreSQL and SQLite)."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaMigration(BaseModel):
    """One applied migration."""

    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=200)
    applied_at = pw.DateTimeField(default=utcnow)


class TelegramUser(BaseModel):
    """A player: a Telegram user (``tg:<id>``) or an API subject (``api:<client>:<player>``)."""

    id = pw.AutoField()
    subject = pw.CharField(max_length=200, unique=True)
    telegram_id = pw.BigIntegerField(null=True, index=True)
    display_name = pw.CharField(max_length=200, default="")
    language = pw.CharField(max_length=16, default="en")
    games_played = pw.IntegerField(default=0)
    answers_count = pw.IntegerField(default=0)
    correct_count = pw.IntegerField(default=0)
    total_points = pw.BigIntegerField(default=0)
    best_streak = pw.IntegerField(default=0)
    total_latency_ms = pw.BigIntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "telegram_users"


class ApiClient(BaseModel):
    """A third-party API client (OAuth 2 client credentials); the secret is stored hashed."""

    client_id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    secret_hash = pw.CharField(max_length=255)
    scopes = pw.CharField(max_length=200, default="player")
    revoked = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "api_clients"


class Question(BaseModel):
    """A question of the bank; ``content_hash`` de-duplicates across imports and generators."""

    id = pw.AutoField()
    external_id = pw.CharField(max_length=64, null=True, unique=True)
    content_hash = pw.CharField(max_length=64, unique=True)
    text = pw.TextField()
    qtype = pw.CharField(max_length=16, default="mc")
    answer = pw.CharField(max_length=255)
    options = JSONField()
    aliases = JSONField(default=list)
    explanation = pw.TextField(default="")
    category = pw.CharField(max_length=64, index=True)
    difficulty = pw.CharField(max_length=16, index=True)
    numeric_value = pw.DoubleField(null=True)
    numeric_tolerance = pw.DoubleField(null=True)
    tf_true = pw.TextField(null=True)
    tf_false = pw.TextField(null=True)
    source = pw.CharField(max_length=32, default="bank")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "questions"


class GameSession(BaseModel):
    """One game: its owner, settings, progress and a snapshot of the session for recovery."""

    id = pw.CharField(max_length=36, primary_key=True)
    client_id = pw.CharField(max_length=64, index=True)
    owner = pw.ForeignKeyField(TelegramUser, backref="games", on_delete="CASCADE")
    mode = pw.CharField(max_length=16, default="solo")
    chat_id = pw.BigIntegerField(null=True, index=True)
    category = pw.CharField(max_length=64, null=True)
    difficulty = pw.CharField(max_length=16, null=True)
    status = pw.CharField(max_length=16, default="active", index=True)
    question_count = pw.IntegerField()
    current_no = pw.IntegerField(default=0)
    score = pw.IntegerField(default=0)
    streak = pw.IntegerField(default=0)
    best_streak = pw.IntegerField(default=0)
    correct_count = pw.IntegerField(default=0)
    time_limit_s = pw.DoubleField(default=30.0)
    settings = JSONField(default=dict)
    snapshot = JSONField(null=True)
    snapshot_version = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "game_sessions"
        only_save_dirty = True  # an answer writes the score fields, not the settings and snapshot documents


class GameQuestion(BaseModel):
    """The question at ``position`` (0-based) of a game, with its shuffled options."""

    id = pw.AutoField()
    game = pw.ForeignKeyField(GameSession, backref="questions", on_delete="CASCADE")
    question = pw.ForeignKeyField(Question, on_delete="RESTRICT")
    position = pw.IntegerField()
    options = JSONField()
    # A true/false rendering asks one of the question's statements: its own prompt and answer.
    prompt = pw.TextField(null=True)
    answer = pw.CharField(max_length=255, null=True)
    asked_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "game_questions"
        indexes = ((("game", "position"), True),)


class Answer(BaseModel):
    """One scored answer; the unique ``idempotency_key`` makes a redelivered event a no-op."""

    id = pw.AutoField()
    game = pw.ForeignKeyField(GameSession, backref="answers", on_delete="CASCADE")
    question = pw.ForeignKeyField(Question, on_delete="RESTRICT")
    position = pw.IntegerField()
    user = pw.ForeignKeyField(TelegramUser, backref="answers", on_delete="CASCADE")
    raw_answer = pw.TextField()
    verdict = pw.CharField(max_length=16)
    points = pw.IntegerField(default=0)
    latency_ms = pw.IntegerField(null=True)
    judged_by = pw.CharField(max_length=16, default="local")
    idempotency_key = pw.CharField(max_length=200, unique=True)
    request_id = pw.CharField(max_length=36, null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "answers"


class RequestStatus(BaseModel):
    """The life of one API request: pending, processing, done or failed, with its result."""

    id = pw.CharField(max_length=36, primary_key=True)
    client_id = pw.CharField(max_length=64, index=True)
    subject = pw.CharField(max_length=200, null=True)
    idempotency_key = pw.CharField(max_length=200, null=True)
    kind = pw.CharField(max_length=32)
    game_id = pw.CharField(max_length=36, null=True, index=True)
    status = pw.CharField(max_length=16, default="pending")
    result = JSONField(null=True)
    error = JSONField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "request_statuses"
        indexes = ((("client_id", "idempotency_key"), True),)


class ExportOutbox(BaseModel):
    """One pending export of a finished game's transcript to one target (git, s3, lambda)."""

    id = pw.AutoField()
    game = pw.ForeignKeyField(GameSession, backref="exports", on_delete="CASCADE")
    target = pw.CharField(max_length=16)
    status = pw.CharField(max_length=16, default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow, index=True)
    last_error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    done_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "export_outbox"
        indexes = ((("game", "target"), True),)


class ProcessedMessage(BaseModel):
    """A de-duplication record: a Telegram update id or a consumed event id already handled."""

    key = pw.CharField(max_length=200, primary_key=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "processed_messages"


ALL_MODELS: tuple[type[BaseModel], ...] = (
    SchemaMigration,
    TelegramUser,
    ApiClient,
    Question,
    GameSession,
    GameQuestion,
    Answer,
    RequestStatus,
    ExportOutbox,
    ProcessedMessage,
)
