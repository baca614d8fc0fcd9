"""The evaluator actor's class, without its thread: a crash of the local judge is logged with the game and
request ids, and the answer still gets its verdict (incorrect), so the game goes on."""

from __future__ import annotations

import logging
import sys
from typing import Any

import peewee as pw

from schema.events import AnswerSubmit, Envelope, new_id
from trivia_actors.rules import Evaluation, QuestionRecord
from trivia_actors.worker.evaluator import EvaluatorActor
from trivia_actors.worker.messages import EvaluateAnswer, RecordAnswer

# The module, not the function that the rules facade exports under the same name.
JUDGE_MODULE = sys.modules["trivia_actors.rules.judge"]
QUESTION = QuestionRecord(question_id=7, position=0, text="Who composed Swan Lake?", answer="Tchaikovsky",
                          aliases=(), options=("Tchaikovsky", "Bach", "Verdi", "Liszt"), explanation="",
                          category="music", difficulty="easy")


class _Persistence:
    """Keeps what the evaluator hands on."""

    def __init__(self) -> None:
        self.told: list[Any] = []

    def tell(self, message: Any) -> None:
        self.told.append(message)


class _Completion:
    def done(self) -> None:
        raise AssertionError("the evaluator does not settle a judged answer")

    def fail(self, reason: str, *, retryable: bool = True) -> None:
        raise AssertionError(f"the evaluator failed the answer: {reason}")


def _broken_judge(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug in the judge")


def _evaluated(**answer: Any) -> tuple[EvaluateAnswer, RecordAnswer]:
    """Hand one answer to question 0 to an evaluator that is not started (its handler runs in this thread; the
    question is cached, so no query is made); what it hands to persistence."""
    command = Envelope(request_id=new_id(), game_id=new_id(), user_id="tg:1",
                       payload=AnswerSubmit(client_id="c1", subject="tg:1", question_no=0, idempotency_key="k",
                                            **answer))
    message = EvaluateAnswer(command=command, completion=_Completion())
    persistence = _Persistence()
    evaluator = EvaluatorActor(pw.SqliteDatabase(":memory:"), persistence)
    evaluator._cache[(command.game_id, 0)] = QUESTION
    evaluator.on_receive(message)
    (recorded,) = persistence.told
    return message, recorded


def test_a_judge_crash_is_logged_with_the_game_and_request_and_judged_incorrect(monkeypatch, caplog):
    monkeypatch.setattr(JUDGE_MODULE, "_judge", _broken_judge)
    with caplog.at_level(logging.ERROR, logger=JUDGE_MODULE.__name__):
        message, recorded = _evaluated(text="Tchaikovsky")
    assert recorded == RecordAnswer(command=message.command, completion=message.completion,
                                    evaluation=Evaluation(verdict="incorrect", given="Tchaikovsky",
                                                          judged_by="local", reason="internal error"))
    crashes = [r for r in caplog.records if r.name == JUDGE_MODULE.__name__ and r.levelno == logging.ERROR]
    assert len(crashes) == 1, caplog.text
    line = crashes[0].getMessage()
    assert message.command.game_id in line and message.command.request_id in line, line
    assert crashes[0].exc_info is not None and "a bug in the judge" in caplog.text


def test_an_option_pick_never_reaches_the_judge(monkeypatch, caplog):
    monkeypatch.setattr(JUDGE_MODULE, "_judge", _broken_judge)
    _message, recorded = _evaluated(option=0)
    assert recorded.evaluation.verdict == "correct"
    assert "internal error" not in caplog.text
