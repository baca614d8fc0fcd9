"""The game session actor: one per game in a chat; it owns the game's state, its timers and the chat's messages.

The worker is the authority on verdicts and points; the session shows questions, forwards answers to the
API, and renders each result. What to do next is decided by :mod:`trivia_actors.rules.flow`; what it shows is
rendered by :mod:`trivia_actors.session.rendering`. Everything goes through the outbox, in order, keyed so a
question's message can later be edited into its reveal (fewer messages, within Telegram's limits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import attrs
import pykka

from schema.events import (
    AnswerEvaluated,
    AnswerSubmit,
    GameCreate,
    GameCreated,
    GameFinished,
    GameSummary,
    HintCreated,
    RequestFailed,
)
from trivia_actors.rules import AnswerCheck, CallKind, NextStep, Phase, QuestionType, Verdict, flow
from trivia_actors.runtime import TRANSIENT_DB_ERRORS
from trivia_actors.session import keys, rendering, texts
from trivia_actors.session.messages import (
    AnswerGiven,
    ApiAccepted,
    ApiRefused,
    GameOptions,
    GetState,
    HintAsked,
    Passivate,
    Passivated,
    Player,
    QuestionTimedOut,
    ResultArrived,
    ResultOverdue,
    SaveSession,
    ScoreAsked,
    SessionEnded,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
)
from trivia_actors.session.ports import CommandSink, GameApi, Keyboard, OpKind, OutboundOp, TelegramOutbox
from trivia_actors.session.state import Awaiting, PendingCall, SessionState

logger = logging.getLogger(__name__)

# An accepted call with no result after this long is made again (same key): the API then produces it again.
RESULT_WATCHDOG_S = 20.0
# Refusals that mean "not now" (the API unreachable, busy, or its broker or database down): the player is asked to
# send the command again, not told the API's reason (written for API clients).
RETRY_LATER_STATUSES = frozenset({0, 429, 502, 503, 504})

# A snapshot not saved for one of these is saved later: the database (or the store in front of it) is away
# for now, so the result event is handed back to be redelivered. Anything else is a bug, which a redelivery
# would only meet again.
TRANSIENT_SAVE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, pykka.Timeout, pykka.ActorDeadError)


@attrs.frozen(kw_only=True)
class _Unsettled:
    """Why the effect of a message is not complete, and whether handling it again may complete it."""

    reason: str
    retryable: bool


class GameSessionActor(pykka.ThreadingActor):
    """Runs one game in one chat: solo (one player) or group (every member races on each question)."""

    def __init__(self, state: SessionState, *, outbox: TelegramOutbox, api: GameApi,
                 manager: pykka.ActorRef[Any] | None, commands: CommandSink | None = None,
                 store: pykka.ActorRef[Any] | None = None, restored: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.state = state
        self.outbox = outbox
        self.api = api
        self.manager = manager
        self.commands = commands
        self.store = store
        self.restored = restored
        self.clock = clock
        self._timer: threading.Timer | None = None
        self._watchdog: threading.Timer | None = None
        self._event_tag = ""
        self._ops: list[OutboundOp] = []
        self._saved: dict[str, Any] | None = state.to_snapshot() if restored else None

    def on_start(self) -> None:
        if not self.restored:
            return
        # After a restart: re-issue the API calls that may not have reached the API (same idempotency keys,
        # so none can apply twice), and re-arm the open question's timer for the time it has left.
        self._log("restored in phase %s", self.state.phase)
        for call in list(self.state.pending_calls.values()):
            self._issue(call)
        if self.state.phase == Phase.ASKING:
            self._arm_timer()
        self._arm_watchdog()

    def on_stop(self) -> None:
        self._cancel_timer()
        self._cancel_watchdog()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("chat %s game %s: session failed: %s", self.state.chat_id, self.state.game_id, exception_value)
        self._cancel_timer()
        self._cancel_watchdog()

    # --- the result watchdog ----------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        """After an accepted call, wait for its result; if none comes within RESULT_WATCHDOG_S (its event was
        lost, or its command never reached the broker), the call is made again with the same idempotency key:
        the API then produces the command again and the worker answers it (applying it at most once)."""
        self._cancel_watchdog()
        awaiting = self.state.awaiting
        if awaiting is None or not self._still_awaiting(awaiting.call):
            return
        remaining = flow.time_left(awaiting.since + RESULT_WATCHDOG_S, now=self.clock())
        self._watchdog = threading.Timer(remaining, self._tell_self, args=(ResultOverdue(key=awaiting.call.key),))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _still_awaiting(self, call: PendingCall) -> bool:
        return flow.still_awaiting(self.state.turn(), kind=call.kind, game_id=call.game_id,
                                   question_no=call.question_no)

    def _overdue(self, message: ResultOverdue) -> None:
        awaiting = self.state.awaiting
        if awaiting is None or awaiting.call.key != message.key:
            return
        if not self._still_awaiting(awaiting.call):
            self.state.awaiting = None
            return
        logger.warning("chat %s game %s: no result for %s after %.0fs; making the call again", self.state.chat_id,
                       self.state.game_id, awaiting.call.kind, self.clock() - awaiting.since)
        match awaiting.call:
            case PendingCall(kind=CallKind.TIMEOUT, question_no=int(question_no)):
                self._close_question(question_no)  # the worker closes a question once
            case call:
                self._issue(call)

    # --- timers -----------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        """(Re)arm the open question's timer for the time left until its deadline."""
        self._cancel_timer()
        if self.state.deadline is None or self.state.game_id is None:
            return
        remaining = flow.time_left(self.state.deadline, now=self.clock())
        message = QuestionTimedOut(game_id=self.state.game_id, question_no=self.state.current_no)
        self._timer = threading.Timer(remaining, self._tell_self, args=(message,))
        self._timer.daemon = True
        self._timer.start()

    def _tell_self(self, message: QuestionTimedOut | ResultOverdue) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            logger.debug("timer fired after the session stopped")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, message: QuestionTimedOut) -> None:
        if flow.timer_is_current(self.state.turn(), game_id=message.game_id, question_no=message.question_no):
            self._close_question(message.question_no)

    def _close_question(self, question_no: int) -> None:
        """Ask the worker to reveal the open question (its time ran out, or it was skipped)."""
        state = self.state
        if self.commands is None or state.game_id is None:
            return
        self._log("question %d closed by the timer", question_no)
        state.phase = Phase.JUDGING
        self._cancel_timer()
        self.commands.question_timed_out(game_id=state.game_id, chat_id=state.chat_id, subject=state.player.subject,
                                         question_no=question_no)
        call = PendingCall(kind=CallKind.TIMEOUT, key=keys.timeout_key(state.game_id, question_no),
                           game_id=state.game_id, question_no=question_no)
        state.awaiting = Awaiting(call=call, since=self.clock())
        self._arm_watchdog()

    # --- dispatch ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, GetState):
            return attrs.evolve(self.state)
        if isinstance(message, Passivate):
            return self._passivate()
        try:
            unsettled = self._process(message)
        except Exception as exc:
            # A bug. Told messages must not stop the session (pykka would), so it is logged with its traceback
            # and a result event is refused for good: handling it again would fail again.
            logger.exception("chat %s game %s: handling %s failed", self.state.chat_id, self.state.game_id,
                             type(message).__name__)
            unsettled = _Unsettled(reason=f"session failed: {type(exc).__name__}", retryable=False)
        if isinstance(message, ResultArrived):
            if unsettled is None:
                message.completion.done()
            else:
                message.completion.fail(unsettled.reason, retryable=unsettled.retryable)
        return None

    def _process(self, message: Any) -> _Unsettled | None:
        """Handle a message, then save and send what it decided (also what was decided before a failure)."""
        try:
            self._handle(message)
        finally:
            unsettled = self._commit()
        return unsettled

    def _passivate(self) -> Passivated | None:
        # Only a quiet session may sleep: its snapshot is saved and no API call is in flight.
        if self.state.pending_calls or self._saved != self.state.to_snapshot():
            return None
        self._cancel_timer()
        return Passivated(wake_at=flow.wakes_at(self.state.turn(), deadline=self.state.deadline))

    def _handle(self, message: Any) -> None:
        state = self.state
        match message:
            case StartGame():
                self._start(message)
            case AnswerGiven():
                self._answer(message.player, question_no=message.question_no, option=message.option, text=None,
                             tag=message.game_tag, update_id=message.update_id)
            case TextGiven():
                self._answer(message.player, question_no=state.current_no, option=None, text=message.text[:500],
                             tag=state.game_tag, update_id=message.update_id)
            case ResultOverdue():
                self._overdue(message)
            case QuestionTimedOut():
                self._timed_out(message)
            case HintAsked():
                self._hint(message)
            case SkipAsked():
                if state.phase == Phase.ASKING and self._may_steer(message.player, message.is_admin):
                    self._close_question(state.current_no)
            case ScoreAsked():
                self._score(message)
            case StopGame():
                self._stop_game(message)
            case ResultArrived():
                self._result(message)
            case ApiAccepted():
                self._accepted(message)
            case ApiRefused():
                self._refused(message)
            case _:
                logger.warning("chat %s: unexpected message %s", state.chat_id, type(message).__name__)

    def _log(self, text: str, *args: Any) -> None:
        logger.info("chat %s game %s: " + text, self.state.chat_id, self.state.game_id, *args)

    @property
    def _tag(self) -> str:
        """The game's tag in its message keys."""
        return self.state.game_tag or keys.NO_TAG

    def _may_steer(self, player: Player, is_admin: bool) -> bool:
        return flow.may_steer(self.state.turn(), player=player.telegram_id, is_admin=is_admin)

    # --- output: snapshot and Telegram calls, committed together ----------------------------------

    def _send(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self._ops.append(OutboundOp(kind=OpKind.SEND, chat_id=self.state.chat_id, key=key, text=text,
                                    keyboard=keyboard))

    def _edit(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self._ops.append(OutboundOp(kind=OpKind.EDIT, chat_id=self.state.chat_id, key=key, text=text,
                                    keyboard=keyboard))

    def _commit(self) -> _Unsettled | None:
        """Save the snapshot with the ops decided while handling a message, then deliver the new ops."""
        ops, self._ops = self._ops, []
        if self.store is None:
            if ops:
                self.outbox.deliver(ops)
            return None
        snapshot = self.state.to_snapshot()
        if not ops and snapshot == self._saved:
            return None
        try:
            new_ops = cast(list[OutboundOp], self.store.ask(
                SaveSession(chat_id=self.state.chat_id, game_id=self.state.game_id, phase=self.state.phase,
                            snapshot=snapshot, ops=tuple(ops)),
                timeout=10,
            ))
        except TRANSIENT_SAVE_ERRORS as exc:
            logger.warning("chat %s game %s: snapshot not saved: %s", self.state.chat_id, self.state.game_id,
                           type(exc).__name__)
            unsettled = _Unsettled(reason="session snapshot not saved", retryable=True)
        except Exception as exc:
            logger.exception("chat %s game %s: snapshot not saved, and saving it again would fail the same way",
                             self.state.chat_id, self.state.game_id)
            unsettled = _Unsettled(reason=f"session snapshot not saved: {type(exc).__name__}", retryable=False)
        else:
            self._saved = snapshot
            if new_ops:
                self.outbox.deliver(new_ops)
            return None
        if ops:
            self.outbox.deliver(ops)  # the player still gets the reply
        return unsettled

    # --- API calls --------------------------------------------------------------------------------

    def _issue(self, call: PendingCall) -> None:
        """Make (or repeat) an API call described by plain data, so it survives in the snapshot."""
        state = self.state
        state.pending_calls[call.key] = call
        subject = call.subject or state.player.subject
        match call:
            case PendingCall(kind=CallKind.CREATE, options=GameOptions() as options):
                self.api.create_game(chat_id=state.chat_id, subject=state.player.subject, name=state.player.name,
                                     telegram_id=state.player.telegram_id, options=options.to_document(),
                                     idempotency_key=call.key, reply_to=self.actor_ref)
            case PendingCall(kind=CallKind.ANSWER, game_id=str(game_id), question_no=int(question_no)):
                self.api.submit_answer(game_id=game_id, subject=subject, name=call.name, question_no=question_no,
                                       option=call.option, text=call.text, idempotency_key=call.key,
                                       reply_to=self.actor_ref)
            case PendingCall(kind=CallKind.HINT, game_id=str(game_id), question_no=int(question_no)):
                self.api.request_hint(game_id=game_id, subject=subject, question_no=question_no,
                                      idempotency_key=call.key, reply_to=self.actor_ref)
            case PendingCall(kind=CallKind.FINISH, game_id=str(game_id)):
                self.api.finish_game(game_id=game_id, subject=subject, idempotency_key=call.key,
                                     reply_to=self.actor_ref)

    # --- Telegram input ---------------------------------------------------------------------------

    def _start(self, message: StartGame) -> None:
        state, options = self.state, message.options
        state.category = options.category
        state.mode = options.mode
        state.question_type = options.question_type
        state.idle_limit = message.idle_limit
        self._send(keys.reply_key(keys.Reply.PREPARING, message.update_id),
                   rendering.preparing_text(topic=options.topic, category=options.category))
        self._issue(PendingCall(kind=CallKind.CREATE, options=options,
                                key=keys.play_key(state.chat_id, message.update_id)))

    def _answer(self, player: Player, *, question_no: int, option: int | None, text: str | None, tag: str,
                update_id: int) -> None:
        state = self.state
        check = flow.check_answer(state.turn(), player=player.telegram_id, game_tag=tag, question_no=question_no,
                                  by_button=option is not None)
        if check != AnswerCheck.ACCEPTED or state.game_id is None:
            self._log("ignored a %s answer to question %s", check, question_no)
            return
        if state.is_group:
            if option is not None:
                state.answered.append(player.telegram_id)
        else:
            state.phase = Phase.JUDGING
        # A button answer is keyed by player and question (a second tap is the same answer); a typed one by
        # its message.
        key = (keys.answer_key(state.game_id, question_no, player.telegram_id) if option is not None
               else keys.text_key(state.chat_id, update_id))
        self._issue(PendingCall(kind=CallKind.ANSWER, game_id=state.game_id, question_no=question_no, option=option,
                                text=text, key=key, subject=player.subject, name=player.name))

    def _hint(self, message: HintAsked) -> None:
        state = self.state
        if not flow.accepts_hint(state.turn(), player=message.player.telegram_id) or state.game_id is None:
            return
        self._issue(PendingCall(kind=CallKind.HINT, game_id=state.game_id, question_no=state.current_no,
                                key=keys.hint_request_key(state.chat_id, message.update_id),
                                subject=state.player.subject))

    def _score(self, message: ScoreAsked) -> None:
        state = self.state
        self._send(keys.reply_key(keys.Reply.SCORE, message.update_id),
                   rendering.score_text(group=state.is_group, scoreboard=state.scoreboard, score=state.score,
                                        question_no=state.current_no, total=len(state.questions)))

    def _stop_game(self, message: StopGame) -> None:
        state = self.state
        if state.game_id is None or state.phase == Phase.FINISHED:
            return
        if not self._may_steer(message.player, message.is_admin):
            self._send(keys.reply_key(keys.Reply.STOP_REFUSED, message.update_id), texts.render("stop_refused"))
            return
        self._cancel_timer()
        self._issue(PendingCall(kind=CallKind.FINISH, game_id=state.game_id, key=keys.stop_key(state.game_id),
                                subject=state.player.subject))

    # --- API replies ------------------------------------------------------------------------------

    def _accepted(self, message: ApiAccepted) -> None:
        call = self.state.pending_calls.pop(message.key, None)
        if call is not None and self._still_awaiting(call):
            self.state.awaiting = Awaiting(call=call, since=self.clock())
            self._arm_watchdog()
        if message.kind == GameCreate.TYPE and self.state.game_id is None:
            self.state.game_id = message.game_id
            self.state.game_tag = keys.game_tag(message.game_id)
            self._log("game requested (request %s)", message.request_id)

    def _refused(self, message: ApiRefused) -> None:
        self._log("API refused %s: %s %s", message.kind, message.status, message.code)
        self.state.pending_calls.pop(message.key, None)
        if message.kind == GameCreate.TYPE:
            text = texts.render("start_busy") if message.status in RETRY_LATER_STATUSES else texts.render(
                "start_failed", reason=message.message)
            self._send(keys.start_failed_key(message.key), text)
            self._end()
        elif message.kind == AnswerSubmit.TYPE and self.state.phase == Phase.JUDGING:
            self.state.phase = Phase.ASKING
            self._arm_timer()
            self._send(keys.answer_failed_key(self.state.current_no, message.key),
                       texts.render("answer_failed", reason=message.message))

    # --- results ----------------------------------------------------------------------------------

    def _result(self, message: ResultArrived) -> None:
        event = message.event
        state = self.state
        if event.event_id in state.handled_events:
            return
        if state.game_id is None and isinstance(event.payload, GameCreated) and state.phase == Phase.CREATING:
            # The result can beat the API's 202 to us: adopt the game created for this chat.
            state.game_id = event.game_id
            state.game_tag = keys.game_tag(event.game_id)
        if event.game_id != state.game_id:
            return
        state.handled_events = [*state.handled_events[-63:], event.event_id]
        self._event_tag = event.event_id[:8]
        payload = event.payload
        if isinstance(payload, GameCreated):
            self._game_created(payload)
        elif isinstance(payload, AnswerEvaluated):
            self._evaluated(payload)
        elif isinstance(payload, GameFinished):
            self._finished(payload)
        elif isinstance(payload, HintCreated):
            if flow.shows_hint(state.turn(), question_no=payload.question_no):
                self._send(keys.hint_key(self._tag, payload.question_no, payload.hints_used),
                           texts.render("hint", hint=payload.hint))
        elif isinstance(payload, RequestFailed):
            self._request_failed(payload)

    def _game_created(self, payload: GameCreated) -> None:
        if self.state.phase != Phase.CREATING:
            return
        self.state.questions = list(payload.questions)
        self.state.current_no = 0
        self.state.time_limit_s = payload.time_limit_s
        self._log("game created with %d questions", len(payload.questions))
        self._ask()

    def _ask(self) -> None:
        state = self.state
        question = state.questions[state.current_no]
        total = len(state.questions)
        state.phase = Phase.ASKING
        state.answered = []
        state.deadline = self.clock() + state.time_limit_s
        self._arm_timer()
        if state.question_type == QuestionType.POLL and question.correct_option is not None:
            # A native quiz poll: Telegram shows each voter whether they were right; the worker still scores.
            self._ops.append(OutboundOp(
                kind=OpKind.POLL, chat_id=state.chat_id,
                key=keys.PollKey(game_tag=self._tag, question_no=question.no).build(),
                text=rendering.poll_title(question, total), options=question.options,
                correct_option=question.correct_option, open_period=rendering.poll_open_period(state.time_limit_s),
            ))
            return
        text = rendering.question_message(question, total, question_type=state.question_type, group=state.is_group,
                                          time_limit_s=state.time_limit_s)
        keyboard = () if state.question_type == QuestionType.TEXT else rendering.answer_keyboard(state.game_tag,
                                                                                                 question)
        self._send(keys.question_key(self._tag, question.no), text, keyboard)

    def _evaluated(self, payload: AnswerEvaluated) -> None:
        state = self.state
        if not flow.evaluation_applies(state.turn(), question_no=payload.question_no):
            return
        if payload.scoreboard:
            state.scoreboard = [(line.name, line.score) for line in payload.scoreboard]
        if payload.verdict == Verdict.CLOSE:
            if not state.is_group:
                state.phase = Phase.ASKING
                self._arm_timer()
            self._send(keys.close_key(self._tag, payload.question_no, self._event_tag),
                       rendering.close_text(group=state.is_group, name=payload.player_name))
            return
        if not payload.closed:
            return  # group: a wrong (or, in "all" mode, a right) answer; the question stays open
        question = state.questions[payload.question_no]
        if not state.is_group:
            state.score = payload.score
        self._cancel_timer()
        state.idle_timeouts = flow.idle_count(state.idle_timeouts, timed_out=payload.verdict == "timeout",
                                              anyone_answered=bool(state.answered))
        reveal = rendering.reveal_text(question, payload, total=len(state.questions), group=state.is_group,
                                       scoreboard=state.scoreboard)
        if state.question_type == QuestionType.POLL:
            self._send(keys.reveal_key(self._tag, question.no), reveal)
        else:
            self._edit(keys.question_key(self._tag, question.no), reveal)
        step = flow.next_step(next_question_no=payload.next_question_no, has_summary=payload.summary is not None,
                              idle_timeouts=state.idle_timeouts, idle_limit=state.idle_limit)
        if step == NextStep.IDLE_STOP and state.game_id is not None:
            self._log("nobody answered %d questions in a row: stopping", state.idle_timeouts)
            self._send(keys.notice_key(self._tag, keys.Notice.IDLE), texts.render("idle_stop"))
            self._issue(PendingCall(kind=CallKind.FINISH, game_id=state.game_id,
                                    key=keys.idle_stop_key(state.game_id), subject=state.player.subject))
            state.phase = Phase.JUDGING
        elif step == NextStep.ASK_NEXT and payload.next_question_no is not None:
            state.current_no = payload.next_question_no
            self._ask()
        elif step == NextStep.SUMMARY and payload.summary is not None:
            self._show_summary(payload.summary)

    def _finished(self, payload: GameFinished) -> None:
        if self.state.phase == Phase.FINISHED:
            return
        if payload.summary.status == "stopped":
            self._send(keys.notice_key(self._tag, keys.Notice.STOPPED), texts.render("stopped"))
        self._show_summary(payload.summary)

    def _show_summary(self, summary: GameSummary) -> None:
        state = self.state
        if state.phase == Phase.FINISHED:
            return
        state.phase = Phase.FINISHED
        if summary.scoreboard:
            state.scoreboard = [(line.name, line.score) for line in summary.scoreboard]
        self._send(keys.notice_key(self._tag, keys.Notice.SUMMARY),
                   rendering.summary_text(summary, group=state.is_group, scoreboard=state.scoreboard))
        self._log("game over, score %d", summary.score)
        self._end()

    def _request_failed(self, payload: RequestFailed) -> None:
        state = self.state
        if state.phase == Phase.CREATING:
            self._send(keys.start_failed_key(self._event_tag), texts.render("start_failed", reason=payload.message))
            self._end()
        elif state.phase == Phase.JUDGING and payload.question_no == state.current_no and not state.is_group:
            state.phase = Phase.ASKING
            self._arm_timer()
            if payload.code not in {"duplicate"}:
                self._send(keys.failed_key(self._tag, state.current_no, self._event_tag),
                           texts.render("answer_failed", reason=payload.message))

    def _end(self) -> None:
        self._cancel_timer()
        self.state.phase = Phase.FINISHED
        if self.manager is not None:
            self.manager.tell(SessionEnded(chat_id=self.state.chat_id, game_id=self.state.game_id))
