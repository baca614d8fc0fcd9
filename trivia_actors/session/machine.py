"""A chat's game as a plain state machine: input in, effects out, no thread, no timer and no I/O of its own.

A :class:`GameSession` is hosted by a session shard actor (:mod:`trivia_actors.session.shard`), which owns many of
them. Each input is handled with the current time given; what the session decided is collected as
:class:`Effects` (Telegram calls, API calls, timeout commands) that the shard carries out only after committing
the new snapshot, and :meth:`GameSession.next_due` says when the shard must call :meth:`GameSession.due` (the
question's deadline or the result watchdog). The worker is the authority on verdicts and points; the session
shows questions, forwards answers to the API and renders each result. What to do next is decided by
:mod:`trivia_actors.rules.flow`; what it shows is rendered by :mod:`trivia_actors.session.rendering`.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from schema.events import (
    AnswerEvaluated,
    AnswerSubmit,
    Envelope,
    GameCreate,
    GameCreated,
    GameFinish,
    GameFinished,
    GameSummary,
    HintCreated,
    RequestFailed,
)
from trivia_actors.rules import AnswerCheck, CallKind, NextStep, Phase, QuestionType, Verdict, flow
from trivia_actors.session import keys, rendering, texts
from trivia_actors.session.messages import (
    AnswerGiven,
    ApiAccepted,
    ApiRefused,
    ApiSettled,
    GameOptions,
    HintAsked,
    Player,
    ScoreAsked,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
)
from trivia_actors.session.ports import Keyboard, OpKind, OutboundOp
from trivia_actors.session.state import Awaiting, PendingCall, SessionState

logger = logging.getLogger(__name__)

# An accepted call with no result after this long is made again (same key), asking the API to wait for the
# settled outcome: a result whose event was lost comes back in the reply.
RESULT_WATCHDOG_S = 20.0
# How long a watchdog's repeat asks the API to wait for the settled outcome (``?wait=``).
SETTLED_WAIT_S = 5.0
# Refusals that mean "not now" (the API unreachable, busy, or its broker or database down): the player is asked to
# send the command again, not told the API's reason (written for API clients).
RETRY_LATER_STATUSES = frozenset({0, 429, 502, 503, 504})
# A timer may fire a little before its due time (clock granularity): it counts as due.
DUE_SLACK_S = 0.005
HANDLED_EVENTS_KEPT = 64

PlayerInput = StartGame | AnswerGiven | TextGiven | HintAsked | SkipAsked | ScoreAsked | StopGame
ApiReplyMessage = ApiAccepted | ApiRefused | ApiSettled


@attrs.frozen(kw_only=True)
class ApiRequest:
    """An API call the session decided to make: ``call`` (plain data, also kept in the snapshot until the API
    accepted it) and how long to ask the API to wait for its settled outcome."""

    call: PendingCall
    wait_s: float = 0.0


@attrs.frozen(kw_only=True)
class TimeoutCommand:
    """The question ``question_no`` of ``game_id`` closed by its timer (or a skip): a command to the worker."""

    game_id: str
    chat_id: int
    subject: str
    question_no: int


@attrs.define
class Effects:
    """What handling input decided, in order, to carry out once the new snapshot is committed."""

    ops: list[OutboundOp] = attrs.field(factory=list)
    api: list[ApiRequest] = attrs.field(factory=list)
    timeouts: list[TimeoutCommand] = attrs.field(factory=list)

    def __bool__(self) -> bool:
        return bool(self.ops or self.api or self.timeouts)


class GameSession:
    """Runs one game in one chat: solo (one player) or group (every member races on each question)."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.effects = Effects()
        self._event_tag = ""

    # --- what the host needs ----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The game is over (or never started): the host may forget the session once it is committed."""
        return self.state.phase == Phase.FINISHED

    @property
    def quiet(self) -> bool:
        """No API call in flight: the session may be put to sleep (once its snapshot is saved)."""
        return not self.state.pending_calls

    def take_effects(self) -> Effects:
        """The effects decided since the last call, handed over once."""
        effects, self.effects = self.effects, Effects()
        return effects

    def next_due(self) -> float | None:
        """When :meth:`due` must be called if nothing else comes first (epoch seconds), or None."""
        candidates = []
        state = self.state
        if state.phase == Phase.ASKING and state.deadline is not None and state.game_id is not None:
            candidates.append(state.deadline)
        awaiting = state.awaiting
        if awaiting is not None and self._still_awaiting(awaiting.call):
            candidates.append(awaiting.since + RESULT_WATCHDOG_S)
        return min(candidates, default=None)

    def wake_at(self, now: float) -> float | None:
        """When a sleeping copy of this session must be woken: at once if a call may not have reached the API
        (it is repeated on waking), else at :meth:`next_due`."""
        return now if self.state.pending_calls else self.next_due()

    def resume(self, now: float) -> None:
        """After a restart or a wake-up: make again the API calls that may not have reached the API (same
        idempotency keys, so none can apply twice), then apply what fell due while it slept."""
        logger.info("chat %s game %s: resumed in phase %s", self.state.chat_id, self.state.game_id, self.state.phase)
        for call in list(self.state.pending_calls.values()):
            self._issue(call)
        self.due(now)

    def due(self, now: float) -> None:
        """The shard's timer for this session fired: close the question whose time ran out, and make again a
        call whose result is overdue."""
        state = self.state
        if (state.phase == Phase.ASKING and state.deadline is not None and state.game_id is not None
                and now + DUE_SLACK_S >= state.deadline):
            self._log("question %d closed by the timer", state.current_no)
            self._close_question(state.current_no, now)
        awaiting = state.awaiting
        if awaiting is None or now + DUE_SLACK_S < awaiting.since + RESULT_WATCHDOG_S:
            return
        if not self._still_awaiting(awaiting.call):
            state.awaiting = None
            return
        logger.warning("chat %s game %s: no result for %s after %.0fs; making the call again", state.chat_id,
                       state.game_id, awaiting.call.kind, now - awaiting.since)
        state.awaiting = Awaiting(call=awaiting.call, since=now)
        if awaiting.call.kind == CallKind.TIMEOUT and awaiting.call.question_no is not None:
            self._command_timeout(awaiting.call.question_no)  # the worker replays a closed question's reveal
        else:
            self._issue(awaiting.call, wait_s=SETTLED_WAIT_S)

    # --- input ------------------------------------------------------------------------------------

    def handle(self, message: PlayerInput | ApiReplyMessage, now: float) -> None:
        """Apply a player's input or the API's reply to one of this session's calls."""
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
            case HintAsked():
                self._hint(message)
            case SkipAsked():
                if state.phase == Phase.ASKING and self._may_steer(message.player, message.is_admin):
                    self._close_question(state.current_no, now)
            case ScoreAsked():
                self._score(message)
            case StopGame():
                self._stop_game(message)
            case ApiAccepted():
                self._accepted(message, now)
            case ApiRefused():
                self._refused(message, now)
            case ApiSettled():
                self._settled(message, now)

    def result(self, event: Envelope, now: float) -> None:
        """Apply a result event of the worker (from the broker, or rebuilt from the API's settled reply)."""
        state = self.state
        if event.event_id in state.handled_events:
            return
        if state.game_id is None and isinstance(event.payload, GameCreated) and state.phase == Phase.CREATING:
            # The result can beat the API's 202 to us: adopt the game created for this chat.
            self._adopt(event.game_id)
        if event.game_id != state.game_id:
            return
        state.handled_events = [*state.handled_events[-(HANDLED_EVENTS_KEPT - 1):], event.event_id]
        self._event_tag = event.event_id[:8]
        payload = event.payload
        if isinstance(payload, GameCreated):
            self._game_created(payload, now)
        elif isinstance(payload, AnswerEvaluated):
            self._evaluated(payload, now)
        elif isinstance(payload, GameFinished):
            self._finished(payload)
        elif isinstance(payload, HintCreated):
            if flow.shows_hint(state.turn(), question_no=payload.question_no):
                self._send(keys.hint_key(self._tag, payload.question_no, payload.hints_used),
                           texts.render("hint", hint=payload.hint))
        elif isinstance(payload, RequestFailed):
            self._request_failed(payload, now)

    # --- helpers ----------------------------------------------------------------------------------

    def _log(self, text: str, *args: Any) -> None:
        logger.info("chat %s game %s: " + text, self.state.chat_id, self.state.game_id, *args)

    @property
    def _tag(self) -> str:
        """The game's tag in its message keys."""
        return self.state.game_tag or keys.NO_TAG

    def _may_steer(self, player: Player, is_admin: bool) -> bool:
        return flow.may_steer(self.state.turn(), player=player.telegram_id, is_admin=is_admin)

    def _still_awaiting(self, call: PendingCall) -> bool:
        return flow.still_awaiting(self.state.turn(), kind=call.kind, game_id=call.game_id,
                                   question_no=call.question_no)

    def _send(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self.effects.ops.append(OutboundOp(kind=OpKind.SEND, chat_id=self.state.chat_id, key=key, text=text,
                                           keyboard=keyboard))

    def _edit(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self.effects.ops.append(OutboundOp(kind=OpKind.EDIT, chat_id=self.state.chat_id, key=key, text=text,
                                           keyboard=keyboard))

    def _issue(self, call: PendingCall, *, wait_s: float = 0.0) -> None:
        """Make (or repeat) an API call described by plain data, so it survives in the snapshot."""
        self.state.pending_calls[call.key] = call
        self.effects.api.append(ApiRequest(call=call, wait_s=wait_s))

    def _adopt(self, game_id: str) -> None:
        self.state.game_id = game_id
        self.state.game_tag = keys.game_tag(game_id)

    def _close_question(self, question_no: int, now: float) -> None:
        """Ask the worker to reveal the open question (its time ran out, or it was skipped)."""
        state = self.state
        if state.game_id is None:
            return
        state.phase = Phase.JUDGING
        self._command_timeout(question_no)
        call = PendingCall(kind=CallKind.TIMEOUT, key=keys.timeout_key(state.game_id, question_no),
                           game_id=state.game_id, question_no=question_no)
        state.awaiting = Awaiting(call=call, since=now)

    def _command_timeout(self, question_no: int) -> None:
        state = self.state
        if state.game_id is not None:
            self.effects.timeouts.append(TimeoutCommand(game_id=state.game_id, chat_id=state.chat_id,
                                                        subject=state.player.subject, question_no=question_no))

    def _end(self) -> None:
        self.state.phase = Phase.FINISHED
        self.state.awaiting = None

    # --- Telegram input ---------------------------------------------------------------------------

    def _start(self, message: StartGame) -> None:
        state, options = self.state, message.options
        if state.game_id is not None or state.pending_calls:
            return  # a second start of a session that has one (the host answers "already playing")
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
        self._finish(keys.stop_key(state.game_id))

    def _finish(self, key: str) -> None:
        """Ask the API to finish the game; the question (if one is open) no longer times out, and what was
        awaited before is not awaited any more: the finish's own result is."""
        state = self.state
        assert state.game_id is not None
        state.phase = Phase.JUDGING
        state.awaiting = None
        self._issue(PendingCall(kind=CallKind.FINISH, game_id=state.game_id, key=key, subject=state.player.subject))

    # --- API replies ------------------------------------------------------------------------------

    def _accepted(self, message: ApiAccepted, now: float) -> None:
        state = self.state
        call = state.pending_calls.pop(message.key, None)
        # Only a reply to a call this game still has counts: a late one of the chat's previous game does not.
        if call is not None and call.kind == CallKind.CREATE and state.game_id is None \
                and state.phase == Phase.CREATING:
            self._adopt(message.game_id)
            self._log("game requested (request %s)", message.request_id)
        if call is not None and self._still_awaiting(call):
            state.awaiting = Awaiting(call=call, since=now)

    def _refused(self, message: ApiRefused, now: float) -> None:
        state = self.state
        self._log("API refused %s: %s %s", message.kind, message.status, message.code)
        call = state.pending_calls.pop(message.key, None)
        if message.kind == GameCreate.TYPE:
            if call is None or state.game_id is not None or state.phase != Phase.CREATING:
                return  # a repeat of a create that was accepted (the game exists), or another game's create
            accepted_before = state.awaiting is not None and state.awaiting.call.key == message.key
            if accepted_before and message.status in RETRY_LATER_STATUSES:
                state.awaiting = Awaiting(call=call, since=now)  # "not now": the watchdog asks again later
                return
            text = texts.render("start_busy") if message.status in RETRY_LATER_STATUSES else texts.render(
                "start_failed", reason=message.message)
            self._send(keys.start_failed_key(message.key), text)
            self._end()
        elif message.kind == AnswerSubmit.TYPE and state.phase == Phase.JUDGING and not state.is_group:
            if call is None or call.question_no != state.current_no:
                return
            awaited = state.awaiting is not None and state.awaiting.call.key == message.key
            if awaited and message.status in RETRY_LATER_STATUSES:
                state.awaiting = Awaiting(call=call, since=now)  # accepted before: a repeat met an outage
                return
            state.phase = Phase.ASKING
            state.awaiting = None
            self._send(keys.answer_failed_key(state.current_no, message.key),
                       texts.render("answer_failed", reason=message.message))
        elif message.kind == GameFinish.TYPE and call is not None and not self.finished:
            if message.status in RETRY_LATER_STATUSES:
                state.awaiting = Awaiting(call=call, since=now)  # "not now": the watchdog asks again later
            else:
                self._log("the API refused to finish the game (%s): ending the session", message.code)
                self._end()

    def _settled(self, message: ApiSettled, now: float) -> None:
        state = self.state
        call = state.pending_calls.pop(message.key, None)
        if call is not None and call.kind == CallKind.CREATE and state.game_id is None \
                and state.phase == Phase.CREATING:
            self._adopt(message.event.game_id)  # settled before any 202 reached us (a failure too)
        if call is not None and self._still_awaiting(call):
            state.awaiting = Awaiting(call=call, since=now)
        self.result(message.event, now)

    # --- results ----------------------------------------------------------------------------------

    def _game_created(self, payload: GameCreated, now: float) -> None:
        state = self.state
        if state.phase != Phase.CREATING:
            return
        state.awaiting = None
        state.questions = list(payload.questions)
        state.current_no = 0
        state.time_limit_s = payload.time_limit_s
        self._log("game created with %d questions", len(payload.questions))
        self._ask(now)

    def _ask(self, now: float) -> None:
        state = self.state
        question = state.questions[state.current_no]
        total = len(state.questions)
        state.phase = Phase.ASKING
        state.awaiting = None
        state.answered = []
        state.deadline = now + state.time_limit_s
        if state.question_type == QuestionType.POLL and question.correct_option is not None:
            # A native quiz poll: Telegram shows each voter whether they were right; the worker still scores.
            self.effects.ops.append(OutboundOp(
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

    def _evaluated(self, payload: AnswerEvaluated, now: float) -> None:
        state = self.state
        if not flow.evaluation_applies(state.turn(), question_no=payload.question_no):
            return
        if payload.scoreboard:
            state.scoreboard = [(line.name, line.score) for line in payload.scoreboard]
        if payload.verdict == Verdict.CLOSE:
            if not state.is_group and state.phase == Phase.JUDGING:
                state.phase = Phase.ASKING
                state.awaiting = None
            self._send(keys.close_key(self._tag, payload.question_no, self._event_tag),
                       rendering.close_text(group=state.is_group, name=payload.player_name))
            return
        if not payload.closed:
            return  # group: a wrong (or, in "all" mode, a right) answer; the question stays open
        question = state.questions[payload.question_no]
        if not state.is_group:
            state.score = payload.score
        state.awaiting = None
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
            self._finish(keys.idle_stop_key(state.game_id))
        elif step == NextStep.ASK_NEXT and payload.next_question_no is not None:
            state.current_no = payload.next_question_no
            self._ask(now)
        elif step == NextStep.SUMMARY and payload.summary is not None:
            self._show_summary(payload.summary)
        else:
            state.phase = Phase.JUDGING  # the game-over event will say; no question is open meanwhile

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
        if summary.scoreboard:
            state.scoreboard = [(line.name, line.score) for line in summary.scoreboard]
        self._send(keys.notice_key(self._tag, keys.Notice.SUMMARY),
                   rendering.summary_text(summary, group=state.is_group, scoreboard=state.scoreboard))
        self._log("game over, score %d", summary.score)
        self._end()

    def _request_failed(self, payload: RequestFailed, now: float) -> None:
        state = self.state
        finishing = state.awaiting is not None and state.awaiting.call.kind == CallKind.FINISH
        if finishing and payload.question_no is None:
            self._log("finishing the game failed (%s): ending the session", payload.code)
            self._end()
        elif state.phase == Phase.CREATING:
            self._send(keys.start_failed_key(self._event_tag), texts.render("start_failed", reason=payload.message))
            self._end()
        elif (state.phase == Phase.JUDGING and payload.question_no == state.current_no and not state.is_group
              and not finishing):
            state.phase = Phase.ASKING
            state.awaiting = None
            if payload.code not in {"duplicate"}:
                self._send(keys.failed_key(self._tag, state.current_no, self._event_tag),
                           texts.render("answer_failed", reason=payload.message))


def new_session(chat_id: int, player: Player) -> GameSession:
    """A session for a chat's new game (before its /play is handled)."""
    return GameSession(SessionState(chat_id=chat_id, player=player))


__all__ = ["ApiRequest", "Effects", "GameOptions", "GameSession", "TimeoutCommand", "new_session"]
