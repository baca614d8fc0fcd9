"""Pure game code: judging, scoring, evaluation of an answer, and the vocabulary every subsystem shares."""

from trivia_actors.rules.evaluation import Evaluation, QuestionRecord, evaluate
from trivia_actors.rules.judge import Judgement, Verdict, judge, normalise, words_to_number
from trivia_actors.rules.scoring import ScoringRules, score_answer, speed_fraction

__all__ = [
    "Evaluation",
    "Judgement",
    "QuestionRecord",
    "ScoringRules",
    "Verdict",
    "evaluate",
    "judge",
    "normalise",
    "score_answer",
    "speed_fraction",
    "words_to_number",
]
