"""Leaderboard ranking and cursor pagination, the week period, and player statistics."""

from __future__ import annotations

import random
import uuid

from tests.api.conftest import ApiHarness

DAY = 24 * 3600


def _walk(api, headers: dict[str, str], **params) -> list[list[dict]]:
    pages = []
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = api.get("/v1/leaderboard", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["entries"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ended"


def test_cursor_walks_every_page_without_duplicates_or_gaps(harness: ApiHarness) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = harness.bearer(api, client)
    chat_id = -random.randrange(10**12, 10**13)
    expected: dict[str, int] = {}
    rng = random.Random(7)
    for n in range(23):
        player = harness.player(f"api:{client['client_id']}:p{n}", f"Player {n}")
        game = harness.game(client_id=client["client_id"], owner=player, chat_id=chat_id)
        # Ties on purpose: several players share a score.
        points = [rng.choice([0, 50, 100, 150]) for _ in range(rng.randint(1, 3))]
        for position, value in enumerate(points):
            harness.answer(game=game, user=player, points=value, position=position,
                           verdict="correct" if value else "incorrect")
        expected[f"p{n}"] = sum(points)
    # Another client's game in the same chat does not count for this client.
    stranger = harness.player(f"api:other-{uuid.uuid4().hex[:6]}:x")
    harness.answer(game=harness.game(client_id="other", owner=stranger, chat_id=chat_id), user=stranger,
                   points=10**6)

    pages = _walk(api, headers, scope=f"chat:{chat_id}", limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    entries = [e for page in pages for e in page]
    assert [e["player_id"] for e in entries].count(None) == 0
    assert sorted(e["player_id"] for e in entries) == sorted(expected)
    assert {e["player_id"]: e["points"] for e in entries} == expected
    points = [e["points"] for e in entries]
    assert points == sorted(points, reverse=True)
    # Competition ranking: equal points share a rank; the next rank skips.
    for i, entry in enumerate(entries):
        assert entry["rank"] == 1 + sum(1 for p in points if p > entry["points"]), (i, entry)
    # The same walk with one big page gives the same order.
    assert _walk(api, headers, scope=f"chat:{chat_id}", limit=100) == [entries]


def test_week_period_excludes_old_answers(harness: ApiHarness) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = harness.bearer(api, client)
    chat_id = -random.randrange(10**12, 10**13)
    old_timer = harness.player(f"api:{client['client_id']}:old")
    newcomer = harness.player(f"api:{client['client_id']}:new")
    game_old = harness.game(client_id=client["client_id"], owner=old_timer, chat_id=chat_id)
    game_new = harness.game(client_id=client["client_id"], owner=newcomer, chat_id=chat_id)
    harness.answer(game=game_old, user=old_timer, points=500, age=10 * DAY)
    harness.answer(game=game_old, user=old_timer, points=20, age=1 * DAY)
    harness.answer(game=game_new, user=newcomer, points=100, age=60)

    week = _walk(api, headers, scope=f"chat:{chat_id}", period="week")[0]
    assert [(e["player_id"], e["points"]) for e in week] == [("new", 100), ("old", 20)]
    everything = _walk(api, headers, scope=f"chat:{chat_id}", period="all")[0]
    assert [(e["player_id"], e["points"]) for e in everything] == [("old", 520), ("new", 100)]


def test_global_board_hides_identities_of_other_clients(harness: ApiHarness) -> None:
    api = harness.start()
    mine, theirs = harness.new_client("player"), harness.new_client("player")
    me = harness.player(f"api:{mine['client_id']}:top", "Mine")
    them = harness.player(f"api:{theirs['client_id']}:top", "Theirs")
    harness.answer(game=harness.game(client_id=mine["client_id"], owner=me), user=me, points=10**7)
    harness.answer(game=harness.game(client_id=theirs["client_id"], owner=them), user=them, points=10**7 + 1)
    board = api.get("/v1/leaderboard", params={"limit": 100}, headers=harness.bearer(api, mine)).json()
    by_name = {e["display_name"]: e for e in board["entries"]}
    assert by_name["Mine"]["player_id"] == "top"
    assert by_name["Theirs"]["player_id"] is None
    assert by_name["Theirs"]["rank"] < by_name["Mine"]["rank"]


def test_bad_cursors_are_refused(harness: ApiHarness) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = harness.bearer(api, client)
    chat_id = -random.randrange(10**12, 10**13)
    for n in range(3):
        player = harness.player(f"api:{client['client_id']}:c{n}")
        harness.answer(game=harness.game(client_id=client["client_id"], owner=player, chat_id=chat_id), user=player,
                       points=n)
    first = api.get("/v1/leaderboard", params={"scope": f"chat:{chat_id}", "limit": 1}, headers=headers).json()
    cursor = first["next_cursor"]
    assert cursor
    mismatch = api.get("/v1/leaderboard", params={"scope": "global", "cursor": cursor}, headers=headers)
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["code"] == "invalid_cursor"
    for garbage in ("x", cursor[:-3], "e30", "%%%"):
        response = api.get("/v1/leaderboard", params={"cursor": garbage}, headers=headers)
        assert response.status_code == 400, (garbage, response.text)
    follow = api.get("/v1/leaderboard", params={"cursor": cursor}, headers=headers)
    assert follow.status_code == 200
    assert follow.json()["scope"] == f"chat:{chat_id}"
    assert [e["player_id"] for e in follow.json()["entries"]] == ["c1", "c0"]


def test_player_stats_are_computed_from_games_and_answers(harness: ApiHarness) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = harness.bearer(api, client, player="dora")
    assert api.get("/v1/players/me", headers=headers).status_code == 404
    dora = harness.player(f"api:{client['client_id']}:dora", "Dora")
    first = harness.game(client_id=client["client_id"], owner=dora, best_streak=2)
    second = harness.game(client_id=client["client_id"], owner=dora, best_streak=4)
    harness.answer(game=first, user=dora, points=100, latency_ms=1000, position=0)
    harness.answer(game=first, user=dora, points=0, verdict="incorrect", latency_ms=3000, position=1)
    harness.answer(game=second, user=dora, points=150, latency_ms=2000, position=0)
    harness.answer(game=second, user=dora, points=0, verdict="timeout", latency_ms=None, position=1)

    me = api.get("/v1/players/me", headers=headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["player_id"] == "dora"
    assert body["subject"] == f"api:{client['client_id']}:dora"
    assert body["display_name"] == "Dora"
    assert body["stats"] == {"games": 2, "answers": 4, "correct": 2, "accuracy": 0.5, "best_streak": 4,
                             "average_response_ms": 2000, "total_points": 250}
    assert api.get("/v1/players/dora/stats", headers=headers).json() == body


def test_numbers_that_only_look_like_digits_are_refused_not_crashed_on(harness: ApiHarness) -> None:
    api = harness.start()
    headers = harness.bearer(api, harness.new_client("player"))
    for limit in ("²", "١٢", "0", "-1", "1e3"):  # a superscript and Arabic-Indic digits pass str.isdigit()
        response = api.get("/v1/leaderboard", params={"limit": limit}, headers=headers)
        assert response.status_code == 422, (limit, response.text)
        assert response.json()["error"]["code"] == "validation_error"
