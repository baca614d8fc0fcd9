"""Messages of the DeepSeek actors: the jobs the pool queues, and the replies told to their ``reply_to``."""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from schema.bank import BankQuestion


@attrs.frozen(kw_only=True)
class AnswerJudged:
    """DeepSeek's verdict on a typed answer, or why there is none (``failure``); sent to the evaluator."""

    token: str
    game_id: str
    request_id: str
    verdict: str | None
    reason: str = ""
    failure: str | None = None


@attrs.frozen(kw_only=True)
class QuestionsGenerated:
    """Validated questions generated for a topic (not yet de-duplicated against the database)."""

    token: str
    game_id: str
    request_id: str
    questions: tuple[BankQuestion, ...] = ()
    rejected: int = 0
    failure: str | None = None


@attrs.frozen(kw_only=True)
class JudgeAnswer:
    """Job: judge ``given`` against the question; reply :class:`AnswerJudged` to ``reply_to``."""

    token: str
    game_id: str
    request_id: str
    question_id: int
    question: str
    answer: str
    aliases: tuple[str, ...]
    given: str
    deadline: float
    slot: int
    reply_to: pykka.ActorRef[Any]


@attrs.frozen(kw_only=True)
class GenerateQuestions:
    """Job: generate ``count`` questions on ``topic``; reply :class:`QuestionsGenerated` to ``reply_to``."""

    token: str
    game_id: str
    request_id: str
    topic: str
    category: str
    difficulty: str | None
    count: int
    avoid: tuple[str, ...]
    deadline: float
    slot: int
    reply_to: pykka.ActorRef[Any]
