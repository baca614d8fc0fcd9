"""The session state machine on its own: no thread, no timer, a clock that is just a number, and the effects
each input decided, recorded in order."""

from __future__ import annotations

from typing import Any

from schema import events as ev
from trivia_actors.rules import CallKind, Phase
from trivia_actors.session import (
    AnswerGiven,
    ApiAccepted,
    ApiRefused,
    ApiSettled,
    GameOptions,
    GameSession,
    HintAsked,
    Player,
    SessionState,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
    keys,
)
from trivia_actors.session.machine import RESULT_WATCHDOG_S, SETTLED_WAIT_S

GAME_ID = "3f2b8c1e-0000-4000-8000-000000000001"
TAG = GAME_ID.replace("-", "")[:8]
ANN = Player(telegram_id=42, name="Ann")
BOB = Player(telegram_id=43, name="Bob")
T0 = 1_700_000_000.0
Q0, Q1 = keys.question_key(TAG, 0), keys.question_key(TAG, 1)
SUMMARY, STOPPED = keys.notice_key(TAG, keys.Notice.SUMMARY), keys.notice_key(TAG, keys.Notice.STOPPED)
PLAY = keys.play_key(42, 7)


def _questions(n: int) -> tuple[ev.QuestionView, ...]:
    return tuple(ev.QuestionView(no=i, text=f"Question {i}?", options=(f"A{i}", f"B{i}", f"C{i}", f"D{i}"),
                                 category="science", difficulty="easy") for i in range(n))


def _event(payload: Any, request_id: str, chat_id: int = 42) -> ev.Envelope:
    return ev.Envelope(event_id=ev.result_event_id(request_id, payload.TYPE), request_id=request_id,
                       game_id=GAME_ID, chat_id=chat_id, user_id=ANN.subject, payload=payload)


def _evaluated(no: int, verdict: str, *, next_no: int | None, closed: bool = True, score: int = 0,
               summary: ev.GameSummary | None = None, name: str = "Ann") -> ev.AnswerEvaluated:
    return ev.AnswerEvaluated(question_no=no, verdict=verdict, correct_answer=f"A{no}", correct_option=0,
                              given=f"A{no}" if verdict == "correct" else f"B{no}", points=100 if verdict == "correct"
                              else 0, score=score, streak=0, latency_ms=500, explanation="", judged_by="local",
                              next_question_no=next_no, summary=summary, closed=closed, player_name=name)


def _summary(score: int, status: str = "finished") -> ev.GameSummary:
    return ev.GameSummary(status=status, score=score, correct_count=1, question_count=2, best_streak=1)


class Recorder:
    """Drives one session and keeps every effect it decided, as (kind, detail) in order."""

    def __init__(self, chat_id: int = 42, player: Player = ANN) -> None:
        self.session = GameSession(SessionState(chat_id=chat_id, player=player))
        self.now = T0
        self.log: list[tuple[str, Any]] = []

    def _collect(self) -> list[tuple[str, Any]]:
        effects = self.session.take_effects()
        new = [("op", (op.kind.value, op.key)) for op in effects.ops]
        new += [("api", (request.call.kind.value, request.call.key, request.wait_s)) for request in effects.api]
        new += [("timeout", timeout.question_no) for timeout in effects.timeouts]
        new.append(("timer", self.session.next_due()))
        self.log.extend(new)
        return new

    def input(self, message: Any) -> list[tuple[str, Any]]:
        self.session.handle(message, self.now)
        return self._collect()

    def result(self, payload: Any, request_id: str) -> list[tuple[str, Any]]:
        self.session.result(_event(payload, request_id, self.session.state.chat_id), self.now)
        return self._collect()

    def tick(self, seconds: float) -> list[tuple[str, Any]]:
        self.now += seconds
        self.session.due(self.now)
        return self._collect()

    def accept(self, kind: str, key: str) -> list[tuple[str, Any]]:
        return self.input(ApiAccepted(kind=kind, request_id=f"r-{key}", game_id=GAME_ID, key=key))


def _start(game: Recorder, *, mode: str = "solo", count: int = 2, update_id: int = 7) -> None:
    game.input(StartGame(chat_id=game.session.state.chat_id, player=ANN, update_id=update_id,
                         options=GameOptions(category="science", question_count=count, mode=mode)))


