"""The game session actor with small dummies: the flow a player sees, stale input, timers."""

from __future__ import annotations

import time

import pytest

from schema import events as ev
from tests.session.dummies import DummyApi, DummyCommands, DummyCompletion, DummyOutbox, ShardHarness, SnapshotStore
from trivia_actors.session import (
    AnswerGiven,
    GameOptions,
    GetState,
    Player,
    ResultArrived,
    SessionState,
    StartGame,
    TextGiven,
)

GAME_ID = "3f2b8c1e-0000-4000-8000-000000000001"
TAG = GAME_ID.replace("-", "")[:8]
PLAYER = Player(telegram_id=42, name="Ann <b>")


def _questions(n: int) -> tuple[ev.QuestionView, ...]:
    return tuple(ev.QuestionView(no=i, text=f"Question {i} & more?", options=(f"A{i}", f"B{i}", f"C{i}", f"D{i}"),
                                 category="science", difficulty="easy") for i in range(n))


def _result(payload, request_id="r") -> ResultArrived:
    envelope = ev.Envelope(request_id=request_id, game_id=GAME_ID, chat_id=42, user_id=PLAYER.subject,
                           payload=payload)
    return ResultArrived(event=envelope, completion=DummyCompletion())


def _evaluated(no: int, verdict: str, points: int, score: int, next_no, summary=None) -> ev.AnswerEvaluated:
    return ev.AnswerEvaluated(question_no=no, verdict=verdict, correct_answer=f"A{no}", correct_option=0,
                              given=f"B{no}" if verdict != "correct" else f"A{no}", points=points, score=score,
                              streak=1 if points else 0, latency_ms=800, explanation=f"Because {no}.",
                              judged_by="local", next_question_no=next_no, summary=summary)


@pytest.fixture
def session():
    outbox, api, commands = DummyOutbox(), DummyApi(GAME_ID), DummyCommands()
    ref = ShardHarness(outbox=outbox, api=api, commands=commands)
    yield ref, outbox, api, commands
    ref.stop()


def test_a_two_question_game_as_the_player_sees_it(session):
    ref, outbox, api, _commands = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=7,
                       options=GameOptions(category="science", question_count=2)))
    outbox.wait_for(1)
    assert outbox.calls[0][3] == "🎲 Preparing your game (science)…"
    assert api.calls[0][1]["idempotency_key"] == "tg-play:42:7"
    ref.tell(_result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2))))
    calls = outbox.wait_for(2)
    kind, chat, key, text, keyboard = calls[1]
    assert (kind, chat, key) == ("send", 42, f"{TAG}:q:0")
    assert "Question 1/2" in text and "Question 0 &amp; more?" in text
    assert [row[0].data for row in keyboard] == [f"a:{TAG}:0:{i}" for i in range(4)]
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag=TAG, question_no=0, option=1, update_id=8))
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag=TAG, question_no=0, option=2, update_id=9))  # double tap
    ref.ask(GetState(chat_id=42), timeout=2)
    answers = [c for c in api.calls if c[0] == "submit_answer"]
    assert len(answers) == 1, "a second tap on the same question must not submit again"
    assert answers[0][1]["option"] == 1
    ref.tell(_result(_evaluated(0, "incorrect", 0, 0, 1), request_id="r-a0"))
    calls = outbox.wait_for(4)
    assert calls[2][0] == "edit" and calls[2][2] == f"{TAG}:q:0"
    assert "Wrong." in calls[2][3] and "<b>A0</b>" in calls[2][3] and "Because 0." in calls[2][3]
    assert calls[2][4] == (), "the reveal removes the buttons"
    assert calls[3][2] == f"{TAG}:q:1"
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag=TAG, question_no=1, option=0, update_id=10))
    summary = ev.GameSummary(status="finished", score=950, correct_count=1, question_count=2, best_streak=1)
    ref.tell(_result(_evaluated(1, "correct", 950, 950, None, summary), request_id="r-a1"))
    calls = outbox.wait_for(6)
    assert "Correct!" in calls[4][3] and "+950" in calls[4][3]
    assert "Game over" in calls[5][3] and "<b>950</b>" in calls[5][3] and "Correct: 1/2" in calls[5][3]
    assert ref.ask(GetState(chat_id=42), timeout=2) is None, "a finished game leaves its shard"


