"""Versioned, idempotent schema migrations; ``apply_migrations`` is safe to run any number of times."""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from schema.auth_models import create_auth_tables
from schema.models import ALL_MODELS, SchemaMigration
from schema.telebot_models import TELEBOT_MODELS, UNFINISHED_SESSIONS_INDEX

logger = logging.getLogger(__name__)


@attrs.frozen
class Migration:
    """One schema step; ``apply`` must leave the database in the same state when re-run."""

    version: int
    name: str
    apply: Callable[[pw.Database], None]


def _initial_schema(database: pw.Database) -> None:
    database.create_tables([m for m in ALL_MODELS if m is not SchemaMigration], safe=True)


def _telebot_tables(database: pw.Database) -> None:
    database.create_tables(list(TELEBOT_MODELS), safe=True)


def _true_false_columns(database: pw.Database) -> None:
    columns = {column.name for column in database.get_columns("game_questions")}
    migrator = SchemaMigrator.from_database(database)
    operations = [
        migrator.add_column("game_questions", name, field)
        for name, field in (("prompt", pw.TextField(null=True)), ("answer", pw.CharField(max_length=255, null=True)))
        if name not in columns
    ]
    if operations:
        migrate(*operations)


def _session_wake_at(database: pw.Database) -> None:
    columns = {column.name for column in database.get_columns("chat_sessions")}
    if "wake_at" not in columns:
        migrate(SchemaMigrator.from_database(database).add_column("chat_sessions", "wake_at",
                                                                  pw.DoubleField(null=True)))
    database.execute(UNFINISHED_SESSIONS_INDEX)  # CREATE INDEX IF NOT EXISTS


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _initial_schema),
    Migration(2, "auth tables", create_auth_tables),
    Migration(3, "telebot sessions and outbound ledger", _telebot_tables),
    Migration(4, "true/false prompts on game questions", _true_false_columns),
    Migration(5, "session wake-up times and the unfinished-sessions index", _session_wake_at),
)


def apply_migrations(database: pw.Database) -> list[int]:
    """Apply every migration not yet recorded, in order, under a lock; return the versions applied."""
    applied: list[int] = []
    with database.atomic():
        if isinstance(database, pw.PostgresqlDatabase):
            # Two initialisers starting together must not race on CREATE TABLE.
            database.execute_sql("SELECT pg_advisory_xact_lock(727274)")
        database.create_tables([SchemaMigration], safe=True)
        done = {row.version for row in SchemaMigration.select(SchemaMigration.version)}
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            logger.info("applying migration %d: %s", migration.version, migration.name)
            migration.apply(database)
            SchemaMigration.create(version=migration.version, name=migration.name)
            applied.append(migration.version)
    return applied


def current_version(database: pw.Database) -> int:
    """The highest applied migration version, 0 on an empty database."""
    if not database.table_exists(SchemaMigration._meta.table_name):
        return 0
    return int(SchemaMigration.select(pw.fn.MAX(SchemaMigration.version)).scalar() or 0)
