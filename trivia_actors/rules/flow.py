"""The telebot session's flow decisions, as plain functions of where a game stands (no threads, no database).

The session actor owns the state, the timers and the Telegram calls; each choice of what to do next is made
here, from a :class:`Turn` (a read-only view of the session) and the input at hand.
"""

from __future__ import annotations

import enum

import attrs


class Phase(enum.StrEnum):
    """Where a session's game is: creating -> asking <-> judging (solo) -> finished."""

    CREATING = "creating"  # /play was accepted; the questions are not there yet
    ASKING = "asking"  # a question is open
    JUDGING = "judging"  # an answer (or the timeout) is with the worker
    FINISHED = "finished"


class CallKind(enum.StrEnum):
    """A call the session made and may wait a result for: one to the API, or the timeout command it sends itself."""

    CREATE = "create"
    ANSWER = "answer"
    HINT = "hint"
    FINISH = "finish"
    TIMEOUT = "timeout"


class AnswerCheck(enum.StrEnum):
    """Whether an answer is taken, and if not, why."""

    ACCEPTED = "accepted"
    STALE = "stale"  # no open question, another game's button, or another question's
    FOREIGN = "foreign"  # a solo game answered by someone else than its player
    REPEATED = "repeated"  # a group player tapping a second time on the same question


class NextStep(enum.StrEnum):
    """What a session does once a question is closed."""

    ASK_NEXT = "ask_next"
    SUMMARY = "summary"
    IDLE_STOP = "idle_stop"  # nobody answered too many questions in a row: finish the game
    WAIT = "wait"  # neither a next question nor a summary came: the game-over event will say


# A passivated session whose question timer falls due this soon is woken now, so the timeout is not late.
WAKE_AHEAD_S = 0.5


@attrs.frozen(kw_only=True)
class Turn:
    """A session's position, as the decisions need it."""

    phase: Phase
    game_id: str | None
    game_tag: str
    question_no: int
    group: bool
    starter: int  # Telegram id of the player who started the game (a solo game's only player)
    answered: tuple[int, ...] = ()  # group: who answered the open question with a button


def check_answer(turn: Turn, *, player: int, game_tag: str, question_no: int, by_button: bool) -> AnswerCheck:
    """Whether ``player``'s answer to ``question_no`` (from a button of game ``game_tag``, or typed) is taken.

    In a group every member may answer, each once per question by button (typed guesses may be retried); in a
    solo game only its player.
    """
    if (turn.phase != Phase.ASKING or turn.game_id is None or game_tag != turn.game_tag
            or question_no != turn.question_no):
        return AnswerCheck.STALE
    if not turn.group and player != turn.starter:
        return AnswerCheck.FOREIGN
    if turn.group and by_button and player in turn.answered:
        return AnswerCheck.REPEATED
    return AnswerCheck.ACCEPTED


def may_steer(turn: Turn, *, player: int, is_admin: bool) -> bool:
    """Who may skip or stop: in a group the starter or a chat admin; in a solo game its player."""
    return player == turn.starter or (turn.group and is_admin)


def accepts_hint(turn: Turn, *, player: int) -> bool:
    """A hint is given for an open question, to anyone in a group, only to the player in a solo game."""
    return turn.phase == Phase.ASKING and turn.game_id is not None and (turn.group or player == turn.starter)


def shows_hint(turn: Turn, *, question_no: int) -> bool:
    """A hint that comes back is shown while its question is still the current one and the game runs."""
    return question_no == turn.question_no and turn.phase in {Phase.ASKING, Phase.JUDGING}


def still_awaiting(turn: Turn, *, kind: CallKind, game_id: str | None, question_no: int | None) -> bool:
    """Whether a call's result is still awaited: a creation until the game exists, an answer or a timeout while
    its question is being judged, a finish until the game is over. Hints are never awaited (a lost hint needs
    no retry)."""
    if kind == CallKind.CREATE:
        return turn.phase == Phase.CREATING
    if kind == CallKind.FINISH:
        return turn.phase != Phase.FINISHED and turn.game_id == game_id
    return (kind in {CallKind.ANSWER, CallKind.TIMEOUT} and turn.phase == Phase.JUDGING
            and turn.game_id == game_id and turn.question_no == question_no)


def timer_is_current(turn: Turn, *, game_id: str, question_no: int) -> bool:
    """A question timer counts only for the open question of this game (a stale one is ignored by number)."""
    return game_id == turn.game_id and question_no == turn.question_no and turn.phase == Phase.ASKING


def evaluation_applies(turn: Turn, *, question_no: int) -> bool:
    """A verdict counts for the current question of a game that is not over."""
    return question_no == turn.question_no and turn.phase != Phase.FINISHED


def idle_count(previous: int, *, timed_out: bool, anyone_answered: bool) -> int:
    """Questions in a row that nobody answered, after one more closed question."""
    return previous + 1 if timed_out and not anyone_answered else 0


def next_step(*, next_question_no: int | None, has_summary: bool, idle_timeouts: int, idle_limit: int) -> NextStep:
    """After a question closed: stop an idle game, ask the next question, or show the summary.

    ``idle_limit`` 0 never stops a game for idleness; the last question never does either (the summary comes).
    """
    if next_question_no is not None and idle_timeouts >= idle_limit > 0:
        return NextStep.IDLE_STOP
    if next_question_no is not None:
        return NextStep.ASK_NEXT
    if has_summary:
        return NextStep.SUMMARY
    return NextStep.WAIT


def time_left(until: float, *, now: float) -> float:
    """Seconds from ``now`` until ``until``, never negative (a timer or watchdog past due fires at once)."""
    return max(until - now, 0.0)


def wakes_at(turn: Turn, *, deadline: float | None) -> float | None:
    """When a passivated session must be woken: at its open question's deadline, else only by new input."""
    return deadline if turn.phase == Phase.ASKING else None


def is_idle(last_active: float, *, now: float, after_s: float) -> bool:
    """A session nobody touched for ``after_s`` seconds may be passivated."""
    return now - last_active >= after_s


def is_due(deadline: float | None, *, now: float) -> bool:
    """A passivated session's timer is due (or nearly): wake it."""
    return deadline is not None and deadline <= now + WAKE_AHEAD_S
