"""Secrets never leak: a whole API game runs with every secret set to a recognisable value, and none of them
appears in any process's log, any HTTP response, or any event on the run's Kafka topics."""

from __future__ import annotations

import json

import pytest
import requests

from tests.kafka_helpers import TopicReader
from trivia_actors.settings import load_settings

CANARIES = {
    "JWT_SECRET": "canary-jwt-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e",
    "DEEPSEEK_API_KEY": "sk-canary-deepseek-5e7a9c",
    "GIT_TOKEN": "ghp_canarygittoken9d8c7b6a",
    "AWS_SECRET_ACCESS_KEY": "canary/aws/secret/4b3c2d1e",
    "AWS_ACCESS_KEY_ID": "AKIACANARYKEY0001",
    "TELEGRAM_BOT_TOKEN": "987654:canary-bot-token-AAFx",
}


@pytest.fixture
def e2e_env(e2e_env):
    # DeepSeek is "configured" but points at a closed port: the key is loaded and must still never be shown.
    return {**e2e_env, **CANARIES, "DEEPSEEK_BASE_URL": "http://127.0.0.1:9/v1", "LOG_LEVEL": "DEBUG"}


def test_no_secret_appears_in_logs_responses_or_events(platform, api_client, e2e_env):
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
    platform.stop_all()
    logs = {name: platform.log(name) for name in ("db-init", "admin", "api", "worker")}
    assert logs["worker"] and logs["api"]  # DEBUG logging was on: there is plenty to leak into
    for secret in secrets:
        for name, text in logs.items():
            assert secret not in text, f"{name} log shows a secret"
        assert not any(secret in body for body in bodies), "an HTTP response shows a secret"
        assert not any(secret.encode() in event for event in events), "a Kafka event carries a secret"