def test_stale_buttons_and_other_players_are_ignored(session):
    ref, outbox, api, _ = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=1)))
    ref.tell(_result(ev.GameCreated(question_count=1, time_limit_s=30, questions=_questions(1))))
    outbox.wait_for(2)
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag="deadbeef", question_no=0, option=0, update_id=2))
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag=TAG, question_no=3, option=0, update_id=3))
    stranger = Player(telegram_id=99, name="Eve")
    ref.tell(AnswerGiven(chat_id=42, player=stranger, game_tag=TAG, question_no=0, option=0, update_id=4))
    ref.tell(TextGiven(chat_id=42, player=stranger, text="A0", update_id=5))
    ref.ask(GetState(chat_id=42), timeout=2)
    assert [c for c in api.calls if c[0] == "submit_answer"] == []


def test_a_replayed_result_event_is_rendered_once(session):
    ref, outbox, _api, _ = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=1)))
    created = _result(ev.GameCreated(question_count=1, time_limit_s=30, questions=_questions(1)))
    ref.tell(created)
    ref.tell(created)
    ref.ask(GetState(chat_id=42), timeout=2)
    assert len([c for c in outbox.calls if c[2].endswith(":q:0")]) == 1


def test_typed_answer_is_submitted_as_text(session):
    ref, outbox, api, _ = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=1)))
    ref.tell(_result(ev.GameCreated(question_count=1, time_limit_s=30, questions=_questions(1))))
    outbox.wait_for(2)
    ref.tell(TextGiven(chat_id=42, player=PLAYER, text="a zero", update_id=5))
    ref.ask(GetState(chat_id=42), timeout=2)
    submitted = [c[1] for c in api.calls if c[0] == "submit_answer"]
    assert submitted == [{"game_id": GAME_ID, "subject": "tg:42", "name": "Ann <b>", "question_no": 0,
                          "option": None, "text": "a zero", "idempotency_key": "tg-text:42:5",
                          "wait_s": 0.0}]


def test_the_question_timer_reports_a_timeout_once(session):
    ref, outbox, _api, commands = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=2)))
    ref.tell(_result(ev.GameCreated(question_count=2, time_limit_s=0.2, questions=_questions(2))))
    deadline = time.monotonic() + 5
    while not commands.timeouts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert commands.timeouts == [{"game_id": GAME_ID, "chat_id": 42, "subject": "tg:42", "question_no": 0}]
    ref.tell(_result(_evaluated(0, "timeout", 0, 0, 1), request_id="r-t0"))
    calls = outbox.wait_for(4)
    assert "Time's up!" in calls[2][3]


def test_a_restored_session_rearms_its_timer_for_the_time_left():
    """The snapshot says 0.2 s are left, so the timeout comes after ~0.2 s, not the full 30 s."""
    state = SessionState(chat_id=42, player=PLAYER, phase="asking", game_id=GAME_ID, game_tag=TAG,
                         questions=list(_questions(2)), current_no=1, time_limit_s=30.0, deadline=time.time() + 0.2)
    commands = DummyCommands()
    store = SnapshotStore.start({42: state.to_snapshot()})
    ref = ShardHarness(outbox=DummyOutbox(), api=DummyApi(GAME_ID), commands=commands, store=store,
                       asleep={42: state.deadline})
    try:
        deadline = time.monotonic() + 5
        while not commands.timeouts and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [t["question_no"] for t in commands.timeouts] == [1]
    finally:
        ref.stop()
        store.stop()


