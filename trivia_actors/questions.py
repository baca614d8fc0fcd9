"""The question master: chooses a game's questions from the bank, without repeats for the player."""

from __future__ import annotations

import logging
from typing import Any

import peewee as pw
import pykka

from schema.events import GameCreate
from trivia_actors.db_actor import TRANSIENT_DB_ERRORS, DatabaseActor
from trivia_actors.game_store import MAX_QUESTIONS, GameStore
from trivia_actors.messages import CreateGame, SelectQuestions

logger = logging.getLogger(__name__)


class QuestionMasterActor(DatabaseActor):
    """Reads the bank and hands the chosen question ids to the persistence actor."""

    def __init__(self, database: pw.Database, persistence: pykka.ActorRef[Any]) -> None:
        super().__init__(database)
        self.store = GameStore(database)
        self.persistence = persistence

    def on_receive(self, message: Any) -> None:
        if not isinstance(message, SelectQuestions):
            logger.warning("question master: unexpected message %s", type(message).__name__)
            return
        create = message.command.payload
        assert isinstance(create, GameCreate)
        count = max(1, min(create.question_count, MAX_QUESTIONS))
        try:
            self.ensure_connection()
            ids = self.store.select_questions(create.subject, create.category, create.difficulty, count)
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            message.completion.fail(f"database unavailable: {type(exc).__name__}", retryable=True)
            return
        logger.info("game %s: %d questions chosen (category=%s)", message.command.game_id, len(ids), create.category)
        self.persistence.tell(CreateGame(command=message.command, question_ids=tuple(ids),
                                         completion=message.completion))
