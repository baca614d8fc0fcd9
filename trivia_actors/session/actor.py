"""The game session actor: one per game in a chat; it owns the game's view, the flow and the chat's messages.

The worker is the authority on verdicts and points; the session shows questions, forwards answers to the
API, and renders each result. Everything it shows goes through the outbox, in order, keyed so a question's
message can later be edited into its reveal (fewer messages, within Telegram's limits).
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import attrs
import pykka

from schema.events import (
    AnswerEvaluated,
    GameCreated,
    GameFinished,
    GameSummary,
    HintCreated,
    QuestionView,
    RequestFailed,
)
from trivia_actors.session import texts
from trivia_actors.session.messages import (
    AnswerGiven,
    HintAsked,
    Player,
    QuestionTimedOut,
    ResultArrived,
    ResultOverdue,
    ScoreAsked,
    SessionEnded,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
)
from trivia_actors.session.ports import (
    ApiAccepted,
    ApiRefused,
    Button,
    CommandSink,
    GameApi,
    Keyboard,
    OutboundOp,
    TelegramOutbox,
)
from trivia_actors.session.store import SaveSession

logger = logging.getLogger(__name__)

# An accepted call with no result after this long is made again (same key): the API then produces it again.
RESULT_WATCHDOG_S = 20.0
# Refusals that mean "not now" (the API unreachable, busy, or its broker or database down): the player is asked to
# send the command again, not told the API's reason (written for API clients).
RETRY_LATER_STATUSES = frozenset({0, 429, 502, 503, 504})


@attrs.define
class SessionState:
    """What a session knows about its game; plain data, so it can be snapshotted and restored."""

    chat_id: int
    player: Player  # who started the game (the only player of a solo game)
    phase: str = "creating"  # creating -> asking <-> judging (solo) -> finished
    mode: str = "solo"
    question_type: str = "buttons"  # buttons | text | poll
    game_id: str | None = None
    game_tag: str = ""
    category: str | None = None
    questions: list[QuestionView] = attrs.field(factory=list)
    current_no: int = 0
    score: int = 0
    time_limit_s: float = 30.0
    deadline: float | None = None  # wall-clock (epoch seconds) end of the open question
    answered: list[int] = attrs.field(factory=list)  # group: who answered the open question
    idle_timeouts: int = 0  # questions in a row that nobody answered
    idle_limit: int = 3
    scoreboard: list[list[Any]] = attrs.field(factory=list)  # group: [name, score] best first
    handled_events: list[str] = attrs.field(factory=list)
    pending_calls: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # in flight, re-issued after a restart
    awaiting: dict[str, Any] | None = None  # the accepted call whose result the session waits for, and since when

    @property
    def is_group(self) -> bool:
        """True for a game that every member of a group chat can play."""
        return self.mode == "group"

    def to_snapshot(self) -> dict[str, Any]:
        """The state as a JSON-ready document."""
        document = attrs.asdict(self, recurse=False)
        document["player"] = attrs.asdict(self.player)
        document["questions"] = [{**attrs.asdict(q), "options": list(q.options)} for q in self.questions]
        document["answered"] = list(self.answered)
        document["scoreboard"] = [list(line) for line in self.scoreboard]
        document["handled_events"] = list(self.handled_events)
        document["pending_calls"] = {k: dict(v) for k, v in self.pending_calls.items()}
        document["v"] = 2
        return document

    @classmethod
    def from_snapshot(cls, document: dict[str, Any]) -> SessionState:
        """Rebuild the state saved by :meth:`to_snapshot`."""
        values = {k: v for k, v in document.items() if k != "v"}
        values["player"] = Player(**document["player"])
        values["questions"] = [QuestionView(**{**q, "options": tuple(q["options"])}) for q in document["questions"]]
        return cls(**values)


def answer_keyboard(tag: str, question: QuestionView) -> Keyboard:
    """One button per option, callback data ``a:<tag>:<question>:<option>`` (well under 64 bytes)."""
    return tuple(
        (Button(text=option[:100], data=f"a:{tag}:{question.no}:{index}"),)
        for index, option in enumerate(question.options)
    )


def question_text(question: QuestionView, total: int) -> str:
    """The question as shown in the chat."""
    return texts.render(
        "question",
        no=question.no + 1,
        total=total,
        category=question.category.replace("_", " ").title(),
        difficulty=question.difficulty,
        text=question.text,
    )


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
        if self.state.phase == "asking":
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
        if awaiting is None or not self._still_awaiting(awaiting):
            return
        remaining = max(float(awaiting["since"]) + RESULT_WATCHDOG_S - self.clock(), 0.0)
        self._watchdog = threading.Timer(remaining, self._tell_self, args=(ResultOverdue(key=awaiting["key"]),))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _still_awaiting(self, call: dict[str, Any]) -> bool:
        state = self.state
        if call["kind"] == "create":
            return state.phase == "creating"
        return (call["kind"] in {"answer", "timeout"} and state.phase == "judging"
                and state.game_id == call["game_id"] and state.current_no == call["question_no"])

    def _overdue(self, message: ResultOverdue) -> None:
        awaiting = self.state.awaiting
        if awaiting is None or awaiting["key"] != message.key:
            return
        if not self._still_awaiting(awaiting):
            self.state.awaiting = None
            return
        logger.warning("chat %s game %s: no result for %s after %.0fs; making the call again", self.state.chat_id,
                       self.state.game_id, awaiting["kind"], self.clock() - float(awaiting["since"]))
        if awaiting["kind"] == "timeout":
            self._close_question(int(awaiting["question_no"]))  # the worker closes a question once
        else:
            self._issue({k: v for k, v in awaiting.items() if k != "since"})

    # --- timers -----------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        """(Re)arm the open question's timer for the time left until its deadline."""
        self._cancel_timer()
        if self.state.deadline is None or self.state.game_id is None:
            return
        remaining = max(self.state.deadline - self.clock(), 0.0)
        message = QuestionTimedOut(game_id=self.state.game_id, question_no=self.state.current_no)
        self._timer = threading.Timer(remaining, self._fire, args=(message,))
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, message: QuestionTimedOut) -> None:
        self._tell_self(message)

    def _tell_self(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            logger.debug("timer fired after the session stopped")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, message: QuestionTimedOut) -> None:
        state = self.state
        if message.game_id != state.game_id or message.question_no != state.current_no or state.phase != "asking":
            return  # a stale timer: the question was answered or the game moved on
        self._close_question(message.question_no)

    def _close_question(self, question_no: int) -> None:
        """Ask the worker to reveal the open question (its time ran out, or it was skipped)."""
        state = self.state
        if self.commands is None or state.game_id is None:
            return
        self._log("question %d closed by the timer", question_no)
        state.phase = "judging"
        self._cancel_timer()
        self.commands.question_timed_out(game_id=state.game_id, chat_id=state.chat_id, subject=state.player.subject,
                                         question_no=question_no)
        state.awaiting = {"kind": "timeout", "key": f"timeout:{state.game_id}:{question_no}",
                          "game_id": state.game_id, "question_no": question_no, "since": self.clock()}
        self._arm_watchdog()

    # --- dispatch ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if message == "state":
            return attrs.evolve(self.state)
        if message == "passivate":
            # Only a quiet session may sleep: its snapshot is saved and no API call is in flight.
            if self.state.pending_calls or self._saved != self.state.to_snapshot():
                return False
            self._cancel_timer()
            return self.state.deadline if self.state.phase == "asking" else None
        completion = message.completion if isinstance(message, ResultArrived) else None
        try:
            self._handle(message)
        finally:
            saved = self._commit()
            if completion is not None:
                if saved:
                    completion.done()
                else:
                    completion.fail("session snapshot not saved", retryable=True)
        return None

    def _handle(self, message: Any) -> None:
        if isinstance(message, StartGame):
            self._start(message)
        elif isinstance(message, AnswerGiven):
            self._answer(message.player, message.question_no, message.option, None,
                         f"tg-answer:{self.state.game_id}:{message.question_no}:{message.player.telegram_id}",
                         tag=message.game_tag)
        elif isinstance(message, TextGiven):
            self._answer(message.player, self.state.current_no, None, message.text[:500],
                         f"tg-text:{self.state.chat_id}:{message.update_id}", tag=self.state.game_tag)
        elif isinstance(message, ResultOverdue):
            self._overdue(message)
        elif isinstance(message, QuestionTimedOut):
            self._timed_out(message)
        elif isinstance(message, HintAsked):
            self._hint(message)
        elif isinstance(message, SkipAsked):
            if self.state.phase == "asking" and self._may_steer(message.player, message.is_admin):
                self._close_question(self.state.current_no)
        elif isinstance(message, ScoreAsked):
            self._score(message)
        elif isinstance(message, StopGame):
            self._stop_game(message)
        elif isinstance(message, ResultArrived):
            self._result(message)
        elif isinstance(message, ApiAccepted):
            self._accepted(message)
        elif isinstance(message, ApiRefused):
            self._refused(message)

    def _log(self, text: str, *args: Any) -> None:
        logger.info("chat %s game %s: " + text, self.state.chat_id, self.state.game_id, *args)

    @property
    def _key_prefix(self) -> str:
        return self.state.game_tag or "new"

    def _may_steer(self, player: Player, is_admin: bool) -> bool:
        """In a group only the starter or a chat admin may skip or stop; in a solo game the player."""
        return player.telegram_id == self.state.player.telegram_id or (self.state.is_group and is_admin)

    # --- output: snapshot and Telegram calls, committed together ----------------------------------

    def _send(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self._ops.append(OutboundOp(kind="send", chat_id=self.state.chat_id, key=key, text=text, keyboard=keyboard))

    def _edit(self, key: str, text: str, keyboard: Keyboard = ()) -> None:
        self._ops.append(OutboundOp(kind="edit", chat_id=self.state.chat_id, key=key, text=text, keyboard=keyboard))

    def _commit(self) -> bool:
        """Save the snapshot with the ops decided while handling a message, then deliver the new ops."""
        ops, self._ops = self._ops, []
        if self.store is None:
            if ops:
                self.outbox.deliver(ops)
            return True
        snapshot = self.state.to_snapshot()
        if not ops and snapshot == self._saved:
            return True
        try:
            new_ops = cast(list[OutboundOp], self.store.ask(
                SaveSession(chat_id=self.state.chat_id, game_id=self.state.game_id, phase=self.state.phase,
                            snapshot=snapshot, ops=tuple(ops)),
                timeout=10,
            ))
        except Exception as exc:  # noqa: BLE001 - the player still gets the reply; the event is redelivered
            logger.warning("chat %s: snapshot not saved: %s", self.state.chat_id, type(exc).__name__)
            if ops:
                self.outbox.deliver(ops)
            return False
        self._saved = snapshot
        if new_ops:
            self.outbox.deliver(new_ops)
        return True

    # --- API calls --------------------------------------------------------------------------------

    def _issue(self, call: dict[str, Any]) -> None:
        """Make (or repeat) an API call described by plain data, so it survives in the snapshot."""
        key = call["key"]
        self.state.pending_calls[key] = call
        kind = call["kind"]
        subject = call.get("subject", self.state.player.subject)
        if kind == "create":
            self.api.create_game(chat_id=self.state.chat_id, subject=self.state.player.subject,
                                 name=self.state.player.name, telegram_id=self.state.player.telegram_id,
                                 options=call["options"], idempotency_key=key, reply_to=self.actor_ref)
        elif kind == "answer":
            self.api.submit_answer(game_id=call["game_id"], subject=subject, name=call.get("name", ""),
                                   question_no=call["question_no"], option=call["option"], text=call["text"],
                                   idempotency_key=key, reply_to=self.actor_ref)
        elif kind == "hint":
            self.api.request_hint(game_id=call["game_id"], subject=subject, question_no=call["question_no"],
                                  idempotency_key=key, reply_to=self.actor_ref)
        elif kind == "finish":
            self.api.finish_game(game_id=call["game_id"], subject=subject, idempotency_key=key,
                                 reply_to=self.actor_ref)

    # --- Telegram input ---------------------------------------------------------------------------

    def _start(self, message: StartGame) -> None:
        state = self.state
        state.category = message.category
        state.mode = message.mode
        state.question_type = message.question_type
        state.idle_limit = message.idle_limit
        label = message.topic or (message.category or "").replace("_", " ")
        suffix = f" ({label})" if label else ""
        self._send(f"prep:{message.update_id}", texts.render("preparing", category=suffix))
        options: dict[str, Any] = {"category": message.category, "question_count": message.question_count,
                                   "mode": message.mode, "difficulty": message.difficulty,
                                   "time_limit_s": message.time_limit_s, "answer_mode": message.answer_mode,
                                   "streak_enabled": message.streak_enabled,
                                   "speed_points": message.speed_points,
                                   "difficulty_weighted": message.difficulty_weighted,
                                   "hint_penalty_pct": message.hint_penalty_pct,
                                   "topic": message.topic,
                                   "question_type": message.question_type}
        self._issue({"kind": "create", "options": {k: v for k, v in options.items() if v is not None},
                     "key": f"tg-play:{state.chat_id}:{message.update_id}"})

    def _answer(self, player: Player, question_no: int, option: int | None, text: str | None, key: str, *,
                tag: str) -> None:
        state = self.state
        if (
            state.phase != "asking"
            or state.game_id is None
            or tag != state.game_tag
            or question_no != state.current_no
            or (not state.is_group and player.telegram_id != state.player.telegram_id)
            or (state.is_group and option is not None and player.telegram_id in state.answered)
        ):
            self._log("ignored a stale, repeated or foreign answer to question %s", question_no)
            return
        if state.is_group:
            if option is not None:
                state.answered.append(player.telegram_id)
        else:
            state.phase = "judging"
        self._issue({"kind": "answer", "game_id": state.game_id, "question_no": question_no, "option": option,
                     "text": text, "key": key, "subject": player.subject, "name": player.name})

    def _hint(self, message: HintAsked) -> None:
        state = self.state
        if state.phase != "asking" or state.game_id is None:
            return
        if not state.is_group and message.player.telegram_id != state.player.telegram_id:
            return
        self._issue({"kind": "hint", "game_id": state.game_id, "question_no": state.current_no,
                     "key": f"tg-hint:{state.chat_id}:{message.update_id}", "subject": state.player.subject})

    def _score(self, message: ScoreAsked) -> None:
        state = self.state
        if state.is_group and state.scoreboard:
            text = texts.raw("scoreboard_title") + "\n" + scoreboard_lines(state.scoreboard)
        else:
            text = texts.render("score", score=state.score, no=state.current_no + 1, total=len(state.questions))
        self._send(f"score:{message.update_id}", text)

    def _stop_game(self, message: StopGame) -> None:
        state = self.state
        if state.game_id is None or state.phase == "finished":
            return
        if not self._may_steer(message.player, message.is_admin):
            self._send(f"stop-refused:{message.update_id}", texts.render("stop_refused"))
            return
        self._cancel_timer()
        self._issue({"kind": "finish", "game_id": state.game_id, "key": f"tg-stop:{state.game_id}",
                     "subject": state.player.subject})

    # --- API replies ------------------------------------------------------------------------------

    def _accepted(self, message: ApiAccepted) -> None:
        call = self.state.pending_calls.pop(message.key, None)
        if call is not None and self._still_awaiting(call):
            self.state.awaiting = {**call, "since": self.clock()}
            self._arm_watchdog()
        if message.kind == "game.create" and self.state.game_id is None:
            self.state.game_id = message.game_id
            self.state.game_tag = message.game_id.replace("-", "")[:8]
            self._log("game requested (request %s)", message.request_id)

    def _refused(self, message: ApiRefused) -> None:
        self._log("API refused %s: %s %s", message.kind, message.status, message.code)
        self.state.pending_calls.pop(message.key, None)
        if message.kind == "game.create":
            # Keyed by the /play (the ledger sends a key once per chat): a later refused /play is answered too.
            text = texts.render("start_busy") if message.status in RETRY_LATER_STATUSES else texts.render(
                "start_failed", reason=message.message)
            self._send(f"start-failed:{message.key}", text)
            self._end()
        elif message.kind == "answer.submit" and self.state.phase == "judging":
            self.state.phase = "asking"
            self._arm_timer()
            self._send(f"answer-failed:{self.state.current_no}:{message.key[-12:]}",
                       texts.render("answer_failed", reason=message.message))

    # --- results ----------------------------------------------------------------------------------

    def _result(self, message: ResultArrived) -> None:
        event = message.event
        state = self.state
        if event.event_id in state.handled_events:
            return
        if state.game_id is None and isinstance(event.payload, GameCreated) and state.phase == "creating":
            # The result can beat the API's 202 to us: adopt the game created for this chat.
            state.game_id = event.game_id
            state.game_tag = event.game_id.replace("-", "")[:8]
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
            if payload.question_no == state.current_no and state.phase in {"asking", "judging"}:
                self._send(f"{self._key_prefix}:hint:{payload.question_no}:{payload.hints_used}",
                           texts.render("hint", hint=payload.hint))
        elif isinstance(payload, RequestFailed):
            self._request_failed(payload)

    def _game_created(self, payload: GameCreated) -> None:
        if self.state.phase != "creating":
            return
        self.state.questions = list(payload.questions)
        self.state.current_no = 0
        self.state.time_limit_s = payload.time_limit_s
        self._log("game created with %d questions", len(payload.questions))
        self._ask()

    def _ask(self) -> None:
        state = self.state
        question = state.questions[state.current_no]
        state.phase = "asking"
        state.answered = []
        state.deadline = self.clock() + state.time_limit_s
        self._arm_timer()
        if state.question_type == "poll" and question.correct_option is not None:
            # A native quiz poll: Telegram shows each voter whether they were right; the worker still scores.
            title = f"{question.no + 1}/{len(state.questions)} · {question.text}"
            self._ops.append(OutboundOp(
                kind="poll", chat_id=state.chat_id, key=f"{self._key_prefix}:p:{question.no}", text=title,
                options=question.options, correct_option=question.correct_option,
                open_period=max(5, min(600, round(state.time_limit_s))),
            ))
            return
        text = question_text(question, len(state.questions))
        if state.question_type == "text":
            text += texts.render("time_left_text", seconds=round(state.time_limit_s))
            self._send(f"{self._key_prefix}:q:{question.no}", text)
            return
        text += texts.render("time_left_group" if state.is_group else "time_left", seconds=round(state.time_limit_s))
        self._send(f"{self._key_prefix}:q:{question.no}", text, answer_keyboard(state.game_tag, question))

    def _evaluated(self, payload: AnswerEvaluated) -> None:
        state = self.state
        if payload.question_no != state.current_no or state.phase == "finished":
            return
        if payload.scoreboard:
            state.scoreboard = [[line.name, line.score] for line in payload.scoreboard]
        if payload.verdict == "close":
            if not state.is_group:
                state.phase = "asking"
                self._arm_timer()
            self._send(f"{self._key_prefix}:close:{payload.question_no}:{self._event_tag}",
                       texts.render("close_named" if state.is_group else "close", name=payload.player_name))
            return
        if not payload.closed:
            return  # group: a wrong (or, in "all" mode, a right) answer; the question stays open
        question = state.questions[payload.question_no]
        if not state.is_group:
            state.score = payload.score
        self._cancel_timer()
        state.idle_timeouts = state.idle_timeouts + 1 if payload.verdict == "timeout" and not state.answered else 0
        if state.question_type == "poll":
            self._send(f"{self._key_prefix}:r:{question.no}", self._reveal(question, payload))
        else:
            self._edit(f"{self._key_prefix}:q:{question.no}", self._reveal(question, payload))
        if payload.next_question_no is not None and state.idle_timeouts >= state.idle_limit > 0:
            self._log("nobody answered %d questions in a row: stopping", state.idle_timeouts)
            self._send(f"{self._key_prefix}:idle", texts.render("idle_stop"))
            self._issue({"kind": "finish", "game_id": state.game_id, "key": f"tg-idle:{state.game_id}",
                         "subject": state.player.subject})
            state.phase = "judging"
        elif payload.next_question_no is not None:
            state.current_no = payload.next_question_no
            self._ask()
        elif payload.summary is not None:
            self._show_summary(payload.summary)

    def _reveal(self, question: QuestionView, payload: AnswerEvaluated) -> str:
        """The question message once closed: verdict, answer, explanation and (groups) the scoreboard."""
        state = self.state
        reveal = question_text(question, len(state.questions)) + "\n\n"
        if state.is_group:
            if payload.verdict == "correct":
                reveal += texts.render("group_winner", name=payload.player_name, points=payload.points,
                                       answer=payload.correct_answer)
            else:
                reveal += texts.render("group_nobody", answer=payload.correct_answer)
        elif payload.verdict == "correct":
            streak = f" · 🔥 streak {payload.streak}" if payload.streak > 1 else ""
            reveal += texts.render("correct", points=payload.points, streak=streak, score=payload.score)
        else:
            if payload.given:
                reveal += texts.render("your_answer", given=payload.given).lstrip("\n") + "\n"
            key = payload.verdict if payload.verdict in {"late", "timeout"} else "incorrect"
            reveal += texts.render(key, answer=payload.correct_answer, score=payload.score)
        if payload.judged_by == "deepseek" and payload.reason:
            reveal += texts.render("judged_by_ai", reason=payload.reason)
        if payload.explanation:
            reveal += texts.render("explanation", explanation=payload.explanation)
        if state.is_group and state.scoreboard:
            reveal += "\n\n" + scoreboard_lines(state.scoreboard, limit=5)
        return reveal

    def _finished(self, payload: GameFinished) -> None:
        if self.state.phase == "finished":
            return
        if payload.summary.status == "stopped":
            self._send(f"{self._key_prefix}:stopped", texts.render("stopped"))
        self._show_summary(payload.summary)

    def _show_summary(self, summary: GameSummary) -> None:
        state = self.state
        if state.phase == "finished":
            return
        state.phase = "finished"
        if summary.scoreboard:
            state.scoreboard = [[line.name, line.score] for line in summary.scoreboard]
        if state.is_group:
            text = texts.raw("group_summary", board=scoreboard_lines(state.scoreboard) or "—")
        else:
            text = texts.render("summary", score=summary.score, correct=summary.correct_count,
                                total=summary.question_count, streak=summary.best_streak)
        self._send(f"{self._key_prefix}:summary", text)
        self._log("game over, score %d", summary.score)
        self._end()

    def _request_failed(self, payload: RequestFailed) -> None:
        state = self.state
        if state.phase == "creating":
            self._send(f"start-failed:{self._event_tag}", texts.render("start_failed", reason=payload.message))
            self._end()
        elif state.phase == "judging" and payload.question_no == state.current_no and not state.is_group:
            state.phase = "asking"
            self._arm_timer()
            if payload.code not in {"duplicate"}:
                self._send(f"{self._key_prefix}:failed:{state.current_no}:{self._event_tag}",
                           texts.render("answer_failed", reason=payload.message))

    def _end(self) -> None:
        self._cancel_timer()
        self.state.phase = "finished"
        if self.manager is not None:
            self.manager.tell(SessionEnded(chat_id=self.state.chat_id, game_id=self.state.game_id))


def scoreboard_lines(board: list[list[Any]], *, limit: int = 10) -> str:
    """The scoreboard as HTML lines with medals for the top three."""
    medals = ["🥇", "🥈", "🥉"]
    lines = []
    for rank, (name, score) in enumerate(board[:limit]):
        badge = medals[rank] if rank < 3 else f"{rank + 1}."
        lines.append(f"{badge} {html.escape(str(name))} — {int(score)}")
    return "\n".join(lines)
