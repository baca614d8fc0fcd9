"""The session's flow decisions on plain data: no actor, no thread, no database."""

from __future__ import annotations

import attrs
import pytest

from trivia_actors.rules import AnswerCheck, CallKind, NextStep, Phase, Turn, flow

GAME = "3f2b8c1e-0000-4000-8000-000000000001"
ANN, BOB = 1, 2
SOLO = Turn(phase=Phase.ASKING, game_id=GAME, game_tag="3f2b8c1e", question_no=2, group=False, starter=ANN)
GROUP = attrs.evolve(SOLO, group=True)


def _check(turn: Turn, *, player: int = ANN, tag: str = "3f2b8c1e", question_no: int = 2,
           by_button: bool = True) -> AnswerCheck:
    return flow.check_answer(turn, player=player, game_tag=tag, question_no=question_no, by_button=by_button)


def test_an_answer_to_the_open_question_is_taken() -> None:
    assert _check(SOLO) == AnswerCheck.ACCEPTED
    assert _check(SOLO, by_button=False) == AnswerCheck.ACCEPTED
    assert _check(GROUP, player=BOB) == AnswerCheck.ACCEPTED


@pytest.mark.parametrize("turn, changes", [
    (SOLO, {"tag": "deadbeef"}),  # a button of another game
    (SOLO, {"question_no": 1}),  # a button of an earlier question
    (attrs.evolve(SOLO, phase=Phase.JUDGING), {}),  # the answer is already with the worker
    (attrs.evolve(SOLO, phase=Phase.CREATING, game_id=None), {}),
    (attrs.evolve(SOLO, phase=Phase.FINISHED), {}),
])
def test_stale_answers_are_refused(turn: Turn, changes: dict) -> None:
    assert _check(turn, **changes) == AnswerCheck.STALE


def test_only_its_player_answers_a_solo_game() -> None:
    assert _check(SOLO, player=BOB) == AnswerCheck.FOREIGN
    assert _check(SOLO, player=BOB, by_button=False) == AnswerCheck.FOREIGN


def test_a_group_player_taps_once_per_question_but_may_type_again() -> None:
    answered = attrs.evolve(GROUP, answered=(BOB,))
    assert _check(answered, player=BOB) == AnswerCheck.REPEATED
    assert _check(answered, player=BOB, by_button=False) == AnswerCheck.ACCEPTED
    assert _check(answered, player=ANN) == AnswerCheck.ACCEPTED


def test_who_may_skip_or_stop() -> None:
    assert flow.may_steer(SOLO, player=ANN, is_admin=False)
    assert not flow.may_steer(SOLO, player=BOB, is_admin=True), "a solo game has no admins"
    assert flow.may_steer(GROUP, player=ANN, is_admin=False)
    assert flow.may_steer(GROUP, player=BOB, is_admin=True)
    assert not flow.may_steer(GROUP, player=BOB, is_admin=False)


def test_hints_are_for_an_open_question_and_for_the_player() -> None:
    assert flow.accepts_hint(SOLO, player=ANN)
    assert not flow.accepts_hint(SOLO, player=BOB)
    assert flow.accepts_hint(GROUP, player=BOB)
    assert not flow.accepts_hint(attrs.evolve(SOLO, phase=Phase.JUDGING), player=ANN)
    assert not flow.accepts_hint(attrs.evolve(SOLO, game_id=None), player=ANN)
    assert flow.shows_hint(attrs.evolve(SOLO, phase=Phase.JUDGING), question_no=2)
    assert not flow.shows_hint(SOLO, question_no=1), "a hint for a question already closed is not shown"
    assert not flow.shows_hint(attrs.evolve(SOLO, phase=Phase.FINISHED), question_no=2)


