"""Scoring rules as plain code: speed points, difficulty, streaks, hints."""

from __future__ import annotations

import pytest

from trivia_actors.rules import ScoringRules, score_answer, speed_fraction


@pytest.mark.parametrize(
    ("latency", "limit", "expected"),
    [
        (0.0, 30, 1.0),
        (0.5, 30, 1.0),  # full marks in the first half second
        (15.25, 30, 0.75),  # halfway through the remaining time: three quarters
        (30.0, 30, 0.5),  # half marks at the deadline
        (30.01, 30, 0.0),  # late: nothing
        (0.3, 0.4, 1.0),  # a limit shorter than the full-marks window
    ],
)
def test_speed_fraction(latency, limit, expected):
    assert speed_fraction(latency, limit) == pytest.approx(expected)


def test_wrong_answer_scores_nothing_and_resets_streak():
    scored = score_answer(correct=False, latency_s=0.1, time_limit_s=30, difficulty="hard", streak_before=4)
    assert (scored.points, scored.streak) == (0, 0)


@pytest.mark.parametrize(("difficulty", "points"), [("easy", 1000), ("medium", 1500), ("hard", 2000)])
def test_difficulty_weight(difficulty, points):
    scored = score_answer(correct=True, latency_s=0.2, time_limit_s=30, difficulty=difficulty, streak_before=0)
    assert scored.points == points


@pytest.mark.parametrize(("streak_before", "bonus"), [(0, 0), (1, 100), (2, 200), (5, 500), (9, 500)])
def test_streak_bonus_capped(streak_before, bonus):
    scored = score_answer(correct=True, latency_s=0.2, time_limit_s=30, difficulty="easy", streak_before=streak_before)
    assert scored.streak_bonus == bonus
    assert scored.points == 1000 + bonus
    assert scored.streak == streak_before + 1


def test_streak_bonus_can_be_turned_off():
    rules = ScoringRules(streak_enabled=False)
    scored = score_answer(correct=True, latency_s=0.2, time_limit_s=30, difficulty="easy", streak_before=3, rules=rules)
    assert scored.points == 1000


def test_hint_penalty():
    scored = score_answer(correct=True, latency_s=0.2, time_limit_s=30, difficulty="easy", streak_before=0,
                          hints_used=2)
    assert scored.points == 500


def test_slow_correct_answer_at_deadline_gets_half():
    scored = score_answer(correct=True, latency_s=30, time_limit_s=30, difficulty="easy", streak_before=0)
    assert scored.points == 500


def test_per_game_rules_from_settings(database):
    """The worker scores with the rules the chat (or API request) chose."""
    from types import SimpleNamespace

    from trivia_actors.worker.game_store import GameStore

    game = SimpleNamespace(settings={"streak_enabled": False, "speed_points": False, "difficulty_weighted": False,
                                     "hint_penalty_pct": 50})
    rules = GameStore(database)._rules(game)
    scored = score_answer(correct=True, latency_s=29, time_limit_s=30, difficulty="hard", streak_before=4,
                          hints_used=1, rules=rules)
    assert scored.points == 500  # full marks (no speed decay), no difficulty weight, half lost to the hint
    assert scored.streak_bonus == 0
