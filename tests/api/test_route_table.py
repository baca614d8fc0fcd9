"""The route table the resource modules put together: the document's order, operations and replies are the
API's contract (the split into modules must not move or drop any of it), and the game fields take their
bounds and choices from the shared vocabulary. No database or broker: the document is built from the table.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateways.api import validation as v
from gateways.api.errors import ApiError
from gateways.api.openapi import build_document
from gateways.api.routes import DESCRIPTION, OPERATIONS
from gateways.api.routes.games import GAME_FIELDS, SERVICE_GAME_FIELDS

PLAYING = ["player", "service"]
# (method, path, operationId, tag, response codes, scopes), in the document's order.
CONTRACT = [
    ("POST", "/v1/auth/token", "issueToken", "auth", "200 400 401 403 413 422 429 500 503", None),
    ("POST", "/v1/auth/refresh", "refreshToken", "auth", "200 400 401 413 422 429 500 503", None),
    ("POST", "/v1/auth/revoke", "revokeToken", "auth", "200 400 401 403 413 422 429 500 503", ["admin"]),
    ("GET", "/v1/categories", "listCategories", "questions", "200 401 403 429 500 503", PLAYING),
    ("POST", "/v1/games", "createGame", "games", "200 202 400 401 403 409 413 422 429 500 503", PLAYING),
    ("GET", "/v1/games/{game_id}", "getGame", "games", "200 400 401 403 404 429 500 503", PLAYING),
    ("POST", "/v1/games/{game_id}/answers", "submitAnswer", "games",
     "200 202 400 401 403 404 409 413 422 429 500 503", PLAYING),
    ("POST", "/v1/games/{game_id}/hints", "requestHint", "games",
     "200 202 400 401 403 404 409 413 422 429 500 503", PLAYING),
    ("POST", "/v1/games/{game_id}/finish", "finishGame", "games",
     "200 202 400 401 403 404 409 413 422 429 500 503", PLAYING),
    ("GET", "/v1/requests/{request_id}", "getRequest", "games", "200 401 403 404 422 429 500 503", PLAYING),
    ("GET", "/v1/leaderboard", "getLeaderboard", "players", "200 400 401 403 422 429 500 503", PLAYING),
    ("GET", "/v1/players/me", "getMe", "players", "200 400 401 403 404 429 500 503", PLAYING),
    ("GET", "/v1/players/{player_id}/stats", "getPlayerStats", "players", "200 401 403 404 429 500 503", PLAYING),
    ("GET", "/healthz", "healthz", "operations", "200 500", None),
    ("GET", "/readyz", "readyz", "operations", "200 500 503", None),
    ("GET", "/metrics", "metrics", "operations", "200 500", None),
    ("GET", "/openapi.json", "openapi", "operations", "200 500", None),
    ("GET", "/docs", "docs", "operations", "200 500", None),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document(OPERATIONS, description=DESCRIPTION)


def test_the_parts_make_the_documented_table_in_order(document) -> None:
    listed = [(method.upper(), path, op["operationId"], op["tags"][0], " ".join(op["responses"]), op.get("x-scopes"))
              for path, item in document["paths"].items() for method, op in item.items()]
    assert listed == CONTRACT
    assert [(op.method, op.path) for op in OPERATIONS] == [(row[0], row[1]) for row in CONTRACT]
    assert [tag["name"] for tag in document["tags"]] == ["auth", "questions", "games", "players", "operations"]
    assert len({op.handler for op in OPERATIONS}) == len(OPERATIONS), "each route has its own handler"


def test_game_fields_are_documented_with_the_vocabulary(document) -> None:
    body = document["paths"]["/v1/games"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = body["properties"]
    assert fields["difficulty"]["enum"] == ["easy", "medium", "hard", None]
    assert (fields["question_count"]["minimum"], fields["question_count"]["maximum"]) == (1, 50)
    assert (fields["time_limit_s"]["minimum"], fields["time_limit_s"]["maximum"]) == (5, 300)
    assert fields["answer_mode"]["enum"] == ["first", "all", None]
    assert fields["question_type"]["enum"] == ["buttons", "text", "truefalse", "poll", None]
    assert fields["mode"]["enum"] == ["solo", "group", None]


@pytest.mark.parametrize(("body", "path"), [
    ({"question_type": "poll"}, "$.question_type"),
    ({"question_count": 51}, "$.question_count"),
    ({"question_count": 0}, "$.question_count"),
    ({"time_limit_s": 4.5}, "$.time_limit_s"),
    ({"time_limit_s": 301}, "$.time_limit_s"),
    ({"difficulty": "extreme"}, "$.difficulty"),
    ({"answer_mode": "last"}, "$.answer_mode"),
])
def test_a_client_game_outside_the_vocabulary_is_refused(body, path) -> None:
    with pytest.raises(ApiError) as refused:
        v.validate(body, GAME_FIELDS)
    assert refused.value.status == 422
    assert [d["path"] for d in refused.value.details] == [path]


def test_poll_games_and_group_mode_are_for_services_only() -> None:
    service = {**GAME_FIELDS, **SERVICE_GAME_FIELDS}
    assert v.validate({"question_type": "poll", "mode": "group"}, service) == {"question_type": "poll",
                                                                              "mode": "group"}
    with pytest.raises(ApiError) as refused:
        v.validate({"mode": "group"}, GAME_FIELDS)
    assert refused.value.details == [{"path": "$.mode", "message": "unknown field"}]
    with pytest.raises(ApiError):
        v.validate({"mode": "team"}, service)
