"""Session snapshots: the version 2 documents written before typed state still load (and are written the same),
so sessions saved by a running bot resume after an upgrade."""

from __future__ import annotations

import json
import time

import pytest

from tests.session.dummies import DummyApi, DummyCommands, DummyOutbox, ShardHarness, SnapshotStore
from trivia_actors.rules import AnswerMode, CallKind, Difficulty, GameMode, Phase, QuestionType
from trivia_actors.session import SessionState, SnapshotError

GAME_ID = "7a1b2c3d-0000-4000-8000-000000000002"

# Written by the session of commit 4314f36 (untyped state): a group game judging its second question, with a
# hint, a stop and another player's answer in flight, and the question's timeout awaiting its result.
V2_GROUP_JUDGING = """{"chat_id": -1001, "player": {"telegram_id": 7, "name": "Kim", "language": "de"},
"phase": "judging", "mode": "group", "question_type": "buttons", "game_id": "7a1b2c3d-0000-4000-8000-000000000002",
"game_tag": "7a1b2c3d", "category": "music", "questions": [{"no": 0, "text": "Q0?", "options": ["w", "x", "y", "z"],
"category": "music", "difficulty": "medium", "correct_option": null}, {"no": 1, "text": "Q1?", "options": ["a", "b"],
"category": "music", "difficulty": "hard", "correct_option": 1}], "current_no": 1, "score": 0, "time_limit_s": 20.0,
"deadline": 1700000020.5, "answered": [8], "idle_timeouts": 1, "idle_limit": 3,
"scoreboard": [["Cy", 1400], ["Kim", 0]], "handled_events": ["e1", "e2"], "pending_calls": {
"tg-hint:-1001:12": {"kind": "hint", "game_id": "7a1b2c3d-0000-4000-8000-000000000002", "question_no": 1,
"key": "tg-hint:-1001:12", "subject": "tg:7"},
"tg-stop:7a1b2c3d-0000-4000-8000-000000000002": {"kind": "finish", "game_id": "7a1b2c3d-0000-4000-8000-000000000002",
"key": "tg-stop:7a1b2c3d-0000-4000-8000-000000000002", "subject": "tg:7"},
"tg-answer:7a1b2c3d-0000-4000-8000-000000000002:1:8": {"kind": "answer",
"game_id": "7a1b2c3d-0000-4000-8000-000000000002", "question_no": 1, "option": 2, "text": null,
"key": "tg-answer:7a1b2c3d-0000-4000-8000-000000000002:1:8", "subject": "tg:8", "name": "Lee"}},
"awaiting": {"kind": "timeout", "key": "timeout:7a1b2c3d-0000-4000-8000-000000000002:1",
"game_id": "7a1b2c3d-0000-4000-8000-000000000002", "question_no": 1, "since": 1700000021.25}, "v": 2}"""

# Written by the same code right after /play (the create call not yet accepted) and after its 202.
V2_CREATING = """{"chat_id": 42, "player": {"telegram_id": 42, "name": "Ann", "language": "en"}, "phase": "creating",
"mode": "solo", "question_type": "text", "game_id": null, "game_tag": "", "category": "science", "questions": [],
"current_no": 0, "score": 0, "time_limit_s": 30.0, "deadline": null, "answered": [], "idle_timeouts": 0,
"idle_limit": 3, "scoreboard": [], "handled_events": [], "pending_calls": {"tg-play:42:7": {"kind": "create",
"options": {"category": "science", "question_count": 5, "mode": "solo", "difficulty": "hard", "time_limit_s": 20.0,
"answer_mode": "first", "streak_enabled": true, "speed_points": true, "difficulty_weighted": true,
"hint_penalty_pct": 25, "question_type": "text"}, "key": "tg-play:42:7"}}, "awaiting": null, "v": 2}"""

V2_CREATE_ACCEPTED = """{"chat_id": 42, "player": {"telegram_id": 42, "name": "Ann", "language": "en"},
"phase": "creating", "mode": "solo", "question_type": "text", "game_id": "3f2b8c1e-0000-4000-8000-000000000001",
"game_tag": "3f2b8c1e", "category": "science", "questions": [], "current_no": 0, "score": 0, "time_limit_s": 30.0,
"deadline": null, "answered": [], "idle_timeouts": 0, "idle_limit": 3, "scoreboard": [], "handled_events": [],
"pending_calls": {}, "awaiting": {"kind": "create", "options": {"category": "science", "question_count": 5,
"mode": "solo", "difficulty": "hard", "time_limit_s": 20.0, "answer_mode": "first", "streak_enabled": true,
"speed_points": true, "difficulty_weighted": true, "hint_penalty_pct": 25, "question_type": "text"},
"key": "tg-play:42:7", "since": 1700000000.0}, "v": 2}"""


