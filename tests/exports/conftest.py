"""Fixtures of the export tests: a Git smart-HTTP server, moto in server mode, a fresh migrated database."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import boto3
import peewee as pw
import pytest

from gateways.aws_lambda import handler as lambda_handler
from tests.exports.games import fresh_database
from tests.exports.git_server import GitServer
from tests.exports.moto_server import MotoServer

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto server for the run (state reset by ``aws``)."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> MotoServer:
    """moto emptied, and the standard AWS credential chain pointed at it through the environment."""
    moto.reset()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # The Lambda module keeps one client per container; each test gets one for its environment.
    monkeypatch.setattr(lambda_handler, "_client", None)
    return moto


@pytest.fixture
def s3(aws: MotoServer):
    """A boto3 S3 client on moto."""
    client = boto3.client("s3", endpoint_url=aws.endpoint, region_name=REGION)
    yield client
    client.close()


@pytest.fixture
def bucket(s3) -> str:
    """A new, empty bucket."""
    name = f"trivia-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def git_token() -> str:
    """A random token the Git server accepts."""
    return f"gt-{secrets.token_hex(16)}"


@pytest.fixture
def git_server(tmp_path, git_token: str) -> Iterator[GitServer]:
    """A Git smart-HTTP server (plain HTTP) with an empty bare repository."""
    with GitServer(tmp_path / "git-server", token=git_token) as server:
        yield server


@pytest.fixture
def export_db(pg_factory) -> Iterator[pw.Database]:
    """A fresh PostgreSQL database: migrated, the question bank seeded, bound to the models."""
    database = fresh_database(pg_factory())
    yield database
    if hasattr(database, "close_all"):
        database.close_all()
