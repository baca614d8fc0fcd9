"""Judging one submitted answer against its question: plain code shared by the evaluator actors."""

from __future__ import annotations

import attrs

from schema.events import AnswerSubmit
from trivia_actors.rules.judge import Verdict, judge


@attrs.frozen(kw_only=True)
class QuestionRecord:
    """A question as asked in one game: its shuffled options and everything needed to judge it."""

    question_id: int
    position: int
    text: str
    answer: str
    aliases: tuple[str, ...]
    options: tuple[str, ...]
    explanation: str
    category: str
    difficulty: str
    numeric_tolerance: float | None = None

    @property
    def correct_option(self) -> int | None:
        """Index of the correct answer among the shown options, None for a typed-only question."""
        try:
            return self.options.index(self.answer)
        except ValueError:
            return None


@attrs.frozen(kw_only=True)
class Evaluation:
    """The verdict on one answer before scoring: correct, close or incorrect, and by whom."""

    verdict: str
    given: str
    judged_by: str
    reason: str


def evaluate(question: QuestionRecord, submit: AnswerSubmit, *, context: str = "a reply") -> Evaluation:
    """Judge an option pick by index and a typed answer with the local judge (``context`` names the answer in
    the judge's log if it fails)."""
    if submit.option is not None:
        if not 0 <= submit.option < len(question.options):
            return Evaluation(verdict="invalid", given=str(submit.option), judged_by="local", reason="no such option")
        picked = question.options[submit.option]
        verdict = Verdict.CORRECT if submit.option == question.correct_option else Verdict.INCORRECT
        return Evaluation(verdict=verdict.value, given=picked, judged_by="local", reason="option")
    given = submit.text or ""
    judgement = judge(given, question.answer, question.aliases, numeric_tolerance=question.numeric_tolerance,
                      context=context)
    return Evaluation(verdict=judgement.verdict.value, given=given, judged_by="local", reason=judgement.reason)
