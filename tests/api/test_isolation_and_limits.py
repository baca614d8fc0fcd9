"""Tenant isolation, body size and rate limits, CORS, idempotency conflicts and the shape of every error."""

from __future__ import annotations

import time
import uuid

from tests.api.conftest import ApiHarness


def test_client_cannot_read_another_clients_game_request_or_player(harness: ApiHarness, topics) -> None:
    api = harness.start()
    client_a, client_b = harness.new_client("player"), harness.new_client("player")
    a_alice = harness.bearer(api, client_a, player="alice")
    b_alice = harness.bearer(api, client_b, player="alice")
    alice = harness.player(f"api:{client_a['client_id']}:alice", "Alice")
    game = harness.game(client_id=client_a["client_id"], owner=alice)
    harness.answer(game=game, user=alice, points=70)

    assert api.get(f"/v1/games/{game.id}", headers=a_alice).status_code == 200
    for path in (f"/v1/games/{game.id}", "/v1/players/alice/stats",
                 f"/v1/players/api:{client_a['client_id']}:alice/stats"):
        response = api.get(path, headers=b_alice)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    answer = api.post(f"/v1/games/{game.id}/answers", json={"question_no": 0, "option": 1},
                      headers={**b_alice, "Idempotency-Key": "b-1"})
    assert answer.status_code == 404

    created = api.post("/v1/games", json={"question_count": 3}, headers=a_alice)
    assert created.status_code == 202, created.text
    request_path = created.headers["location"]
    assert api.get(request_path, headers=a_alice).status_code == 200
    assert api.get(request_path, headers=b_alice).status_code == 404

    stats = api.get("/v1/players/alice/stats", headers=a_alice)
    assert stats.status_code == 200
    assert stats.json()["stats"]["total_points"] == 70


def test_player_cannot_read_another_players_game_within_a_client(harness: ApiHarness) -> None:
    api = harness.start()
    client = harness.new_client("player")
    token = harness.tokens(api, client)["access_token"]
    bob = harness.player(f"api:{client['client_id']}:bob")
    game = harness.game(client_id=client["client_id"], owner=bob)
    as_bob = {"Authorization": f"Bearer {token}", "X-Player-Id": "bob"}
    as_eve = {"Authorization": f"Bearer {token}", "X-Player-Id": "eve"}
    assert api.get(f"/v1/games/{game.id}", headers=as_bob).status_code == 200
    assert api.get(f"/v1/games/{game.id}", headers=as_eve).status_code == 404
    finish = api.post(f"/v1/games/{game.id}/finish", headers=as_eve)
    assert finish.status_code == 404


def test_telegram_players_are_readable_by_services_only(harness: ApiHarness) -> None:
    api = harness.start()
    telegram_id = int(uuid.uuid4().int % 10**9) + 1
    tg = harness.player(f"tg:{telegram_id}", "Tess")
    game = harness.game(client_id="telebot", owner=tg, chat_id=-telegram_id, best_streak=3)
    harness.answer(game=game, user=tg, points=40)
    player = harness.bearer(api, harness.new_client("player"))
    service = harness.bearer(api, harness.new_client("service"))
    assert api.get(f"/v1/players/tg:{telegram_id}/stats", headers=player).status_code == 404
    stats = api.get(f"/v1/players/tg:{telegram_id}/stats", headers=service)
    assert stats.status_code == 200, stats.text
    assert stats.json()["player_id"] == f"tg:{telegram_id}"
    assert stats.json()["stats"]["best_streak"] == 3
    me = api.get("/v1/players/me", headers={**service, "X-Player-Subject": f"tg:{telegram_id}"})
    assert me.status_code == 200
    assert me.json()["display_name"] == "Tess"


def test_oversized_body_is_refused_with_413(harness: ApiHarness) -> None:
    api = harness.start()
    headers = harness.bearer(api, harness.new_client("player"))
    big = b'{"category": "' + b"x" * (70 * 1024) + b'"}'
    declared = api.post("/v1/games", content=big, headers={**headers, "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for _ in range(70):
            yield b"x" * 1024

    # No Content-Length (chunked): the limit applies while reading.
    streamed = api.post("/v1/games", content=chunks(), headers={**headers, "Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"
    token = api.post("/v1/auth/token", content=b"a=" + b"x" * (70 * 1024),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert token.status_code == 413


def test_rate_limit_answers_429_with_retry_after_then_recovers(harness: ApiHarness) -> None:
    api = harness.start(api_rate_limit=60)  # 1 request/s sustained, bursts of 10
    noisy = harness.bearer(api, harness.new_client("player"))
    quiet = harness.bearer(api, harness.new_client("player"))
    statuses = []
    for _ in range(100):
        response = api.get("/v1/leaderboard", params={"limit": 1}, headers=noisy)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {200}
    assert len(statuses) >= 10
    body = response.json()
    assert body["error"]["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    # The limit is per client: another client is not affected.
    assert api.get("/v1/leaderboard", params={"limit": 1}, headers=quiet).status_code == 200
    time.sleep(retry_after)
    assert api.get("/v1/leaderboard", params={"limit": 1}, headers=noisy).status_code == 200


def test_idempotency_key_reused_for_another_request_is_409(harness: ApiHarness, topics) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = {**harness.bearer(api, client, player="carol"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    carol = harness.player(f"api:{client['client_id']}:carol")
    game = harness.game(client_id=client["client_id"], owner=carol)
    first = api.post("/v1/games", json={"question_count": 3}, headers=headers)
    assert first.status_code == 202
    again = api.post("/v1/games", json={"question_count": 3}, headers=headers)
    assert again.status_code == 202
    assert again.json()["request_id"] == first.json()["request_id"]
    other = api.post(f"/v1/games/{game.id}/answers", json={"question_no": 0, "option": 0}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_cors_is_off_by_default_and_configurable(harness: ApiHarness) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    closed = harness.start()
    assert "access-control-allow-origin" not in closed.options("/v1/games", headers=preflight).headers
    assert "access-control-allow-origin" not in closed.get("/healthz", headers={"Origin": "https://app.example"}).headers
    opened = harness.start(api_cors_origins=("https://app.example",))
    answer = opened.options("/v1/games", headers=preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers
    other = opened.options("/v1/games", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_errors_are_json_with_security_headers_and_no_internals(harness: ApiHarness) -> None:
    api = harness.start()
    headers = harness.bearer(api, harness.new_client("player"))
    cases = [
        api.get("/v1/categories"),
        api.get("/v1/categories", headers={"Authorization": "Bearer a.b.c"}),
        api.post("/v1/games", content=b"{nope", headers=headers),
        api.post("/v1/games", json={"question_count": 0, "extra": True}, headers=headers),
        api.get("/v1/leaderboard", params={"cursor": "'; DROP TABLE answers; --"}, headers=headers),
        api.get("/v1/leaderboard", params={"limit": "1000"}, headers=headers),
        api.get("/v1/requests/not-a-uuid", params={"wait": "nan"}, headers=headers),
        api.get("/no/such/path"),
        api.delete("/v1/games"),
    ]
    assert [r.status_code for r in cases] == [401, 401, 400, 422, 400, 422, 404, 404, 405]
    for response in cases:
        body = response.json()
        assert set(body) == {"error"}
        assert {"code", "message"} <= set(body["error"])
        for marker in ("Traceback", "SELECT", "psycopg2", "peewee", 'File "'):
            assert marker not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-request-id"]
    invalid = cases[3].json()["error"]
    assert {d["path"] for d in invalid["details"]} == {"$.question_count", "$.extra"}
