"""Kahoot-style scoring: speed points, difficulty weight, streak bonus and hint penalty.

Full marks when answered within the first half second, falling linearly to half marks at the deadline;
no points when wrong or late. Plain code, no clock of its own: callers pass the measured latency.
"""

from __future__ import annotations

import attrs

DIFFICULTY_WEIGHTS = {"easy": 1.0, "medium": 1.5, "hard": 2.0}


@attrs.frozen(kw_only=True)
class ScoringRules:
    """The scoring options a chat (or API client) may tune."""

    base_points: int = 1000
    full_marks_s: float = 0.5
    min_fraction: float = 0.5
    streak_bonus: int = 100
    streak_cap: int = 500
    streak_enabled: bool = True
    hint_penalty: float = 0.25
    difficulty_weighted: bool = True


@attrs.frozen(kw_only=True)
class ScoredAnswer:
    """The outcome of scoring one answer."""

    points: int
    streak: int
    speed_fraction: float
    streak_bonus: int


def speed_fraction(latency_s: float, time_limit_s: float, rules: ScoringRules = ScoringRules()) -> float:
    """1.0 up to ``full_marks_s``, then linear down to ``min_fraction`` at the deadline, 0 after it."""
    if latency_s > time_limit_s:
        return 0.0
    if latency_s <= rules.full_marks_s or time_limit_s <= rules.full_marks_s:
        return 1.0
    span = time_limit_s - rules.full_marks_s
    return 1.0 - (1.0 - rules.min_fraction) * (latency_s - rules.full_marks_s) / span


def score_answer(
    *,
    correct: bool,
    latency_s: float,
    time_limit_s: float,
    difficulty: str,
    streak_before: int,
    hints_used: int = 0,
    rules: ScoringRules = ScoringRules(),
) -> ScoredAnswer:
    """Points and the new streak for one answer; a wrong or late answer scores 0 and resets the streak."""
    fraction = speed_fraction(max(latency_s, 0.0), time_limit_s, rules)
    if not correct or fraction == 0.0:
        return ScoredAnswer(points=0, streak=0, speed_fraction=fraction, streak_bonus=0)
    weight = DIFFICULTY_WEIGHTS.get(difficulty, 1.0) if rules.difficulty_weighted else 1.0
    hint_factor = max(0.0, 1.0 - rules.hint_penalty * hints_used)
    base = round(rules.base_points * fraction * weight * hint_factor)
    streak = streak_before + 1
    bonus = min(rules.streak_bonus * (streak - 1), rules.streak_cap) if rules.streak_enabled else 0
    return ScoredAnswer(points=base + bonus, streak=streak, speed_fraction=fraction, streak_bonus=bonus)
