"""trivia-db-init as a process: idempotent on a real PostgreSQL, and a clear, bounded failure without one."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from gateways.local_broker import free_port
from schema.bank import load_bank
from schema.db import bind_database
from schema.migrations import MIGRATIONS
from schema.models import Question, SchemaMigration
from tests.conftest import TEST_JWT_SECRET


def _run(env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "gateways.db_init"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, check=False)


def _snapshot(url: str) -> tuple:
    database = bind_database(url)
    with database.connection_context():
        tables = tuple(sorted(database.get_tables()))
        rows = SchemaMigration.select().order_by(SchemaMigration.version)
        migrations = tuple((m.version, m.applied_at) for m in rows)
        questions = tuple(Question.select(Question.id, Question.content_hash).order_by(Question.id).tuples())
    database.close_all()
    return tables, migrations, questions


def test_db_init_twice_changes_nothing(pg_factory, broker):
    url = pg_factory()
    env = {"DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "KAFKA_TOPIC_PREFIX": f"i{uuid.uuid4().hex[:6]}.", "JWT_SECRET": TEST_JWT_SECRET}
    first = _run(env)
    assert first.returncode == 0, first.stderr
    after_first = _snapshot(url)
    tables, migrations, questions = after_first
    assert {"game_sessions", "answers", "questions", "request_statuses", "export_outbox", "telegram_users",
            "game_questions"} <= set(tables)
    assert [v for v, _ in migrations] == sorted(m.version for m in MIGRATIONS)
    assert len(questions) == len(load_bank())
    assert "created: " in first.stderr and "commands" in first.stderr
    second = _run(env)
    assert second.returncode == 0, second.stderr
    assert _snapshot(url) == after_first
    assert "0 new questions" in second.stderr
    assert "created: none" in second.stderr


def test_db_init_against_unreachable_database_fails_clearly_in_time():
    port = free_port()
    env = {"DATABASE_URL": f"postgresql://trivia:s3cr3t-pw@127.0.0.1:{port}/trivia", "DB_INIT_TIMEOUT": "3",
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    started = time.monotonic()
    result = _run(env, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"127.0.0.1:{port}/trivia did not answer within 3s" in result.stderr
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert elapsed < 15, f"db-init took {elapsed:.1f}s despite DB_INIT_TIMEOUT=3"


@pytest.mark.parametrize("url", ["mysql://x@localhost/db"])
def test_db_init_refuses_unsupported_url(url):
    result = _run({"DATABASE_URL": url, "DB_INIT_TIMEOUT": "1"}, timeout=30)
    assert result.returncode != 0
    assert "unsupported DATABASE_URL scheme" in result.stderr