@pytest.mark.parametrize("literal", [V2_GROUP_JUDGING, V2_CREATING, V2_CREATE_ACCEPTED])
def test_a_version_2_snapshot_loads_and_is_written_back_the_same(literal: str) -> None:
    document = json.loads(literal)
    state = SessionState.from_snapshot(document)
    assert json.loads(json.dumps(state.to_snapshot())) == document


def test_a_version_2_snapshot_loads_as_typed_state() -> None:
    state = SessionState.from_snapshot(json.loads(V2_GROUP_JUDGING))
    assert (state.phase, state.mode, state.question_type) == (Phase.JUDGING, GameMode.GROUP, QuestionType.BUTTONS)
    assert state.scoreboard == [("Cy", 1400), ("Kim", 0)]
    answer = state.pending_calls[f"tg-answer:{GAME_ID}:1:8"]
    assert (answer.kind, answer.game_id, answer.question_no, answer.option, answer.subject, answer.name) == (
        CallKind.ANSWER, GAME_ID, 1, 2, "tg:8", "Lee")
    assert {call.kind for call in state.pending_calls.values()} == {CallKind.ANSWER, CallKind.HINT, CallKind.FINISH}
    assert state.awaiting is not None
    assert (state.awaiting.call.kind, state.awaiting.call.question_no, state.awaiting.since) == (
        CallKind.TIMEOUT, 1, 1700000021.25)

    created = SessionState.from_snapshot(json.loads(V2_CREATE_ACCEPTED))
    assert created.awaiting is not None
    options = created.awaiting.call.options
    assert options is not None
    assert (options.question_count, options.difficulty, options.answer_mode, options.question_type, options.topic) == (
        5, Difficulty.HARD, AnswerMode.FIRST, QuestionType.TEXT, None)


def test_a_restored_version_2_session_makes_its_calls_again_with_the_same_keys() -> None:
    api = DummyApi(GAME_ID)
    state = SessionState.from_snapshot(json.loads(V2_GROUP_JUDGING))
    store = SnapshotStore.start({state.chat_id: state.to_snapshot()})
    ref = ShardHarness(outbox=DummyOutbox(), api=api, commands=DummyCommands(), store=store,
                       asleep={state.chat_id: 0.0})
    try:
        _wait_for_calls(api, 3)
        assert sorted((name, kwargs["idempotency_key"]) for name, kwargs in api.calls) == [
            ("finish_game", f"tg-stop:{GAME_ID}"),
            ("request_hint", "tg-hint:-1001:12"),
            ("submit_answer", f"tg-answer:{GAME_ID}:1:8"),
        ]
        answer = next(kwargs for name, kwargs in api.calls if name == "submit_answer")
        assert (answer["subject"], answer["name"], answer["question_no"], answer["option"], answer["text"]) == (
            "tg:8", "Lee", 1, 2, None)
    finally:
        ref.stop()
        store.stop()

    api = DummyApi(GAME_ID)
    store = SnapshotStore.start({42: json.loads(V2_CREATING)})
    ref = ShardHarness(outbox=DummyOutbox(), api=api, store=store, asleep={42: 0.0})
    try:
        _wait_for_calls(api, 1)
        assert [(name, kwargs["idempotency_key"]) for name, kwargs in api.calls] == [("create_game", "tg-play:42:7")]
        assert api.calls[0][1]["options"] == json.loads(V2_CREATING)["pending_calls"]["tg-play:42:7"]["options"]
    finally:
        ref.stop()
        store.stop()


def _wait_for_calls(api: DummyApi, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(api.calls) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(api.calls) >= count, api.calls


def test_a_snapshot_of_an_unknown_version_is_refused_with_a_clear_error() -> None:
    document = {**json.loads(V2_CREATING), "v": 3}
    with pytest.raises(SnapshotError, match="version 3"):
        SessionState.from_snapshot(document)
