"""The persistence actor: the only code that writes game state (and generated questions) through Peewee.

Commands are micro-batched: each message queues its work and, if no flush is queued yet, the actor tells
itself to flush. Because a pykka inbox is FIFO, the flush runs after every message already waiting, so a
burst is written in one transaction (one savepoint per command) and a lone command waits for nothing.
Results are published only after the transaction commits.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import attrs
import peewee as pw
import pykka

from schema.events import Envelope, GameFinish, HintRequest, QuestionTimeout
from trivia_actors.deepseek import DeepSeekPool, store_questions
from trivia_actors.kafka import Completion
from trivia_actors.runtime import PERSIST_BATCH, TRANSIENT_DB_ERRORS, DatabaseActor, failpoints
from trivia_actors.worker.game_store import GameStore
from trivia_actors.worker.messages import ApplyCommand, CreateGame, CreateTopicGame, RecordAnswer, StoreQuestions
from trivia_actors.worker.publisher import ResultsPublisher

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class PersistenceShards:
    """Persistence actors side by side, each owning the games whose id hashes to it.

    A game's commands all go to one actor, so they are applied in order; different games are written in
    parallel transactions, so one actor's round trips to the database do not hold up the others.
    """

    def __init__(self, refs: Sequence[pykka.ActorRef[Any]]) -> None:
        if not refs:
            raise ValueError("at least one persistence actor is needed")
        self.refs = tuple(refs)

    def tell(self, message: Any) -> None:
        """Send ``message`` (a command message, or one naming a ``game_id``) to its game's actor."""
        command = getattr(message, "command", None)
        game_id = command.game_id if isinstance(command, Envelope) else str(message.game_id)
        self.refs[zlib.crc32(game_id.encode()) % len(self.refs)].tell(message)


# What evaluators and the question master hand their work to: one persistence actor, or shards of them.
PersistenceRef = pykka.ActorRef[Any] | PersistenceShards


class UpstreamActor(DatabaseActor):
    """An actor ahead of persistence (an evaluator, the question master): it reads games through a game store,
    may ask DeepSeek, and hands what it decided to persistence."""

    def __init__(self, database: pw.Database, persistence: PersistenceRef,
                 deepseek: DeepSeekPool | None = None) -> None:
        super().__init__(database)
        self.store = GameStore(database)
        self.persistence = persistence
        self.deepseek = deepseek


@attrs.frozen(kw_only=True)
class _Flush:
    pass


@attrs.frozen
class _Work:
    message: CreateGame | RecordAnswer | ApplyCommand
    received: float


class PersistenceActor(DatabaseActor):
    """Applies game commands in batched transactions and publishes their results; stores generated questions."""

    def __init__(self, database: pw.Database, publisher: ResultsPublisher, store: GameStore | None = None) -> None:
        super().__init__(database)
        self.store = store or GameStore(database)
        self.publisher = publisher
        self._queue: list[_Work] = []
        self._flush_queued = False

    def on_receive(self, message: Any) -> None:
        if isinstance(message, CreateGame | RecordAnswer | ApplyCommand):
            self._queue.append(_Work(message, time.monotonic()))
            if len(self._queue) >= MAX_BATCH:
                self._flush()
            elif not self._flush_queued:
                self._flush_queued = True
                self.actor_ref.tell(_Flush())
        elif isinstance(message, _Flush):
            self._flush_queued = False
            self._flush()
        elif isinstance(message, StoreQuestions):
            self._store_questions(message)
        else:
            logger.warning("persistence: unexpected message %s", type(message).__name__)

    def _apply(self, message: CreateGame | RecordAnswer | ApplyCommand) -> list[Envelope]:
        command = message.command
        if isinstance(message, CreateTopicGame):
            generated_ids = store_questions(message.generated)
            ids = _unique([*message.question_ids, *generated_ids, *message.bank_ids])[: message.question_count]
            return self.store.create_game(command, ids)
        if isinstance(message, CreateGame):
            return self.store.create_game(command, message.question_ids)
        if isinstance(message, RecordAnswer):
            return self.store.record_answer(command, message.evaluation)
        if command.type == QuestionTimeout.TYPE:
            return self.store.record_timeout(command)
        if command.type == HintRequest.TYPE:
            return self.store.request_hint(command)
        if command.type == GameFinish.TYPE:
            return self.store.finish_game(command)
        raise ValueError(f"persistence cannot apply {command.type}")

    def _store_questions(self, message: StoreQuestions) -> None:
        try:
            self.ensure_connection()
            with self.database.atomic():
                ids = store_questions(message.questions)
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            logger.warning("game %s: %d generated questions not stored (database unavailable: %s)",
                           message.game_id, len(message.questions), type(exc).__name__)
            return
        logger.info("game %s: %d late generated questions stored for reuse", message.game_id, len(ids))

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        PERSIST_BATCH.observe(len(batch))
        outcomes: list[tuple[_Work, list[Envelope] | None]] = []
        try:
            self.ensure_connection()
            with self.database.atomic():
                for work in batch:
                    outcomes.append((work, self._apply_one(work)))
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            logger.warning("persistence: database unavailable, %d commands will be retried: %s",
                           len(batch), type(exc).__name__)
            for work in batch:
                work.message.completion.fail(f"database unavailable: {type(exc).__name__}", retryable=True)
            return
        failpoints.hit("persist.after_commit")
        for work, results in outcomes:
            if results is not None:
                self.publisher.publish(work.message.command, results, work.message.completion, work.received)

    def _apply_one(self, work: _Work) -> list[Envelope] | None:
        """Apply one command inside its own savepoint; settle its completion when it cannot be applied."""
        completion: Completion = work.message.completion
        command = work.message.command
        try:
            return self._apply(work.message)
        except pw.IntegrityError as exc:
            # A concurrent writer stored the same thing first; the retry replays the stored result.
            completion.fail(f"conflict: {type(exc).__name__}", retryable=True)
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as exc:
            logger.exception("persistence: game %s request %s failed", command.game_id, command.request_id)
            completion.fail(f"cannot apply {command.type}: {type(exc).__name__}", retryable=False)
        return None


def _unique(ids: Sequence[int]) -> list[int]:
    """``ids`` without repeats, first occurrence kept (a generated question may already be stored)."""
    return list(dict.fromkeys(ids))