def test_a_whole_solo_game_as_effects() -> None:
    game = Recorder()
    _start(game)
    assert game.log == [("op", ("send", keys.reply_key(keys.Reply.PREPARING, 7))), ("api", ("create", PLAY, 0.0)),
                        ("timer", None)]
    assert game.accept("game.create", PLAY) == [("timer", T0 + RESULT_WATCHDOG_S)]
    assert game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create") == [
        ("op", ("send", Q0)), ("timer", T0 + 30)]
    game.now += 4
    answer_key = keys.answer_key(GAME_ID, 0, 42)
    assert game.input(AnswerGiven(chat_id=42, player=ANN, game_tag=TAG, question_no=0, option=1, update_id=8)) == [
        ("api", ("answer", answer_key, 0.0)), ("timer", None)]
    assert game.session.state.phase == Phase.JUDGING
    assert game.accept("answer.submit", answer_key) == [("timer", T0 + 4 + RESULT_WATCHDOG_S)]
    assert game.result(_evaluated(0, "incorrect", next_no=1), "r-a0") == [
        ("op", ("edit", Q0)), ("op", ("send", Q1)), ("timer", T0 + 4 + 30)]
    game.input(TextGiven(chat_id=42, player=ANN, text="A1", update_id=9))
    assert game.session.state.pending_calls, "a typed answer is a call too"
    game.accept("answer.submit", keys.text_key(42, 9))
    final = game.result(_evaluated(1, "correct", next_no=None, score=100, summary=_summary(100)), "r-a1")
    assert final == [("op", ("edit", Q1)), ("op", ("send", SUMMARY)), ("timer", None)]
    assert game.session.finished
    # A copy of the last result from the broker changes nothing.
    assert game.result(_evaluated(1, "correct", next_no=None, score=100, summary=_summary(100)), "r-a1") == [
        ("timer", None)]


def test_a_group_race_takes_one_button_answer_per_player() -> None:
    game = Recorder(chat_id=-100)
    game.input(StartGame(chat_id=-100, player=ANN, update_id=1,
                         options=GameOptions(category="science", question_count=2, mode="group")))
    game.accept("game.create", keys.play_key(-100, 1))
    game.result(ev.GameCreated(question_count=2, time_limit_s=20, questions=_questions(2)), "r-create")
    first = game.input(AnswerGiven(chat_id=-100, player=BOB, game_tag=TAG, question_no=0, option=2, update_id=2))
    again = game.input(AnswerGiven(chat_id=-100, player=BOB, game_tag=TAG, question_no=0, option=0, update_id=3))
    other = game.input(AnswerGiven(chat_id=-100, player=ANN, game_tag=TAG, question_no=0, option=0, update_id=4))
    assert [e for e in first if e[0] == "api"] == [("api", ("answer", keys.answer_key(GAME_ID, 0, 43), 0.0))]
    assert [e for e in again if e[0] == "api"] == [], "a second tap of the same player is not sent"
    assert [e for e in other if e[0] == "api"] == [("api", ("answer", keys.answer_key(GAME_ID, 0, 42), 0.0))]
    assert game.session.state.phase == Phase.ASKING, "in a group the question stays open while answers are judged"
    game.result(_evaluated(0, "incorrect", next_no=None, closed=False, name="Bob"), "r-bob")
    assert game.session.state.phase == Phase.ASKING
    closed = game.result(_evaluated(0, "correct", next_no=1, name="Ann"), "r-ann")
    assert closed[:2] == [("op", ("edit", Q0)), ("op", ("send", Q1))]


def test_a_timeout_closes_the_question_and_a_lost_reveal_is_asked_for_again() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    assert game.tick(29.0) == [("timer", T0 + 30)], "not due yet"
    assert game.tick(1.0) == [("timeout", 0), ("timer", T0 + 30 + RESULT_WATCHDOG_S)]
    assert game.session.state.phase == Phase.JUDGING
    assert game.session.state.awaiting is not None and game.session.state.awaiting.call.kind == CallKind.TIMEOUT
    # The reveal never came: the timeout command goes again (the worker replays a closed question's reveal).
    assert game.tick(RESULT_WATCHDOG_S) == [("timeout", 0), ("timer", T0 + 30 + 2 * RESULT_WATCHDOG_S)]
    revealed = game.result(_evaluated(0, "timeout", next_no=1), "r-timeout")
    assert revealed[:2] == [("op", ("edit", Q0)), ("op", ("send", Q1))]


def test_a_hint_is_asked_for_and_shown_while_its_question_is_open() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    assert game.input(HintAsked(chat_id=42, player=BOB, update_id=11)) == [("timer", T0 + 30)], \
        "only the player of a solo game gets hints"
    assert game.input(HintAsked(chat_id=42, player=ANN, update_id=12)) == [
        ("api", ("hint", keys.hint_request_key(42, 12), 0.0)), ("timer", T0 + 30)]
    shown = game.result(ev.HintCreated(question_no=0, hint="It starts with A", hints_used=1), "r-hint")
    assert shown == [("op", ("send", keys.hint_key(TAG, 0, 1))), ("timer", T0 + 30)]


def test_a_stop_finishes_the_game_and_its_finish_is_watched() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    assert game.input(StopGame(chat_id=42, player=BOB, update_id=20)) == [
        ("op", ("send", keys.reply_key(keys.Reply.STOP_REFUSED, 20))), ("timer", T0 + 30)]
    stop_key = keys.stop_key(GAME_ID)
    assert game.input(StopGame(chat_id=42, player=ANN, update_id=21)) == [
        ("api", ("finish", stop_key, 0.0)), ("timer", None)]
    assert game.tick(60) == [("timer", None)], "the stopped question does not time out"
    assert game.accept("game.finish", stop_key) == [("timer", T0 + 60 + RESULT_WATCHDOG_S)]
    # The finish's result was lost: the watchdog asks again, waiting for the settled outcome.
    assert game.tick(RESULT_WATCHDOG_S) == [("api", ("finish", stop_key, SETTLED_WAIT_S)),
                                            ("timer", T0 + 60 + 2 * RESULT_WATCHDOG_S)]
    finished = ev.GameFinished(summary=_summary(0, status="stopped"))
    settled = game.input(ApiSettled(kind="game.finish", request_id="r-stop", key=stop_key,
                                    event=_event(finished, "r-stop")))
    assert settled == [("op", ("send", STOPPED)), ("op", ("send", SUMMARY)), ("timer", None)]
    assert game.session.finished


