"""Group and quiz-poll sessions with dummies: racing players, the folded reveal, permissions, polls."""

from __future__ import annotations

import pytest

from schema import events as ev
from tests.session.dummies import DummyApi, DummyCommands, DummyCompletion, DummyOutbox, ShardHarness
from trivia_actors.session import (
    AnswerGiven,
    ChatSettings,
    GameOptions,
    GetState,
    Player,
    ResultArrived,
    SettingError,
    SkipAsked,
    StartGame,
    StopGame,
)

GAME_ID = "7a1b2c3d-0000-4000-8000-000000000002"
TAG = GAME_ID.replace("-", "")[:8]
CHAT = -1001
ANN, BOB, CY = Player(telegram_id=1, name="Ann"), Player(telegram_id=2, name="Bob"), Player(telegram_id=3, name="Cy")


def _questions(n, *, with_answers=False):
    return tuple(ev.QuestionView(no=i, text=f"Q{i}?", options=("w", "x", "y", "z"), category="music",
                                 difficulty="medium", correct_option=1 if with_answers else None) for i in range(n))


def _result(payload, request_id, chat_id=CHAT):
    envelope = ev.Envelope(request_id=request_id, game_id=GAME_ID, chat_id=chat_id, user_id="tg:1", payload=payload)
    return ResultArrived(event=envelope, completion=DummyCompletion())


def _board(*lines):
    return tuple(ev.ScoreLine(subject=f"tg:{i}", name=name, score=score) for i, (name, score) in enumerate(lines))


@pytest.fixture
def group():
    outbox, api, commands = DummyOutbox(), DummyApi(GAME_ID), DummyCommands()
    ref = ShardHarness(outbox=outbox, api=api, commands=commands)
    ref.tell(StartGame(chat_id=CHAT, player=ANN, update_id=1,
                       options=GameOptions(category=None, question_count=2, mode="group")))
    ref.tell(_result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-c"))
    outbox.wait_for(2)
    yield ref, outbox, api, commands
    ref.stop()


def test_players_race_and_the_reveal_folds_the_scoreboard(group):
    ref, outbox, api, _ = group
    assert "first correct answer wins" in outbox.calls[1][3]
    ref.tell(AnswerGiven(chat_id=CHAT, player=BOB, game_tag=TAG, question_no=0, option=0, update_id=2))
    ref.tell(AnswerGiven(chat_id=CHAT, player=BOB, game_tag=TAG, question_no=0, option=1, update_id=3))  # again
    ref.tell(AnswerGiven(chat_id=CHAT, player=CY, game_tag=TAG, question_no=0, option=1, update_id=4))
    ref.ask(GetState(chat_id=CHAT), timeout=2)
    answers = [(c[1]["subject"], c[1]["option"], c[1]["name"]) for c in api.calls if c[0] == "submit_answer"]
    assert answers == [("tg:2", 0, "Bob"), ("tg:3", 1, "Cy")], "one answer per player per question"
    wrong = ev.AnswerEvaluated(question_no=0, verdict="incorrect", correct_answer="", correct_option=None, given="w",
                               points=0, score=0, streak=0, latency_ms=900, explanation="", judged_by="local",
                               next_question_no=0, player="tg:2", player_name="Bob", closed=False,
                               scoreboard=_board(("Bob", 0)))
    ref.tell(_result(wrong, "r-b"))
    ref.ask(GetState(chat_id=CHAT), timeout=2)
    assert len(outbox.calls) == 2, "a wrong answer in a group posts nothing (Telegram's 20/min per group)"
    won = ev.AnswerEvaluated(question_no=0, verdict="correct", correct_answer="x", correct_option=1, given="x",
                             points=1400, score=1400, streak=1, latency_ms=1200, explanation="Because.",
                             judged_by="local", next_question_no=1, player="tg:3", player_name="Cy <3",
                             scoreboard=_board(("Cy <3", 1400), ("Bob", 0)))
    ref.tell(_result(won, "r-cy"))
    calls = outbox.wait_for(4)
    kind, _chat, key, reveal, keyboard = calls[2]
    assert (kind, key, keyboard) == ("edit", f"{TAG}:q:0", ())
    assert "<b>Cy &lt;3</b> got it: <b>x</b> (+1400)" in reveal
    assert "🥇 Cy &lt;3 — 1400" in reveal and "🥈 Bob — 0" in reveal
    assert calls[3][2] == f"{TAG}:q:1"


def test_only_the_starter_or_an_admin_may_stop_or_skip(group):
    ref, outbox, api, commands = group
    ref.tell(StopGame(chat_id=CHAT, player=BOB, update_id=5))
    ref.tell(SkipAsked(chat_id=CHAT, player=BOB, update_id=6))
    ref.ask(GetState(chat_id=CHAT), timeout=2)
    assert not [c for c in api.calls if c[0] == "finish_game"]
    assert commands.timeouts == []
    assert "Only the player who started" in outbox.calls[-1][3]
    ref.tell(SkipAsked(chat_id=CHAT, player=BOB, update_id=7, is_admin=True))
    ref.ask(GetState(chat_id=CHAT), timeout=2)
    assert [t["question_no"] for t in commands.timeouts] == [0]
    ref.tell(StopGame(chat_id=CHAT, player=ANN, update_id=8))
    ref.ask(GetState(chat_id=CHAT), timeout=2)
    assert [c[1]["idempotency_key"] for c in api.calls if c[0] == "finish_game"] == [f"tg-stop:{GAME_ID}"]


def test_quiz_poll_game_sends_native_polls_with_the_correct_option():
    outbox, api = DummyOutbox(), DummyApi(GAME_ID)
    ref = ShardHarness(outbox=outbox, api=api)
    try:
        ref.tell(StartGame(chat_id=5, player=ANN, update_id=1,
                           options=GameOptions(category=None, question_count=1, question_type="poll")))
        ref.tell(_result(ev.GameCreated(question_count=1, time_limit_s=20,
                                        questions=_questions(1, with_answers=True)), "r-p", chat_id=5))
        ref.ask(GetState(chat_id=5), timeout=2)
        assert api.calls[0][1]["options"]["question_type"] == "poll"
        ops = [c for c in outbox.calls if c[0] == "poll"]
        assert [(c[2], c[3]) for c in ops] == [(f"{TAG}:p:0", "1/1 · Q0?")]
    finally:
        ref.stop()


def test_chat_settings_validate_changes():
    settings = ChatSettings()
    changed = settings.change("timer", "20", {}).change("mode", "all", {}).change("streak", "off", {})
    assert (changed.timer, changed.mode, changed.streak) == (20, "all", False)
    assert ChatSettings.from_dict(changed.to_dict()) == changed
    assert settings.change("category", "Film TV", {"film_tv": "Film & TV"}).category == "film_tv"
    for name, value in [("timer", "5"), ("questions", "x"), ("mode", "fastest"), ("category", "nope"),
                        ("colour", "red"), ("type", "carrier pigeon")]:
        with pytest.raises(SettingError):
            settings.change(name, value, {"film_tv": "Film & TV"})
