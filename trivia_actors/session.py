"""The game session actor: one per game in a chat; it owns the game's view, the flow and the chat's messages.

The worker is the authority on verdicts and points; the session shows questions, forwards answers to the
API, and renders each result. Everything it shows goes through the outbox, in order, keyed so a question's
message can later be edited into its reveal (fewer messages, within Telegram's limits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import attrs
import pykka

from schema.events import AnswerEvaluated, GameCreated, GameFinished, HintCreated, QuestionView, RequestFailed
from trivia_actors import texts
from trivia_actors.ports import (
    ApiAccepted,
    ApiRefused,
    Button,
    CommandSink,
    GameApi,
    Keyboard,
    OutboundOp,
    TelegramOutbox,
)
from trivia_actors.session_messages import (
    AnswerGiven,
    Player,
    QuestionTimedOut,
    ResultArrived,
    SessionEnded,
    StartGame,
    StopGame,
    TextGiven,
)
from trivia_actors.session_store import SaveSession

logger = logging.getLogger(__name__)


@attrs.define
class SessionState:
    """What a session knows about its game; plain data, so it can be snapshotted and restored."""

    chat_id: int
    player: Player
    phase: str = "creating"  # creating -> asking <-> judging -> finished
    game_id: str | None = None
    game_tag: str = ""
    category: str | None = None
    questions: list[QuestionView] = attrs.field(factory=list)
    current_no: int = 0
    score: int = 0
    time_limit_s: float = 30.0
    deadline: float | None = None  # wall-clock (epoch seconds) end of the open question
    handled_events: list[str] = attrs.field(factory=list)
    pending_call: dict[str, Any] | None = None  # the API call in flight, re-issued after a restart

    def to_snapshot(self) -> dict[str, Any]:
        """The state as a JSON-ready document."""
        return {
            "v": 1,
            "chat_id": self.chat_id,
            "player": attrs.asdict(self.player),
            "phase": self.phase,
            "game_id": self.game_id,
            "game_tag": self.game_tag,
            "category": self.category,
            "questions": [{**attrs.asdict(q), "options": list(q.options)} for q in self.questions],
            "current_no": self.current_no,
            "score": self.score,
            "time_limit_s": self.time_limit_s,
            "deadline": self.deadline,
            "handled_events": list(self.handled_events),
            "pending_call": self.pending_call,
        }

    @classmethod
    def from_snapshot(cls, document: dict[str, Any]) -> SessionState:
        """Rebuild the state saved by :meth:`to_snapshot`."""
        return cls(
            chat_id=int(document["chat_id"]),
            player=Player(**document["player"]),
            phase=document["phase"],
            game_id=document["game_id"],
            game_tag=document["game_tag"],
            category=document["category"],
            questions=[QuestionView(**{**q, "options": tuple(q["options"])}) for q in document["questions"]],
            current_no=int(document["current_no"]),
            score=int(document["score"]),
            time_limit_s=float(document["time_limit_s"]),
            deadline=document["deadline"],
            handled_events=list(document["handled_events"]),
            pending_call=document.get("pending_call"),
        )


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
    """Runs one game in one chat."""

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
        self._event_tag = ""
        self._ops: list[OutboundOp] = []
        self._saved: dict[str, Any] | None = state.to_snapshot() if restored else None

    def on_start(self) -> None:
        if not self.restored:
            return
        # After a restart: re-issue the API call that may not have reached the API (same idempotency key,
        # so it cannot apply twice), and re-arm the open question's timer for the time it has left.
        self._log("restored in phase %s", self.state.phase)
        if self.state.pending_call is not None:
            self._issue(self.state.pending_call)
        if self.state.phase == "asking":
            self._arm_timer()

    def on_stop(self) -> None:
        self._cancel_timer()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("chat %s game %s: session failed: %s", self.state.chat_id, self.state.game_id, exception_value)
        self._cancel_timer()

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
        if self.commands is None or state.game_id is None:
            return
        self._log("question %d timed out", message.question_no)
        state.phase = "judging"
        self.commands.question_timed_out(game_id=state.game_id, chat_id=state.chat_id, subject=state.player.subject,
                                         question_no=message.question_no)

    # --- dispatch ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if message == "state":
            return attrs.evolve(self.state)
        if message == "passivate":
            # Only a quiet session may sleep: its snapshot is saved and no API call is in flight.
            if self.state.pending_call is not None or self._saved != self.state.to_snapshot():
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
            self._answer(message)
        elif isinstance(message, TextGiven):
            self._typed(message)
        elif isinstance(message, QuestionTimedOut):
            self._timed_out(message)
        elif isinstance(message, StopGame):
            self._stop_game(message)
        elif isinstance(message, ResultArrived):
            self._result(message)
        elif isinstance(message, ApiAccepted):
            self._accepted(message)
        elif isinstance(message, ApiRefused):
            self._refused(message)

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
        self.state.pending_call = call
        kind = call["kind"]
        if kind == "create":
            self.api.create_game(chat_id=self.state.chat_id, subject=self.state.player.subject,
                                 name=self.state.player.name, telegram_id=self.state.player.telegram_id,
                                 category=call["category"], question_count=call["question_count"],
                                 idempotency_key=call["key"], reply_to=self.actor_ref)
        elif kind == "answer":
            self.api.submit_answer(game_id=call["game_id"], subject=self.state.player.subject,
                                   question_no=call["question_no"], option=call["option"], text=call["text"],
                                   idempotency_key=call["key"], reply_to=self.actor_ref)
        elif kind == "finish":
            self.api.finish_game(game_id=call["game_id"], subject=self.state.player.subject,
                                 idempotency_key=call["key"], reply_to=self.actor_ref)

    def _log(self, text: str, *args: Any) -> None:
        logger.info("chat %s game %s: " + text, self.state.chat_id, self.state.game_id, *args)

    @property
    def _key_prefix(self) -> str:
        return self.state.game_tag or "new"

    # --- Telegram input ---------------------------------------------------------------------------

    def _start(self, message: StartGame) -> None:
        self.state.category = message.category
        suffix = f" ({message.category.replace('_', ' ')})" if message.category else ""
        self._send(f"prep:{message.update_id}", texts.render("preparing", category=suffix))
        self._issue({"kind": "create", "category": message.category, "question_count": message.question_count,
                     "key": f"tg-play:{self.state.chat_id}:{message.update_id}"})

    def _answer(self, message: AnswerGiven) -> None:
        state = self.state
        if (
            state.phase != "asking"
            or message.game_tag != state.game_tag
            or message.question_no != state.current_no
            or message.player.telegram_id != state.player.telegram_id
            or state.game_id is None
        ):
            self._log("ignored a stale or foreign answer to question %s", message.question_no)
            return
        state.phase = "judging"
        self._issue({"kind": "answer", "game_id": state.game_id, "question_no": message.question_no,
                     "option": message.option, "text": None, "key": f"tg-answer:{state.game_id}:{message.question_no}"})

    def _typed(self, message: TextGiven) -> None:
        state = self.state
        if state.phase != "asking" or state.game_id is None or message.player.telegram_id != state.player.telegram_id:
            return
        state.phase = "judging"
        self._issue({"kind": "answer", "game_id": state.game_id, "question_no": state.current_no, "option": None,
                     "text": message.text[:500], "key": f"tg-text:{state.chat_id}:{message.update_id}"})

    def _stop_game(self, message: StopGame) -> None:
        if self.state.game_id is None or self.state.phase == "finished":
            return
        self._issue({"kind": "finish", "game_id": self.state.game_id, "key": f"tg-stop:{self.state.game_id}"})

    # --- API replies ------------------------------------------------------------------------------

    def _accepted(self, message: ApiAccepted) -> None:
        self.state.pending_call = None
        if message.kind == "game.create" and self.state.game_id is None:
            self.state.game_id = message.game_id
            self.state.game_tag = message.game_id.replace("-", "")[:8]
            self._log("game requested (request %s)", message.request_id)

    def _refused(self, message: ApiRefused) -> None:
        self._log("API refused %s: %s %s", message.kind, message.status, message.code)
        self.state.pending_call = None
        if message.kind == "game.create":
            self._send("start-failed", texts.render("start_failed", reason=message.message))
            self._end()
        elif message.kind == "answer.submit" and self.state.phase == "judging":
            self.state.phase = "asking"
            self._arm_timer()
            self._send(f"answer-failed:{self.state.current_no}",
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
        state.deadline = self.clock() + state.time_limit_s
        self._arm_timer()
        self._send(f"{self._key_prefix}:q:{question.no}",
            question_text(question, len(state.questions)),
            answer_keyboard(state.game_tag, question),
        )

    def _evaluated(self, payload: AnswerEvaluated) -> None:
        state = self.state
        if payload.question_no != state.current_no or state.phase == "finished":
            return
        question = state.questions[payload.question_no]
        state.score = payload.score
        self._cancel_timer()
        if payload.verdict == "close":
            state.phase = "asking"
            self._arm_timer()
            self._send(f"{self._key_prefix}:close:{payload.question_no}:{self._event_tag}", texts.render("close"))
            return
        if payload.verdict == "correct":
            streak = f" · 🔥 streak {payload.streak}" if payload.streak > 1 else ""
            verdict = texts.render("correct", points=payload.points, streak=streak, score=payload.score)
        else:
            key = payload.verdict if payload.verdict in {"late", "timeout"} else "incorrect"
            verdict = texts.render(key, answer=payload.correct_answer, score=payload.score)
        reveal = question_text(question, len(state.questions)) + "\n\n"
        if payload.given and payload.verdict != "correct":
            reveal += texts.render("your_answer", given=payload.given).lstrip("\n") + "\n"
        reveal += verdict
        if payload.explanation:
            reveal += texts.render("explanation", explanation=payload.explanation)
        self._edit(f"{self._key_prefix}:q:{question.no}", reveal)
        if payload.next_question_no is not None:
            state.current_no = payload.next_question_no
            self._ask()
        elif payload.summary is not None:
            self._show_summary(payload.summary.score, payload.summary.correct_count, payload.summary.question_count,
                               payload.summary.best_streak)

    def _finished(self, payload: GameFinished) -> None:
        if self.state.phase == "finished":
            return
        summary = payload.summary
        if summary.status == "stopped":
            self._send(f"{self._key_prefix}:stopped", texts.render("stopped"))
        self._show_summary(summary.score, summary.correct_count, summary.question_count, summary.best_streak)

    def _show_summary(self, score: int, correct: int, total: int, streak: int) -> None:
        if self.state.phase == "finished":
            return
        self.state.phase = "finished"
        self._send(f"{self._key_prefix}:summary",
                         texts.render("summary", score=score, correct=correct, total=total, streak=streak))
        self._log("game over, score %d", score)
        self._end()

    def _request_failed(self, payload: RequestFailed) -> None:
        state = self.state
        if state.phase == "creating":
            self._send("start-failed", texts.render("start_failed", reason=payload.message))
            self._end()
        elif state.phase == "judging" and payload.question_no == state.current_no:
            state.phase = "asking"
            self._arm_timer()
            if payload.code not in {"duplicate"}:
                self._send(f"{self._key_prefix}:failed:{state.current_no}",
                                 texts.render("answer_failed", reason=payload.message))

    def _end(self) -> None:
        self._cancel_timer()
        self.state.phase = "finished"
        if self.manager is not None:
            self.manager.tell(SessionEnded(chat_id=self.state.chat_id, game_id=self.state.game_id))
