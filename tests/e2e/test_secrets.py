"""Secrets never leak: a whole API game runs with every secret set to a recognisable value, and none of them
appears in any process's log, any HTTP response, any event on the run's Kafka topics, the exported transcripts
(Git and S3) or the worker's Git clone (its config included)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
import requests

from schema.models import ExportOutbox
from tests.exports.git_server import GitServer
from tests.exports.moto_server import MotoServer
from tests.kafka_helpers import TopicReader
from trivia_actors.runtime import load_settings

CANARIES = {
    "JWT_SECRET": "canary-jwt-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e",
    "DEEPSEEK_API_KEY": "sk-canary-deepseek-5e7a9c",
    "GIT_TOKEN": "ghp_canarygittoken9d8c7b6a",
    "AWS_SECRET_ACCESS_KEY": "canary/aws/secret/4b3c2d1e",
    "AWS_ACCESS_KEY_ID": "AKIACANARYKEY0001",
    "TELEGRAM_BOT_TOKEN": "987654:canary-bot-token-AAFx",
}


BUCKET = "trivia-canary"


@pytest.fixture
def export_targets(tmp_path):
    """A Git server accepting the canary token and an S3 (moto) bucket, the canary AWS keys' targets."""
    with GitServer(tmp_path / "git-server", token=CANARIES["GIT_TOKEN"]) as git:
        moto = MotoServer().start()
        try:
            boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                         aws_access_key_id=CANARIES["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=CANARIES["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=BUCKET)
            yield git, moto
        finally:
            moto.stop()


@pytest.fixture
def e2e_env(e2e_env, export_targets, tmp_path):
    # DeepSeek is "configured" but points at a closed port: the key is loaded and must still never be shown.
    git, moto = export_targets
    return {**e2e_env, **CANARIES, "DEEPSEEK_BASE_URL": "http://127.0.0.1:9/v1", "LOG_LEVEL": "DEBUG",
            "GIT_REMOTE_URL": git.url, "GIT_WORK_DIR": str(tmp_path / "git-clone"), "S3_BUCKET": BUCKET,
            "AWS_ENDPOINT_URL": moto.endpoint, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


def _exported(platform_db, game_id: str, git: GitServer, moto: MotoServer) -> list[bytes]:
    """Wait until both exports are done; every exported byte (Git files, S3 objects)."""
    deadline = time.monotonic() + 60
    while True:
        with platform_db.connection_context():
            statuses = {row.target: row.status for row in ExportOutbox.select().where(ExportOutbox.game == game_id)}
        if statuses == {"git": "done", "s3": "done"}:
            break
        assert time.monotonic() < deadline, f"exports not done: {statuses}"
        time.sleep(0.5)
    files = [git.show(name) for name in git.file_names()]
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                      aws_access_key_id=CANARIES["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=CANARIES["AWS_SECRET_ACCESS_KEY"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    objects = [s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys]
    assert any(game_id.encode() in blob for blob in files) and len(objects) == 1, "the transcripts were exported"
    return files + objects


def test_no_secret_appears_in_logs_responses_events_or_exports(platform, api_client, e2e_env, platform_db,
                                                               export_targets):
    base = e2e_env["API_URL"]
    secrets = [*CANARIES.values(), api_client["client_secret"]]
    bodies: list[str] = []

    def call(method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{base}{path}", timeout=20, **kwargs)
        bodies.append(json.dumps(dict(response.headers)) + response.text)
        return response

    # A wrong secret and a forged token first: their errors must not echo anything either.
    call("POST", "/v1/auth/token", data={"grant_type": "client_credentials", "client_id": api_client["client_id"],
                                         "client_secret": "wrong-" + api_client["client_secret"]})
    call("GET", "/v1/categories", headers={"Authorization": f"Bearer {CANARIES['JWT_SECRET']}"})
    token = call("POST", "/v1/auth/token", data={"grant_type": "client_credentials", **api_client}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}", "X-Player-Id": "sam"}
    created = call("POST", "/v1/games", params={"wait": 15}, json={"question_count": 3},
                   headers={**headers, "Idempotency-Key": "s-g"})
    assert created.status_code == 200, created.text
    game = created.json()
    for no in range(3):
        answered = call("POST", f"/v1/games/{game['game_id']}/answers", params={"wait": 15},
                        json={"question_no": no, "text": "canary typed answer"},
                        headers={**headers, "Idempotency-Key": f"s-{no}"})
        assert answered.status_code == 200, answered.text
    call("GET", "/v1/players/me", headers=headers)
    call("GET", "/metrics")

    settings = load_settings(e2e_env)
    events: list[bytes] = []
    for name in ("commands", "results"):
        reader = TopicReader(settings, name)
        try:
            reader.poll_until(lambda records: len(records) >= 4)
            events += [record.value or b"" for record in reader.records]
        finally:
            reader.close()
    exported = _exported(platform_db, game["game_id"], *export_targets)
    platform.stop_all()
    clone = Path(e2e_env["GIT_WORK_DIR"])
    assert (clone / ".git" / "config").exists(), "the worker cloned the transcript repository"
    clone_files = [p.read_bytes() for p in clone.rglob("*") if p.is_file()]
    logs = {name: platform.log(name) for name in ("db-init", "admin", "api", "worker")}
    assert logs["worker"] and logs["api"]  # DEBUG logging was on: there is plenty to leak into
    for secret in secrets:
        for name, text in logs.items():
            assert secret not in text, f"{name} log shows a secret"
        assert not any(secret in body for body in bodies), "an HTTP response shows a secret"
        assert not any(secret.encode() in event for event in events), "a Kafka event carries a secret"
        assert not any(secret.encode() in blob for blob in exported), "an exported transcript shows a secret"
        assert not any(secret.encode() in blob for blob in clone_files), "the Git clone holds a secret"
