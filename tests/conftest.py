"""Shared fixtures: a fresh PostgreSQL database and a real Kafka-compatible broker per test run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import peewee as pw
import psycopg2
import pytest

from gateways.local_broker import LocalBroker
from schema.bank import load_bank, seed_questions
from schema.db import bind_database
from schema.migrations import apply_migrations
from trivia_actors.runtime import Settings, load_settings

TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnop"


def _admin_url() -> str:
    return os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connect() -> psycopg2.extensions.connection:
    parts = urlsplit(_admin_url())
    conn = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                            user=parts.username or "postgres", password=parts.password,
                            dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_factory() -> Iterator:
    """Creates fresh PostgreSQL databases on demand and drops them at the end of the run."""
    created: list[str] = []

    def make() -> str:
        name = f"trivia_test_{uuid.uuid4().hex[:10]}"
        conn = _admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        created.append(name)
        return _with_db(_admin_url(), name)

    yield make
    conn = _admin_connect()
    with conn.cursor() as cur:
        for name in created:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def pg_url(pg_factory) -> str:
    """One migrated and seeded database shared by the tests that only add rows of their own."""
    url = pg_factory()
    database = bind_database(url)
    with database.connection_context():
        apply_migrations(database)
        seed_questions(database, load_bank())
    database.close_all() if hasattr(database, "close_all") else None
    return url


@pytest.fixture
def database(pg_url: str) -> Iterator[pw.Database]:
    """The shared test database, bound to the models."""
    db = bind_database(pg_url)
    yield db
    if hasattr(db, "close_all"):
        db.close_all()


@pytest.fixture(scope="session")
def broker() -> Iterator[LocalBroker]:
    """A Tansu broker on a free port for the whole run."""
    with LocalBroker() as running:
        yield running


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix unique to the test, so tests never see each other's events."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def settings(pg_url: str, broker: LocalBroker, topic_prefix: str) -> Settings:
    """Settings for in-process components of one test."""
    return load_settings({
        "TRIVIA_ENV": "test",
        "DATABASE_URL": pg_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "KAFKA_PARTITIONS": "3",
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "JWT_SECRET": TEST_JWT_SECRET,
    })
