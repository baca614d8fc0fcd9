"""Bad input to the API: each request gets a clear 4xx JSON error and changes nothing (no request row, no
game, nothing produced), and the same client can go on playing right after."""

from __future__ import annotations

import uuid

import pytest

from schema.events import decode
from schema.models import GameSession, RequestStatus
from tests.api.conftest import ApiHarness
from tests.kafka_helpers import TopicReader

NESTED = b"[" * 30_000 + b"]" * 30_000  # within the body limit, far past the parser's depth

GAME_CASES = [
    ("not json", b"{not json", 400, "invalid_json"),
    ("invalid utf-8", b'{"category": "sci\xff\xfeence"}', 400, "invalid_encoding"),
    ("nan", b'{"question_count": NaN}', 400, "invalid_json"),
    ("infinity", b'{"question_count": -Infinity}', 400, "invalid_json"),
    ("deeply nested", NESTED, 400, "invalid_json"),
    ("huge integer", b'{"question_count": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
    ("float overflow", b'{"question_count": 1e400}', 422, "validation_error"),
    ("top-level array", b"[1, 2]", 422, "validation_error"),
    ("wrong type", b'{"question_count": "five"}', 422, "validation_error"),
    ("unknown field", b'{"question_count": 3, "colour": "red"}', 422, "validation_error"),
    ("control characters", b'{"category": "sci\\u0000en\\u001bce"}', 422, "validation_error"),
    ("lone surrogate", b'{"category": "sci\\ud800ence"}', 422, "validation_error"),
    ("too long", b'{"category": "' + b"x" * 65 + b'"}', 422, "validation_error"),
    ("1 MB string", b'{"category": "' + b"x" * (1024 * 1024) + b'"}', 413, "payload_too_large"),
]

ANSWER_CASES = [
    ("negative question", {"question_no": -1, "option": 0}),
    ("option out of range type", {"question_no": 0, "option": "zero"}),
    ("both option and text", {"question_no": 0, "option": 0, "text": "Paris"}),
    ("neither option nor text", {"question_no": 0}),
    ("boolean as number", {"question_no": True, "option": 0}),
    ("control characters in text", {"question_no": 0, "text": "Pa\u0000ris\u202e"}),
    ("huge text", {"question_no": 0, "text": "x" * 60_000}),
]


def _counts(harness: ApiHarness) -> tuple[int, int]:
    with harness.database.connection_context():
        return RequestStatus.select().count(), GameSession.select().count()


@pytest.mark.parametrize(("name", "body", "status", "code"), GAME_CASES, ids=[c[0] for c in GAME_CASES])
def test_bad_game_requests_get_a_clear_error_and_change_nothing(harness: ApiHarness, name, body, status,
                                                               code) -> None:
    api = harness.start()
    headers = {**harness.bearer(api, harness.new_client("player"), player="mallory"),
               "Content-Type": "application/json", "Idempotency-Key": f"bad-{uuid.uuid4()}"}
    before = _counts(harness)
    response = api.post("/v1/games", content=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code
    assert error["message"] and len(response.content) < 20_000, "a clear, bounded message"
    assert "Traceback" not in response.text and "psycopg2" not in response.text
    assert _counts(harness) == before, f"{name}: a refused request left a side effect"


@pytest.mark.parametrize(("name", "body"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES])
def test_bad_answers_get_a_clear_error_and_change_nothing(harness: ApiHarness, name, body) -> None:
    api = harness.start()
    client = harness.new_client("player")
    headers = {**harness.bearer(api, client, player="mallory"), "Idempotency-Key": f"bad-{uuid.uuid4()}"}
    owner = harness.player(f"api:{client['client_id']}:mallory")
    game = harness.game(client_id=client["client_id"], owner=owner)
    before = _counts(harness)
    response = api.post(f"/v1/games/{game.id}/answers", json=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["error"]["message"]
    assert _counts(harness) == before, f"{name}: a refused answer left a side effect"


@pytest.mark.parametrize("category", ["science'; DROP TABLE game_sessions; --", "<b>Bold</b> & <script>x</script>"])
def test_hostile_looking_text_is_only_text(harness: ApiHarness, category: str, topics) -> None:
    """SQL- and HTML-looking strings are valid topic names: stored verbatim as data, never run or rendered."""
    api = harness.start()
    headers = {**harness.bearer(api, harness.new_client("player"), player="mallory"),
               "Idempotency-Key": f"odd-{uuid.uuid4()}"}
    response = api.post("/v1/games", json={"category": category}, headers=headers)
    assert response.status_code == 202, response.text
    with harness.database.connection_context():
        assert harness.database.table_exists("game_sessions")
    reader = TopicReader(topics, "commands")
    try:
        records = reader.poll_until(lambda rs: any(decode(r.value).request_id == response.json()["request_id"]
                                                   for r in rs))
    finally:
        reader.close()
    command = next(e for e in map(lambda r: decode(r.value), records)
                   if e.request_id == response.json()["request_id"])
    assert command.payload.category == category, "the text is carried exactly as it was given"
