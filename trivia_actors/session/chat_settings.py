"""A chat's game settings: what /play uses, what /settings changes. Plain code, validated on every change."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from trivia_actors.rules import (
    ANSWER_MODES,
    DIFFICULTIES,
    MAX_QUESTIONS,
    MIN_QUESTIONS,
    QUESTION_TYPES,
    AnswerMode,
    Difficulty,
    QuestionType,
)
from trivia_actors.session.messages import optional_difficulty


class SettingError(ValueError):
    """A /settings change that is not valid; the message says what is allowed."""


@attrs.frozen(kw_only=True)
class ChatSettings:
    """Defaults for games in one chat."""

    questions: int = 5
    timer: int = 30
    mode: AnswerMode = attrs.field(default=AnswerMode.FIRST, converter=AnswerMode)  # group games
    streak: bool = True
    category: str | None = None
    difficulty: Difficulty | None = attrs.field(default=None, converter=optional_difficulty)
    idle_stop: int = 3  # stop after this many questions in a row that nobody answered (0: never)
    speed: bool = True  # speed points (Kahoot-style) or full marks for any correct answer in time
    weighted: bool = True  # harder questions worth more
    hint_penalty: int = 25  # percent of a question's points lost per hint
    qtype: QuestionType = attrs.field(default=QuestionType.BUTTONS, converter=QuestionType)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (the enums as their plain values)."""
        return attrs.asdict(self, value_serializer=lambda _owner, _field, value: (
            value.value if isinstance(value, enum.Enum) else value))

    @classmethod
    def from_dict(cls, document: dict[str, Any] | None) -> ChatSettings:
        """Settings from a stored document, ignoring unknown keys."""
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in (document or {}).items() if k in names})

    def change(self, name: str, value: str, categories: dict[str, str]) -> ChatSettings:
        """A copy with ``name`` set from the text ``value``, or :class:`SettingError`."""
        raw = value.strip().lower()
        if name in {"questions", "timer", "idle_stop", "hint_penalty"}:
            bounds = {"questions": (MIN_QUESTIONS, MAX_QUESTIONS), "timer": (10, 120), "idle_stop": (0, 10),
                      "hint_penalty": (0, 100)}[name]
            if not (raw.isascii() and raw.isdigit()) or not bounds[0] <= int(raw) <= bounds[1]:
                raise SettingError(f"{name} must be a whole number from {bounds[0]} to {bounds[1]}")
            changes: dict[str, Any] = {name: int(raw)}
            return attrs.evolve(self, **changes)
        if name == "mode":
            if raw not in ANSWER_MODES:
                raise SettingError("mode must be 'first' (first correct answer wins) or 'all'")
            return attrs.evolve(self, mode=AnswerMode(raw))
        if name in {"qtype", "type"}:
            if raw not in QUESTION_TYPES:
                raise SettingError("type must be buttons, text, truefalse or poll")
            return attrs.evolve(self, qtype=QuestionType(raw))
        if name in {"streak", "speed", "weighted"}:
            if raw not in {"on", "off"}:
                raise SettingError(f"{name} must be 'on' or 'off'")
            switch: dict[str, Any] = {name: raw == "on"}
            return attrs.evolve(self, **switch)
        if name == "difficulty":
            if raw not in {*DIFFICULTIES, "any"}:
                raise SettingError("difficulty must be easy, medium, hard or any")
            return attrs.evolve(self, difficulty=None if raw == "any" else Difficulty(raw))
        if name == "category":
            if raw == "any":
                return attrs.evolve(self, category=None)
            slug = raw.replace(" ", "_")
            if slug not in categories:
                raise SettingError("unknown category; see /categories")
            return attrs.evolve(self, category=slug)
        raise SettingError("settings: questions, timer, mode, streak, speed, weighted, hint_penalty, category, "
                           "difficulty, idle_stop, type")

    def describe(self) -> str:
        """One line per setting, for the /settings reply."""
        return "\n".join([
            f"questions: {self.questions}",
            f"timer: {self.timer} s",
            f"mode: {self.mode}",
            f"streak: {'on' if self.streak else 'off'}",
            f"speed: {'on' if self.speed else 'off'}",
            f"weighted: {'on' if self.weighted else 'off'}",
            f"hint_penalty: {self.hint_penalty}%",
            f"category: {self.category or 'any'}",
            f"difficulty: {self.difficulty or 'any'}",
            f"idle_stop: {self.idle_stop}",
            f"type: {self.qtype}",
        ])
