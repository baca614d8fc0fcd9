"""Admission of a request on a stored game: may this player act (answer, time out, ask a hint) on this question
of this game now? The worker's check before it applies the request (the telebot's own is ``rules.flow``)."""

from __future__ import annotations

import attrs

from schema.vocabulary import GameMode, GameStatus


@attrs.frozen(kw_only=True)
class StoredGame:
    """What the admission of a request needs to know about a stored game."""

    client_id: str
    mode: str
    owner: str  # the owner's subject
    status: str
    current_no: int


@attrs.frozen(kw_only=True)
class Refusal:
    """Why a request on a game is refused: a ``request.failed`` code and its message."""

    code: str
    message: str


def refusal_for(game: StoredGame | None, *, client_id: str, subject: str, question_no: int) -> Refusal | None:
    """None when ``subject`` (of API client ``client_id``) may act on question ``question_no``; else why not."""
    if game is None:
        return Refusal(code="game_not_found", message="no such game")
    # In a group game anyone in the chat may answer; a solo game belongs to its owner alone.
    if game.client_id != client_id or (game.mode != GameMode.GROUP and game.owner != subject):
        return Refusal(code="forbidden", message="this game belongs to another player")
    if game.status != GameStatus.ACTIVE:
        return Refusal(code="game_over", message=f"the game is {game.status}")
    if question_no != game.current_no:
        code = "question_closed" if question_no < game.current_no else "question_not_open"
        return Refusal(code=code, message=f"question {question_no} is not the open question")
    return None
