"""Admission of a request as a plain function: who may act on which question of a stored game, without a
database."""

from __future__ import annotations

import attrs

from trivia_actors.rules import GameMode, GameStatus, Refusal, StoredGame, refusal_for

SOLO = StoredGame(client_id="c1", mode=GameMode.SOLO, owner="tg:1", status=GameStatus.ACTIVE, current_no=2)
GROUP = attrs.evolve(SOLO, mode=GameMode.GROUP)


def _refusal(game: StoredGame | None, *, client_id: str = "c1", subject: str = "tg:1", question_no: int = 2):
    return refusal_for(game, client_id=client_id, subject=subject, question_no=question_no)


def test_the_owner_may_act_on_the_open_question():
    assert _refusal(SOLO) is None


def test_a_missing_game_is_not_found():
    assert _refusal(None) == Refusal(code="game_not_found", message="no such game")


def test_a_solo_game_belongs_to_its_owner_and_its_api_client():
    assert _refusal(SOLO, subject="tg:2").code == "forbidden"
    assert _refusal(SOLO, client_id="c2").code == "forbidden"


def test_in_a_group_game_anyone_of_the_same_client_may_act():
    assert _refusal(GROUP, subject="tg:2") is None
    assert _refusal(GROUP, subject="tg:2", client_id="c2").code == "forbidden"


def test_a_game_that_is_over_refuses_and_says_how_it_ended():
    for status in (GameStatus.FINISHED, GameStatus.STOPPED):
        assert _refusal(attrs.evolve(SOLO, status=status)) == Refusal(code="game_over",
                                                                      message=f"the game is {status.value}")


def test_only_the_open_question_may_be_acted_on():
    assert _refusal(SOLO, question_no=1) == Refusal(code="question_closed",
                                                    message="question 1 is not the open question")
    assert _refusal(SOLO, question_no=3).code == "question_not_open"


def test_ownership_is_checked_before_the_game_state():
    over = attrs.evolve(SOLO, status=GameStatus.FINISHED)
    assert _refusal(over, subject="tg:2", question_no=0).code == "forbidden"