def test_which_results_are_still_awaited() -> None:
    creating = attrs.evolve(SOLO, phase=Phase.CREATING, game_id=None)
    judging = attrs.evolve(SOLO, phase=Phase.JUDGING)
    assert flow.still_awaiting(creating, kind=CallKind.CREATE, game_id=None, question_no=None)
    assert not flow.still_awaiting(SOLO, kind=CallKind.CREATE, game_id=None, question_no=None)
    for kind in (CallKind.ANSWER, CallKind.TIMEOUT):
        assert flow.still_awaiting(judging, kind=kind, game_id=GAME, question_no=2)
        assert not flow.still_awaiting(judging, kind=kind, game_id=GAME, question_no=1), "an earlier question"
        assert not flow.still_awaiting(judging, kind=kind, game_id="other", question_no=2)
        assert not flow.still_awaiting(SOLO, kind=kind, game_id=GAME, question_no=2), "the question reopened"
    assert not flow.still_awaiting(judging, kind=CallKind.HINT, game_id=GAME, question_no=2), "a hint is not awaited"
    assert flow.still_awaiting(judging, kind=CallKind.FINISH, game_id=GAME, question_no=None), "a finish is awaited"
    assert not flow.still_awaiting(attrs.evolve(SOLO, phase=Phase.FINISHED), kind=CallKind.FINISH, game_id=GAME,
                                   question_no=None), "until the game is over"
    assert not flow.still_awaiting(judging, kind=CallKind.FINISH, game_id="other", question_no=None)


def test_a_stale_question_timer_is_ignored() -> None:
    assert flow.timer_is_current(SOLO, game_id=GAME, question_no=2)
    assert not flow.timer_is_current(SOLO, game_id=GAME, question_no=1)
    assert not flow.timer_is_current(SOLO, game_id="other", question_no=2)
    assert not flow.timer_is_current(attrs.evolve(SOLO, phase=Phase.JUDGING), game_id=GAME, question_no=2)


def test_a_verdict_counts_for_the_current_question_of_a_running_game() -> None:
    assert flow.evaluation_applies(attrs.evolve(SOLO, phase=Phase.JUDGING), question_no=2)
    assert not flow.evaluation_applies(SOLO, question_no=1)
    assert not flow.evaluation_applies(attrs.evolve(SOLO, phase=Phase.FINISHED), question_no=2)


def test_idle_questions_are_counted_in_a_row() -> None:
    assert flow.idle_count(1, timed_out=True, anyone_answered=False) == 2
    assert flow.idle_count(2, timed_out=True, anyone_answered=True) == 0, "a group answer resets the count"
    assert flow.idle_count(2, timed_out=False, anyone_answered=False) == 0


@pytest.mark.parametrize("next_no, summary, idle, limit, step", [
    (3, False, 0, 3, NextStep.ASK_NEXT),
    (3, False, 3, 3, NextStep.IDLE_STOP),
    (3, False, 5, 0, NextStep.ASK_NEXT),  # idle stop switched off
    (None, True, 3, 3, NextStep.SUMMARY),  # the last question: the summary, not an idle stop
    (None, False, 0, 3, NextStep.WAIT),
])
def test_the_step_after_a_closed_question(next_no: int | None, summary: bool, idle: int, limit: int,
                                          step: NextStep) -> None:
    assert flow.next_step(next_question_no=next_no, has_summary=summary, idle_timeouts=idle,
                          idle_limit=limit) == step


def test_timers_and_watchdogs_fire_for_the_time_left_never_before_now() -> None:
    assert flow.time_left(1_000.5, now=1_000.0) == pytest.approx(0.5)
    assert flow.time_left(900.0, now=1_000.0) == 0.0, "past due: at once"
    since, watchdog = 1_000.0, 20.0
    assert flow.time_left(since + watchdog, now=1_015.0) == pytest.approx(5.0)


def test_passivation_and_waking() -> None:
    assert flow.wakes_at(SOLO, deadline=1_030.0) == 1_030.0
    assert flow.wakes_at(attrs.evolve(SOLO, phase=Phase.JUDGING), deadline=1_030.0) is None
    assert flow.is_idle(1_000.0, now=1_060.0, after_s=60.0)
    assert not flow.is_idle(1_000.0, now=1_059.0, after_s=60.0)
    assert flow.is_due(1_000.4, now=1_000.0), "a timer due within half a second wakes its session now"
    assert not flow.is_due(1_001.0, now=1_000.0)
    assert not flow.is_due(None, now=1_000.0)
