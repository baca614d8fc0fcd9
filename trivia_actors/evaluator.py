"""Evaluator actors: judge answers against their question, then hand them to persistence."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import peewee as pw
import pykka

from schema.events import AnswerSubmit
from trivia_actors.db_actor import TRANSIENT_DB_ERRORS, DatabaseActor
from trivia_actors.evaluation import QuestionRecord, evaluate
from trivia_actors.game_store import GameStore
from trivia_actors.messages import EvaluateAnswer, RecordAnswer

logger = logging.getLogger(__name__)

CACHE_SIZE = 4096


class EvaluatorActor(DatabaseActor):
    """One of a pool; a game always goes to the same evaluator, which keeps its answers in order."""

    def __init__(self, database: pw.Database, persistence: pykka.ActorRef[Any]) -> None:
        super().__init__(database)
        self.store = GameStore(database)
        self.persistence = persistence
        # Questions of a game never change once chosen, so they can be cached by (game, position).
        self._cache: OrderedDict[tuple[str, int], QuestionRecord] = OrderedDict()

    def _question(self, game_id: str, position: int) -> QuestionRecord | None:
        key = (game_id, position)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        record = self.store.question_for(game_id, position)
        if record is not None:
            self._cache[key] = record
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return record

    def on_receive(self, message: Any) -> None:
        if not isinstance(message, EvaluateAnswer):
            logger.warning("evaluator: unexpected message %s", type(message).__name__)
            return
        submit = message.command.payload
        assert isinstance(submit, AnswerSubmit)
        try:
            self.ensure_connection()
            question = self._question(message.command.game_id, submit.question_no)
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            message.completion.fail(f"database unavailable: {type(exc).__name__}", retryable=True)
            return
        evaluation = evaluate(question, submit) if question is not None else None
        self.persistence.tell(
            RecordAnswer(command=message.command, evaluation=evaluation, completion=message.completion)
        )
