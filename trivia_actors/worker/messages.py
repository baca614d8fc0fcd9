"""Messages between the worker's actors: frozen, each carrying the event (game and request ids) it serves.

``completion`` is the reply channel back to the consumer bridge: the last actor of a chain reports through
it that the event's effect is done (or failed), which lets the bridge commit the record's offset.
"""

from __future__ import annotations

import attrs

from schema.bank import BankQuestion
from schema.events import Envelope
from trivia_actors.kafka import Completion
from trivia_actors.rules import Evaluation


@attrs.frozen(kw_only=True)
class SelectQuestions:
    """Choose questions for a new game (``game.create``)."""

    command: Envelope
    completion: Completion


@attrs.frozen(kw_only=True)
class EvaluateAnswer:
    """Judge a submitted answer (``answer.submit``)."""

    command: Envelope
    completion: Completion


@attrs.frozen(kw_only=True)
class CreateGame:
    """Store a new game with the chosen questions."""

    command: Envelope
    question_ids: tuple[int, ...]
    completion: Completion


@attrs.frozen(kw_only=True)
class CreateTopicGame(CreateGame):
    """Store a topic game: its generated questions first (by content hash), then the game.

    The game's questions are ``question_ids`` (reused), then the generated ones, then ``bank_ids``, at most
    ``question_count``; generated questions beyond that are stored for later games.
    """

    generated: tuple[BankQuestion, ...] = ()
    bank_ids: tuple[int, ...] = ()
    question_count: int


@attrs.frozen(kw_only=True)
class StoreQuestions:
    """Store generated questions that arrived after their game was created, for later games on the topic."""

    game_id: str
    request_id: str
    questions: tuple[BankQuestion, ...]


@attrs.frozen(kw_only=True)
class RecordAnswer:
    """Score and store a judged answer."""

    command: Envelope
    evaluation: Evaluation | None
    completion: Completion


@attrs.frozen(kw_only=True)
class ApplyCommand:
    """Apply a game command that needs no judging (``question.timeout``, ``hint.request``, ``game.finish``)."""

    command: Envelope
    completion: Completion