def test_a_skip_closes_the_question_like_its_timer() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    assert game.input(SkipAsked(chat_id=42, player=ANN, update_id=30)) == [
        ("timeout", 0), ("timer", T0 + RESULT_WATCHDOG_S)]


def test_a_late_refusal_of_a_repeated_create_leaves_the_running_game_alone() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    late = game.input(ApiRefused(kind="game.create", status=503, code="broker_unavailable", message="busy",
                                 key=PLAY))
    assert late == [("timer", T0 + 30)]
    assert game.session.state.phase == Phase.ASKING and not game.session.finished


def test_an_accepted_create_whose_repeat_meets_an_outage_keeps_waiting() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    repeat = game.tick(RESULT_WATCHDOG_S)
    assert repeat == [("api", ("create", PLAY, SETTLED_WAIT_S)), ("timer", T0 + 2 * RESULT_WATCHDOG_S)]
    refused = game.input(ApiRefused(kind="game.create", status=503, code="unavailable", message="busy",
                                    key=PLAY))
    assert refused == [("timer", T0 + 2 * RESULT_WATCHDOG_S)], "no 'could not start': the game was accepted"
    assert game.session.state.phase == Phase.CREATING


def test_after_an_idle_stop_the_closed_question_is_not_sent_again() -> None:
    game = Recorder()
    game.input(StartGame(chat_id=42, player=ANN, update_id=7, idle_limit=1,
                         options=GameOptions(category="science", question_count=3)))
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=3, time_limit_s=30, questions=_questions(3)), "r-create")
    game.tick(30)
    stopped = game.result(_evaluated(0, "timeout", next_no=1), "r-timeout-0")
    assert ("api", ("finish", keys.idle_stop_key(GAME_ID), 0.0)) in stopped
    assert game.tick(RESULT_WATCHDOG_S * 3) == [("timer", None)], "no timeout command is repeated after an idle stop"


def test_a_lost_result_comes_back_in_the_settled_reply_of_the_watchdog_repeat() -> None:
    game = Recorder()
    _start(game)
    game.accept("game.create", PLAY)
    game.result(ev.GameCreated(question_count=2, time_limit_s=30, questions=_questions(2)), "r-create")
    key = keys.answer_key(GAME_ID, 0, 42)
    game.input(AnswerGiven(chat_id=42, player=ANN, game_tag=TAG, question_no=0, option=0, update_id=8))
    game.accept("answer.submit", key)
    assert game.tick(RESULT_WATCHDOG_S)[0] == ("api", ("answer", key, SETTLED_WAIT_S))
    evaluated = _evaluated(0, "correct", next_no=1, score=100)
    game.input(ApiSettled(kind="answer.submit", request_id="r-a0", key=key, event=_event(evaluated, "r-a0")))
    assert game.session.state.current_no == 1 and game.session.state.phase == Phase.ASKING
    # The same result arriving late from the broker is recognised by its derived id.
    assert game.result(evaluated, "r-a0") == [("timer", game.session.state.deadline)]


def test_a_sleeping_copy_wakes_at_once_while_a_call_may_not_have_reached_the_api() -> None:
    game = Recorder()
    _start(game)
    assert game.session.wake_at(T0) == T0, "the create is in flight: a restart must make it again"
    game.accept("game.create", PLAY)
    assert game.session.wake_at(T0) == T0 + RESULT_WATCHDOG_S
    restored = GameSession(SessionState.from_snapshot(game.session.state.to_snapshot()))
    restored.resume(T0 + RESULT_WATCHDOG_S + 1)
    assert [r.call.kind for r in restored.take_effects().api] == [CallKind.CREATE], \
        "a watchdog that fell due while the session slept fires when it wakes"


def test_late_replies_to_the_previous_games_create_are_not_this_games() -> None:
    game = Recorder()
    _start(game, update_id=2)  # the chat's new game; its previous game's create (update 1) is long over
    assert game.input(ApiAccepted(kind="game.create", request_id="r-old", game_id="old-game",
                                  key=keys.play_key(42, 1))) == [("timer", None)]
    assert game.session.state.game_id is None, "the old game's id is not adopted"
    game.input(ApiRefused(kind="game.create", status=503, code="unavailable", message="busy",
                          key=keys.play_key(42, 1)))
    assert game.session.state.phase == Phase.CREATING and not game.session.finished
    game.accept("game.create", keys.play_key(42, 2))
    assert game.session.state.game_id == GAME_ID
