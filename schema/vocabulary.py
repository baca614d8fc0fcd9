"""The platform's vocabulary, defined once: the values a game, a question and a request can take, and the limits.

It lives in ``schema`` (the lowest layer) because the models, the bank and the event codec need it too;
``trivia_actors.rules`` re-exports it for the engine and the gateways.
"""

from __future__ import annotations

import enum


class Difficulty(enum.StrEnum):
    """How hard a question is (and how much a correct answer is worth when weighted)."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class QuestionType(enum.StrEnum):
    """How a question is asked: option buttons, a typed answer, true/false buttons, or a native quiz poll."""

    BUTTONS = "buttons"
    TEXT = "text"
    TRUEFALSE = "truefalse"
    POLL = "poll"


class AnswerMode(enum.StrEnum):
    """Group games: the first correct answer closes the question, or every correct answer scores by speed."""

    FIRST = "first"
    ALL = "all"


class GameMode(enum.StrEnum):
    """A solo game (one player) or a group game (every member of a group chat plays)."""

    SOLO = "solo"
    GROUP = "group"


class RequestState(enum.StrEnum):
    """Where an API request stands: waiting for the worker, or settled with its outcome."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


DIFFICULTIES: tuple[str, ...] = tuple(d.value for d in Difficulty)
QUESTION_TYPES: tuple[str, ...] = tuple(t.value for t in QuestionType)
ANSWER_MODES: tuple[str, ...] = tuple(m.value for m in AnswerMode)
GAME_MODES: tuple[str, ...] = tuple(m.value for m in GameMode)
SETTLED: frozenset[str] = frozenset({RequestState.DONE.value, RequestState.FAILED.value})

MIN_QUESTIONS = 1
MAX_QUESTIONS = 50  # one game, in the API, the store and the bot alike
MIN_TIME_LIMIT_S = 5
MAX_TIME_LIMIT_S = 300  # seconds a question may stay open
MAX_HINTS = 3  # hints per question; each reveals more of the answer


class GameStatus(enum.StrEnum):
    """Where a stored game stands: being played, played to its last question, or stopped early."""

    ACTIVE = "active"
    FINISHED = "finished"
    STOPPED = "stopped"


class ExportTarget(enum.StrEnum):
    """Where a finished game's transcript is exported (one ``export_outbox`` row each)."""

    GIT = "git"
    S3 = "s3"


class ExportState(enum.StrEnum):
    """Where an ``export_outbox`` row stands: due (again), claimed by a drainer, or exported."""

    PENDING = "pending"
    EXPORTING = "exporting"
    DONE = "done"


EXPORT_TARGETS: tuple[str, ...] = tuple(t.value for t in ExportTarget)


class QuestionSource(enum.StrEnum):
    """Where a stored question came from: the built-in bank, an imported file, Open Trivia DB, or DeepSeek."""

    BANK = "bank"
    IMPORT = "import"
    OPENTDB = "opentdb"
    DEEPSEEK = "deepseek"
