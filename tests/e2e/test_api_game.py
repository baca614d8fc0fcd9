"""An API consumer plays a whole game through the real processes: api -> Kafka -> worker -> PostgreSQL."""

from __future__ import annotations

import requests

from schema.models import Answer, GameQuestion, GameSession, Question, RequestStatus


def _token(base: str, credentials: dict) -> str:
    response = requests.post(f"{base}/v1/auth/token", data={"grant_type": "client_credentials", **credentials},
                             timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return body["access_token"]


def _result(base: str, headers: dict, request_id: str) -> dict:
    response = requests.get(f"{base}/v1/requests/{request_id}", params={"wait": 10}, headers=headers, timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "done", body
    return body["result"]


def test_api_consumer_plays_a_five_question_game(platform, api_client, e2e_env, platform_db):
    base = e2e_env["API_URL"]
    headers = {"Authorization": f"Bearer {_token(base, api_client)}", "X-Player-Id": "alice"}
    created = requests.post(f"{base}/v1/games", json={"question_count": 5, "category": "science"}, headers=headers,
                            timeout=10)
    assert created.status_code == 202, created.text
    game_id = created.json()["game_id"]
    game = _result(base, headers, created.json()["request_id"])
    assert game["type"] == "game.created"
    assert [q["no"] for q in game["questions"]] == [0, 1, 2, 3, 4]
    assert all(len(q["options"]) == 4 and q["category"] == "science" for q in game["questions"])

    total = 0
    verdicts = []
    for no in range(5):
        view = requests.get(f"{base}/v1/games/{game_id}", headers=headers, timeout=10).json()
        assert view["status"] == "active"
        assert view["current_question"]["no"] == no
        assert "answer" not in view["current_question"]
        answer = requests.post(f"{base}/v1/games/{game_id}/answers", json={"question_no": no, "option": no % 4},
                               headers={**headers, "Idempotency-Key": f"answer-{no}"}, timeout=10)
        assert answer.status_code == 202, answer.text
        # Sending the same answer again returns the same request and changes nothing.
        again = requests.post(f"{base}/v1/games/{game_id}/answers", json={"question_no": no, "option": no % 4},
                              headers={**headers, "Idempotency-Key": f"answer-{no}"}, timeout=10)
        assert again.status_code == 202
        assert again.json()["request_id"] == answer.json()["request_id"]
        result = _result(base, headers, answer.json()["request_id"])
        assert result["type"] == "answer.evaluated"
        assert result["question_no"] == no
        total += result["points"]
        assert result["score"] == total
        verdicts.append(result["verdict"])
        assert (result["verdict"] == "correct") == (result["correct_option"] == no % 4)
    assert result["next_question_no"] is None
    assert result["summary"]["score"] == total
    assert result["summary"]["question_count"] == 5

    final = requests.get(f"{base}/v1/games/{game_id}", headers=headers, timeout=10).json()
    assert final["status"] == "finished"
    assert final["score"] == total
    assert final["current_question"] is None

    with platform_db.connection_context():
        game_row = GameSession.get_by_id(game_id)
        assert (game_row.status, game_row.score, game_row.current_no) == ("finished", total, 5)
        answers = list(Answer.select().where(Answer.game == game_id).order_by(Answer.position))
        assert [a.position for a in answers] == [0, 1, 2, 3, 4]
        assert sum(a.points for a in answers) == total
        assert [a.verdict for a in answers] == verdicts
        for a in answers:
            gq = GameQuestion.get(GameQuestion.game == game_id, GameQuestion.position == a.position)
            question = Question.get_by_id(a.question_id)
            assert (a.raw_answer == question.answer) == (a.verdict == "correct")
            assert a.raw_answer == gq.options[a.position % 4]
        assert RequestStatus.select().where(RequestStatus.game_id == game_id).count() == 6


def test_errors_are_json_with_the_right_status(platform, api_client, e2e_env):
    base = e2e_env["API_URL"]
    assert requests.get(f"{base}/v1/games/x", timeout=5).status_code == 401
    bad = requests.get(f"{base}/v1/games/x", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_token"
    headers = {"Authorization": f"Bearer {_token(base, api_client)}"}
    invalid = requests.post(f"{base}/v1/games", json={"question_count": "five", "colour": 1}, headers=headers,
                            timeout=5)
    assert invalid.status_code == 422
    paths = {d["path"] for d in invalid.json()["error"]["details"]}
    assert paths == {"$.question_count", "$.colour"}
    broken = requests.post(f"{base}/v1/games", data=b"{not json", headers=headers, timeout=5)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
    missing = requests.get(f"{base}/v1/games/00000000-0000-4000-8000-000000000000", headers=headers, timeout=5)
    assert missing.status_code == 404
    wrong_secret = requests.post(f"{base}/v1/auth/token", data={"grant_type": "client_credentials",
                                                                "client_id": api_client["client_id"],
                                                                "client_secret": "wrong"}, timeout=5)
    assert wrong_secret.status_code == 401
    assert "wrong" not in wrong_secret.text.replace("wrong secret", "")


def test_true_false_game_asks_statements(platform, api_client, e2e_env, platform_db):
    base = e2e_env["API_URL"]
    headers = {"Authorization": f"Bearer {_token(base, api_client)}", "X-Player-Id": "tf"}
    created = requests.post(f"{base}/v1/games", json={"question_count": 4, "question_type": "truefalse"},
                            headers=headers, timeout=10)
    assert created.status_code == 202, created.text
    game = _result(base, headers, created.json()["request_id"])
    game_id = created.json()["game_id"]
    assert all(q["options"] == ["True", "False"] for q in game["questions"])
    with platform_db.connection_context():
        rows = list(GameQuestion.select().where(GameQuestion.game == game_id).order_by(GameQuestion.position))
        statements = {(q.tf_true, q.tf_false) for q in Question.select().where(
            Question.id.in_([r.question_id for r in rows]))}
    for view, row in zip(game["questions"], rows, strict=True):
        assert view["text"] == row.prompt
        assert any(row.prompt == (t if row.answer == "True" else f) for t, f in statements)
    answer = requests.post(f"{base}/v1/games/{game_id}/answers", json={"question_no": 0, "option": 0},
                           headers={**headers, "Idempotency-Key": "tf-0"}, timeout=10)
    result = _result(base, headers, answer.json()["request_id"])
    assert (result["verdict"] == "correct") == (rows[0].answer == "True")
    assert result["correct_answer"] == rows[0].answer


def test_commands_can_wait_for_their_outcome_in_one_call(platform, api_client, e2e_env, platform_db):
    """``?wait=N`` on a command: 200 with the settled request (as GET /v1/requests gives it), no poll needed."""
    base = e2e_env["API_URL"]
    headers = {"Authorization": f"Bearer {_token(base, api_client)}", "X-Player-Id": "walter"}
    # A malformed wait is refused before anything is recorded.
    refused = requests.post(f"{base}/v1/games", params={"wait": "soon"}, json={"question_count": 2},
                            headers={**headers, "Idempotency-Key": "g-bad"}, timeout=10)
    assert refused.status_code == 422, refused.text
    with platform_db.connection_context():
        assert not RequestStatus.select().where(RequestStatus.idempotency_key == "g-bad").exists()

    created = requests.post(f"{base}/v1/games", params={"wait": 10}, json={"question_count": 2},
                            headers={**headers, "Idempotency-Key": "g-1"}, timeout=15)
    assert created.status_code == 200, created.text
    game = created.json()
    assert game["status"] == "done" and game["kind"] == "game.create"
    assert created.headers["Location"] == f"/v1/requests/{game['request_id']}"
    assert [q["no"] for q in game["result"]["questions"]] == [0, 1]
    game_id = game["game_id"]

    for no in range(2):
        answered = requests.post(f"{base}/v1/games/{game_id}/answers", params={"wait": 10},
                                 json={"question_no": no, "option": 0},
                                 headers={**headers, "Idempotency-Key": f"w-{no}"}, timeout=15)
        assert answered.status_code == 200, answered.text
        view = answered.json()
        # The view the POST gave is exactly the stored one.
        polled = requests.get(f"{base}/v1/requests/{view['request_id']}", headers=headers, timeout=10).json()
        assert view == polled
        assert view["result"]["type"] == "answer.evaluated" and view["result"]["question_no"] == no
        # Repeating the command with its key answers with the same settled request at once.
        again = requests.post(f"{base}/v1/games/{game_id}/answers", params={"wait": 10},
                              json={"question_no": no, "option": 0},
                              headers={**headers, "Idempotency-Key": f"w-{no}"}, timeout=15)
        assert again.status_code == 200 and again.json() == view

    # A refused command settles as failed: 200 with the error, the same as a poll would show.
    late = requests.post(f"{base}/v1/games/{game_id}/answers", params={"wait": 10}, json={"question_no": 0,
                         "option": 1}, headers={**headers, "Idempotency-Key": "w-late"}, timeout=15)
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "failed" and late.json()["error"]["code"] == "game_over"
    with platform_db.connection_context():
        assert Answer.select().where(Answer.game == game_id).count() == 2
