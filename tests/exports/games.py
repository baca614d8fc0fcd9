"""Finished games for export tests, played through the real GameStore (so export_outbox rows are real)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import peewee as pw

from schema.bank import load_bank, seed_questions
from schema.db import bind_database
from schema.events import AnswerSubmit, Envelope, GameCreate, GameFinish, QuestionTimeout, new_id
from schema.migrations import apply_migrations
from trivia_actors.rules import evaluate
from trivia_actors.worker import GameStore

CLIENT = "export-tests"


def fresh_database(url: str) -> pw.Database:
    """Bind ``url`` (a new, empty PostgreSQL database), migrate it and seed the question bank."""
    database = bind_database(url)
    with database.connection_context():
        apply_migrations(database)
        seed_questions(database, load_bank())
    return database


def play_game(
    database: pw.Database,
    *,
    moves: Sequence[str | int | None] = ("correct", "wrong", None),
    subject: str | None = None,
    name: str = "Ann",
    category: str | None = None,
    game_id: str | None = None,
    stop_after: int | None = None,
) -> str:
    """Play one game to its end and return its id.

    ``moves``: per question, ``"correct"``/``"wrong"`` picks that option, an ``int`` picks an option index,
    ``None`` lets the question time out. ``stop_after`` ends the game early (status "stopped") after that
    many questions.
    """
    store = GameStore(database)
    subject = subject or f"api:{CLIENT}:{uuid.uuid4().hex[:8]}"
    game_id = game_id or new_id()
    with database.connection_context():
        ids = store.select_questions(subject, category, None, len(moves))
        create = Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                          payload=GameCreate(client_id=CLIENT, subject=subject, player_name=name,
                                             category=category, question_count=len(moves)))
        created = store.create_game(create, ids)
        assert created[0].type == "game.created", created[0]
        for no, move in enumerate(moves):
            if stop_after is not None and no >= stop_after:
                break
            question = store.question_for(game_id, no)
            assert question is not None
            if move is None:
                store.record_timeout(Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                                              payload=QuestionTimeout(client_id=CLIENT, subject=subject,
                                                                      question_no=no)))
                continue
            if move == "correct":
                option = question.correct_option if question.correct_option is not None else 0
            elif move == "wrong":
                correct = question.correct_option
                option = 1 if correct == 0 else 0
            else:
                option = int(move)
            submit = AnswerSubmit(client_id=CLIENT, subject=subject, question_no=no,
                                  idempotency_key=f"{game_id}:{no}", option=option)
            command = Envelope(request_id=new_id(), game_id=game_id, user_id=subject, payload=submit)
            results = store.record_answer(command, evaluate(question, submit))
            assert results[0].type == "answer.evaluated", results[0]
        if stop_after is not None:
            store.finish_game(Envelope(request_id=new_id(), game_id=game_id, user_id=subject,
                                       payload=GameFinish(client_id=CLIENT, subject=subject)))
    return game_id