def test_a_restored_session_past_its_deadline_times_out_at_once():
    state = SessionState(chat_id=42, player=PLAYER, phase="asking", game_id=GAME_ID, game_tag=TAG,
                         questions=list(_questions(1)), current_no=0, time_limit_s=30.0, deadline=time.time() - 60)
    commands = DummyCommands()
    store = SnapshotStore.start({42: state.to_snapshot()})
    ref = ShardHarness(outbox=DummyOutbox(), api=DummyApi(GAME_ID), commands=commands, store=store,
                       asleep={42: state.deadline})
    try:
        ref.ask(GetState(chat_id=42), timeout=2)
        deadline = time.monotonic() + 2
        while not commands.timeouts and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [t["question_no"] for t in commands.timeouts] == [0]
    finally:
        ref.stop()
        store.stop()


def test_an_answer_judged_by_ai_shows_why(session):
    import attrs

    ref, outbox, _api, _ = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=1)))
    ref.tell(_result(ev.GameCreated(question_count=1, time_limit_s=30, questions=_questions(1))))
    outbox.wait_for(2)
    judged = attrs.evolve(_evaluated(0, "correct", 900, 900, None), judged_by="deepseek",
                          reason="Tchaikovsky <names> the composer")
    ref.tell(_result(judged, request_id="r-ai"))
    calls = outbox.wait_for(3)
    assert "🤖 Judged by AI: Tchaikovsky &lt;names&gt; the composer" in calls[2][3]
    local = [c for c in calls if "Judged by AI" in c[3]]
    assert len(local) == 1


def test_a_lost_result_is_asked_for_again_with_the_same_key(session, monkeypatch):
    """No result after the watchdog's time (its event lost, or its command never produced): the session makes
    the same call again, same idempotency key, until the result comes; then it stops asking."""
    import trivia_actors.session.machine as session_module

    monkeypatch.setattr(session_module, "RESULT_WATCHDOG_S", 0.3)
    ref, outbox, api, _ = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=7,
                       options=GameOptions(category="science", question_count=2)))
    deadline = time.monotonic() + 5
    while sum(c[0] == "create_game" for c in api.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    creates = [c[1]["idempotency_key"] for c in api.calls if c[0] == "create_game"]
    assert len(creates) >= 2 and set(creates) == {"tg-play:42:7"}, creates
    ref.tell(_result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2))))
    outbox.wait_for(2)
    ref.tell(AnswerGiven(chat_id=42, player=PLAYER, game_tag=TAG, question_no=0, option=1, update_id=8))
    deadline = time.monotonic() + 5
    while sum(c[0] == "submit_answer" for c in api.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    answers = [c[1] for c in api.calls if c[0] == "submit_answer"]
    assert len(answers) >= 2 and {(a["idempotency_key"], a["option"]) for a in answers} == \
        {(answers[0]["idempotency_key"], 1)}, answers
    ref.tell(_result(_evaluated(0, "correct", 900, 900, 1), request_id="r-a0"))
    outbox.wait_for(4)
    settled = len(api.calls)
    time.sleep(1.0)
    assert len(api.calls) == settled, "once the result came, nothing is asked again"
    assert ref.ask(GetState(chat_id=42), timeout=2).phase == "asking"


def test_a_lost_timeout_result_sends_the_timeout_again(session, monkeypatch):
    """The timeout command has a deterministic request id, so sending it again makes the worker replay its
    stored outcome (the reveal) if the first result was lost."""
    import trivia_actors.session.machine as session_module

    monkeypatch.setattr(session_module, "RESULT_WATCHDOG_S", 0.3)
    ref, outbox, _api, commands = session
    ref.tell(StartGame(chat_id=42, player=PLAYER, update_id=1, options=GameOptions(category=None, question_count=2)))
    ref.tell(_result(ev.GameCreated(question_count=2, time_limit_s=0.2, questions=_questions(2))))
    deadline = time.monotonic() + 5
    while len(commands.timeouts) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert commands.timeouts[:2] == [{"game_id": GAME_ID, "chat_id": 42, "subject": "tg:42", "question_no": 0}] * 2
    ref.tell(_result(_evaluated(0, "timeout", 0, 0, 1), request_id="r-t0"))
    outbox.wait_for(4)
    sent = sum(t["question_no"] == 0 for t in commands.timeouts)
    time.sleep(0.8)
    assert sum(t["question_no"] == 0 for t in commands.timeouts) == sent, "once revealed, it is not sent again"
