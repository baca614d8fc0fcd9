"""The event codec: round trips, strict decoding, and garbage that never escapes as another exception."""

from __future__ import annotations

import json

import pytest

from schema import events as ev


def _envelope(payload) -> ev.Envelope:
    return ev.Envelope(request_id=ev.new_id(), game_id=ev.new_id(), chat_id=-100123, user_id="tg:1", payload=payload)


PAYLOADS = [
    ev.GameCreate(client_id="c", subject="tg:1", player_name="Zoë <b>", telegram_id=1, category="science"),
    ev.AnswerSubmit(client_id="c", subject="tg:1", question_no=2, idempotency_key="k", option=3),
    ev.AnswerSubmit(client_id="c", subject="tg:1", question_no=2, idempotency_key="k", text="Paris"),
    ev.HintRequest(client_id="c", subject="s", question_no=0, idempotency_key="h"),
    ev.QuestionTimeout(client_id="c", subject="s", question_no=1),
    ev.GameFinish(client_id="c", subject="s"),
    ev.GameCreated(question_count=1, time_limit_s=30.0, questions=(
        ev.QuestionView(no=0, text="Q?", options=("a", "b", "c", "d"), category="science", difficulty="easy"),)),
    ev.AnswerEvaluated(question_no=0, verdict="correct", correct_answer="a", correct_option=0, given="a", points=1000,
                       score=1000, streak=1, latency_ms=420, explanation="e", judged_by="local", next_question_no=None,
                       summary=ev.GameSummary(status="finished", score=1000, correct_count=1, question_count=1,
                                              best_streak=1)),
    ev.HintCreated(question_no=0, hint="P____", hints_used=1),
    ev.GameFinished(summary=ev.GameSummary(status="stopped", score=0, correct_count=0, question_count=5,
                                           best_streak=0)),
    ev.RequestFailed(code="game_over", message="the game is finished", question_no=3),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.TYPE)
def test_round_trip(payload):
    envelope = _envelope(payload)
    raw = ev.encode(envelope)
    document = json.loads(raw)
    assert document["v"] == 1
    assert document["type"] == payload.TYPE
    assert set(document) == {"v", "type", "event_id", "request_id", "game_id", "chat_id", "user_id", "occurred_at",
                             "payload"}
    assert ev.decode(raw) == envelope


def _mutated(**changes) -> bytes:
    document = ev.to_dict(_envelope(PAYLOADS[1]))
    for key, value in changes.items():
        if value is KeyError:
            document.pop(key)
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (b"{" * 100_000, "not valid JSON"),
        (b"x" * 1_000_001, "exceeds"),
        (b"[" + b"9" * 5000 + b"]", "not valid JSON"),  # over Python's 4,300-digit integer limit
        (b'{"v": NaN}', "not valid JSON"),  # not JSON at all, though Python's parser takes it by default
        (b'{"v": -Infinity}', "not valid JSON"),
        (b'{"v": 1e999}', "not valid JSON"),  # a float that overflows to inf
        (_mutated(v=2), "unsupported version 2"),
        (_mutated(type="answer.teleport"), "unknown type"),
        (_mutated(extra=1), "unknown field 'extra'"),
        (_mutated(occurred_at="yesterday"), "RFC 3339"),
        (_mutated(game_id=KeyError), "envelope.game_id"),
        (_mutated(chat_id="12"), "envelope.chat_id"),
        (_mutated(payload={"client_id": "c"}), "missing"),
        (_mutated(payload={"client_id": "c", "subject": "s", "question_no": "1", "idempotency_key": "k"}),
         "payload.question_no: expected an integer"),
        (_mutated(payload={"client_id": "c", "subject": "s", "question_no": True, "idempotency_key": "k"}),
         "expected an integer"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(raw, reason):
    with pytest.raises(ev.EventDecodeError) as caught:
        ev.decode(raw)
    assert reason in caught.value.reason
