"""The API in-process: the real Starlette app (lifespan running) on the shared PostgreSQL and the broker."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import jwt
import peewee as pw
import pytest
from starlette.testclient import TestClient

from gateways.api.app import ApiContext, create_app
from gateways.api.auth import hash_secret, new_client_credentials
from schema.models import Answer, ApiClient, GameSession, Question, TelegramUser, utcnow
from tests.conftest import TEST_JWT_SECRET
from trivia_actors.kafka import ensure_topics
from trivia_actors.runtime import Settings


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS uses it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64json(value: dict[str, Any]) -> str:
    """A JWS header or payload segment."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


class ApiHarness:
    """Starts API apps with setting overrides, creates clients and players, forges and fetches tokens."""

    def __init__(self, settings: Settings, database: pw.Database) -> None:
        self.settings = settings
        self.database = database
        self._clients: list[TestClient] = []

    def start(self, *, revocation_refresh_s: float = 2.0, **overrides: Any) -> TestClient:
        """A running app (lifespan entered) for the test's settings plus ``overrides``."""
        settings = attrs.evolve(self.settings, **overrides)
        context = ApiContext(settings, self.database, listen_for_results=False,
                             revocation_refresh_s=revocation_refresh_s)
        client = TestClient(create_app(context), raise_server_exceptions=False)
        client.__enter__()
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in reversed(self._clients):
            client.__exit__(None, None, None)
        self._clients.clear()

    def new_client(self, scopes: str = "player", name: str = "test-app") -> dict[str, str]:
        """A fresh API client row; its credentials."""
        client_id, secret = new_client_credentials()
        with self.database.connection_context():
            ApiClient.create(client_id=client_id, name=name, secret_hash=hash_secret(secret), scopes=scopes)
        return {"client_id": client_id, "client_secret": secret}

    @staticmethod
    def tokens(api: TestClient, credentials: dict[str, str], scope: str | None = None) -> dict[str, Any]:
        """The token response of the client-credentials grant (asserted 200)."""
        form = {"grant_type": "client_credentials", **credentials}
        if scope:
            form["scope"] = scope
        response = api.post("/v1/auth/token", data=form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def bearer(self, api: TestClient, credentials: dict[str, str], player: str | None = None,
               scope: str | None = None) -> dict[str, str]:
        """Headers with a fresh access token (and X-Player-Id when given)."""
        headers = {"Authorization": f"Bearer {self.tokens(api, credentials, scope)['access_token']}"}
        if player:
            headers["X-Player-Id"] = player
        return headers

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid access-token claims, with overrides (a value of None drops the claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer, "aud": self.settings.jwt_audience, "sub": "forged", "cid": "forged",
            "iat": now, "nbf": now, "exp": now + 300, "jti": str(uuid.uuid4()), "scope": "player",
        }
        claims.update(overrides)
        return {k: val for k, val in claims.items() if val is not None}

    def forge_hs256(self, secret: str | bytes = TEST_JWT_SECRET, headers: dict[str, Any] | None = None,
                    **claims: Any) -> str:
        """An HS256 token signed with ``secret``."""
        return jwt.encode(self.claims(**claims), secret, algorithm="HS256", headers=headers)

    def player(self, subject: str, name: str = "") -> TelegramUser:
        """A player row (created if missing)."""
        with self.database.connection_context():
            TelegramUser.insert(subject=subject, display_name=name or subject[-30:]).on_conflict_ignore().execute()
            return TelegramUser.get(TelegramUser.subject == subject)

    def game(self, *, client_id: str, owner: TelegramUser, chat_id: int | None = None, **fields: Any) -> GameSession:
        """A game row, as the worker would have created it."""
        with self.database.connection_context():
            return GameSession.create(id=str(uuid.uuid4()), client_id=client_id, owner=owner.id, chat_id=chat_id,
                                      question_count=fields.pop("question_count", 5), **fields)

    def answer(self, *, game: GameSession, user: TelegramUser, points: int, verdict: str = "correct",
               latency_ms: int | None = 1000, position: int = 0, age: float = 0.0) -> Answer:
        """An answer row; ``age`` seconds in the past."""
        with self.database.connection_context():
            question = Question.select(Question.id).first()
            return Answer.create(game=game.id, question=question.id, position=position, user=user.id,
                                 raw_answer="x", verdict=verdict, points=points, latency_ms=latency_ms,
                                 judged_by="local", idempotency_key=str(uuid.uuid4()),
                                 created_at=utcnow() - dt.timedelta(seconds=age))

    def admin_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``trivia-admin`` as a process against the test database."""
        env = {**os.environ, "TRIVIA_ENV": "test", "DATABASE_URL": self.settings.database_url,
               "JWT_SECRET": TEST_JWT_SECRET, "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers}
        return subprocess.run([sys.executable, "-m", "gateways.admin", *args], env=env, capture_output=True,
                              text=True, timeout=60, check=False)


@pytest.fixture
def topics(settings: Settings) -> Settings:
    """The test's Kafka topics exist (the API produces commands)."""
    ensure_topics(settings)
    return settings


@pytest.fixture
def harness(settings: Settings, database: pw.Database) -> Iterator[ApiHarness]:
    """An :class:`ApiHarness`; every app it started is stopped at the end."""
    h = ApiHarness(settings, database)
    yield h
    h.close()
