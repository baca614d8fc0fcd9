"""The whole platform as processes: db-init, api, worker (and the telebot where a test asks for it)."""

from __future__ import annotations

import json
import uuid

import pytest

from schema.db import bind_database
from tests.conftest import TEST_JWT_SECRET
from tests.stack import ProcessStack, ports


@pytest.fixture
def e2e_env(pg_factory, broker, tmp_path):
    env = {
        "TRIVIA_ENV": "test",
        "DATABASE_URL": pg_factory(),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC_PREFIX": f"e{uuid.uuid4().hex[:8]}.",
        "KAFKA_PARTITIONS": "3",
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "JWT_SECRET": TEST_JWT_SECRET,
        "LOG_FORMAT": "json",
        **ports(),
    }
    return env


@pytest.fixture
def platform(e2e_env, tmp_path):
    """db-init run, then api and worker started and ready; yields the stack."""
    stack = ProcessStack(e2e_env, tmp_path)
    init = stack.run("db-init", "gateways.db_init")
    assert init.returncode == 0, init.stderr
    stack.start("worker", "gateways.worker")
    stack.start("api", "gateways.api.main")
    stack.wait_http(f"{e2e_env['API_URL']}/readyz")
    yield stack
    stack.stop_all()


@pytest.fixture
def platform_db(e2e_env):
    database = bind_database(e2e_env["DATABASE_URL"])
    yield database
    if hasattr(database, "close_all"):
        database.close_all()


@pytest.fixture
def api_client(platform):
    created = platform.run("admin", "gateways.admin", "create-client", "e2e-app")
    assert created.returncode == 0, created.stderr
    credentials = json.loads(created.stdout)
    assert set(credentials) == {"client_id", "client_secret"}
    return credentials
