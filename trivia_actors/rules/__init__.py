"""Pure game code: judging, scoring, evaluation of an answer, and the vocabulary every subsystem shares."""

from schema.vocabulary import (
    ANSWER_MODES,
    DIFFICULTIES,
    GAME_MODES,
    MAX_HINTS,
    MAX_QUESTIONS,
    MAX_TIME_LIMIT_S,
    MIN_QUESTIONS,
    MIN_TIME_LIMIT_S,
    QUESTION_TYPES,
    SETTLED,
    AnswerMode,
    Difficulty,
    GameMode,
    QuestionType,
    RequestState,
)
from trivia_actors.rules import flow
from trivia_actors.rules.evaluation import Evaluation, QuestionRecord, evaluate
from trivia_actors.rules.flow import AnswerCheck, CallKind, NextStep, Phase, Turn
from trivia_actors.rules.judge import Judgement, Verdict, judge, normalise, words_to_number
from trivia_actors.rules.scoring import ScoringRules, score_answer, speed_fraction

__all__ = [
    "ANSWER_MODES",
    "DIFFICULTIES",
    "GAME_MODES",
    "MAX_HINTS",
    "MAX_QUESTIONS",
    "MAX_TIME_LIMIT_S",
    "MIN_QUESTIONS",
    "MIN_TIME_LIMIT_S",
    "QUESTION_TYPES",
    "SETTLED",
    "AnswerCheck",
    "AnswerMode",
    "CallKind",
    "Difficulty",
    "Evaluation",
    "GameMode",
    "Judgement",
    "NextStep",
    "Phase",
    "QuestionRecord",
    "QuestionType",
    "RequestState",
    "ScoringRules",
    "Turn",
    "Verdict",
    "evaluate",
    "flow",
    "judge",
    "normalise",
    "score_answer",
    "speed_fraction",
    "words_to_number",
]
