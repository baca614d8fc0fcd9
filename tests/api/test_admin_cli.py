"""``trivia-admin`` as a process: clients, service tokens and revocations, seen through the running API."""

from __future__ import annotations

import json
import time

from tests.api.conftest import ApiHarness


def _until_refused(api, headers: dict[str, str], path: str = "/v1/categories"):
    deadline = time.monotonic() + 15
    response = api.get(path, headers=headers)
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = api.get(path, headers=headers)
    return response


def test_create_list_and_revoke_clients(harness: ApiHarness) -> None:
    created = harness.admin_cli("create-client", "cli-app", "--scopes", "player service")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    assert len(lines) == 1
    credentials = json.loads(lines[0])
    assert set(credentials) == {"client_id", "client_secret"}

    listed = harness.admin_cli("list-clients")
    assert listed.returncode == 0, listed.stderr
    rows = {row["client_id"]: row for row in map(json.loads, listed.stdout.strip().splitlines())}
    assert rows[credentials["client_id"]]["scopes"] == "player service"
    assert rows[credentials["client_id"]]["revoked"] is False
    assert "secret" not in listed.stdout

    api = harness.start(revocation_refresh_s=0.1)
    headers = harness.bearer(api, credentials)
    assert api.get("/v1/categories", headers=headers).status_code == 200
    revoked = harness.admin_cli("revoke-client", credentials["client_id"])
    assert revoked.returncode == 0, revoked.stderr
    refused = _until_refused(api, headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "client revoked"
    listed = harness.admin_cli("list-clients")
    rows = {row["client_id"]: row for row in map(json.loads, listed.stdout.strip().splitlines())}
    assert rows[credentials["client_id"]]["revoked"] is True
    missing = harness.admin_cli("revoke-client", "cl_nobody")
    assert missing.returncode == 1


def test_service_token_can_be_revoked_by_jti(harness: ApiHarness) -> None:
    minted = harness.admin_cli("mint-service-token", "--ttl", "3600", "--json")
    assert minted.returncode == 0, minted.stderr
    issued = json.loads(minted.stdout)
    api = harness.start(revocation_refresh_s=0.1)
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert api.get("/v1/categories", headers=headers).status_code == 200
    revoked = harness.admin_cli("revoke-token", issued["jti"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout) == {"jti": issued["jti"], "revoked": True}
    refused = _until_refused(api, headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "invalid_token", "message": "token revoked"}


def test_plain_mint_prints_only_the_token(harness: ApiHarness) -> None:
    minted = harness.admin_cli("mint-service-token")
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.count(".") == 2
    assert len(minted.stdout.strip().splitlines()) == 1
    too_long = harness.admin_cli("mint-service-token", "--ttl", str(400 * 24 * 3600))
    assert too_long.returncode == 2
