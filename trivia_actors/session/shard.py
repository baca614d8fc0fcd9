"""A session shard: one actor hosting the game sessions of many chats, with group commit and lazy restore.

The telebot runs K shards; a chat belongs to one (:func:`trivia_actors.session.router.shard_index`), so each
game is still owned by exactly one mailbox and a chat's input is handled in the order it arrived. A session is a
plain :class:`~trivia_actors.session.machine.GameSession`: the shard gives it the input and the time, then
carries out what it decided. Between messages nothing else runs in the shard, so the shard batches:

- **Group commit.** While messages keep coming (up to ``max_batch`` changed chats), the shard only handles them;
  when its mailbox is empty it writes the snapshots and ledger rows of every chat it changed in one transaction
  (:class:`SaveSessions`), and only then sends the Telegram calls, makes the API calls, produces the timeout
  commands and settles the result events that batch decided. A snapshot never lags the calls it decided.
- **Timers.** Each session's next due time (question deadline, result watchdog) is one entry in the process's
  :class:`~trivia_actors.runtime.TimerService`, which delivers due chats to their shard in batches.
- **Sleep and lazy restore.** A quiet session idle for ``passivate_after_s`` leaves memory; only its chat id and
  wake time stay. After a restart every open game starts asleep (the shard is given their wake times); a sleeping
  session is loaded on its next input or when its timer is due.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import pykka

from trivia_actors.rules import CallKind
from trivia_actors.runtime import TRANSIENT_DB_ERRORS, TimerHandle, TimerService
from trivia_actors.session import keys, texts
from trivia_actors.session.machine import ApiRequest, Effects, GameSession
from trivia_actors.session.messages import (
    AnswerGiven,
    ApiAccepted,
    ApiReplied,
    ApiReply,
    Claim,
    GetState,
    HintAsked,
    ListChats,
    LoadMessageIds,
    LoadSession,
    PurgeLedger,
    ResultArrived,
    SaveSessions,
    ScoreAsked,
    SessionKind,
    SessionWrite,
    SkipAsked,
    StartGame,
    StopGame,
    Sweep,
    TextGiven,
    TimersDue,
)
from trivia_actors.session.ports import CommandSink, GameApi, OpKind, OutboundOp, ResultCompletion, TelegramOutbox
from trivia_actors.session.state import SessionState, SnapshotError

logger = logging.getLogger(__name__)

ChatInput = StartGame | AnswerGiven | TextGiven | HintAsked | SkipAsked | ScoreAsked | StopGame

# A commit or a load not done for one of these is done later: the database (or the store in front of it) is
# away for now. Anything else is a bug, which trying again would only meet again.
TRANSIENT_STORE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, pykka.Timeout, pykka.ActorDeadError)
STORE_TIMEOUT_S = 10.0
WAKE_RETRY_S = (0.5, 1.0, 2.0, 5.0)  # a sleeping session the store could not load is tried again after these
HELD_INPUT_LIMIT = 100  # input kept per chat while its session cannot be loaded
LEDGER_RETENTION = dt.timedelta(days=7)  # sent calls and claimed update ids are kept this long
PURGE_EVERY_S = 3600.0


@attrs.define
class _Hosted:
    """A live session and what the shard keeps about it."""

    session: GameSession
    saved: dict[str, Any] | None  # the snapshot last committed (None: never)
    last_active: float


@attrs.define
class _Unsettled:
    """Why a batch's result events could not be settled as done, and whether redelivering them may help."""

    reason: str
    retryable: bool


@attrs.frozen
class _Flush:
    """A shard's note to itself: commit what the messages before this one changed."""


class _ShardTimers:
    """The timer service's target for one shard: a batch of due chats becomes one message."""

    def __init__(self, ref: pykka.ActorRef[Any]) -> None:
        self.ref = ref

    def timers_due(self, items: list[Any]) -> None:
        try:
            self.ref.tell(TimersDue(chat_ids=tuple(items)))
        except pykka.ActorDeadError:
            logger.debug("timers fired for a stopped shard")


class SessionShardActor(pykka.ThreadingActor):
    """Hosts the sessions of the chats routed to shard ``index``."""

    def __init__(self, index: int, *, outbox: TelegramOutbox, api: GameApi, timers: TimerService,
                 commands: CommandSink | None = None, store: pykka.ActorRef[Any] | None = None,
                 asleep: Mapping[int, float | None] | None = None, passivate_after_s: float = 60.0,
                 max_batch: int = 256, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.index = index
        self.outbox = outbox
        self.api = api
        self.timers = timers
        self.commands = commands
        self.store = store
        self.passivate_after_s = passivate_after_s
        self.max_batch = max_batch
        self.clock = clock
        self.sessions: dict[int, _Hosted] = {}
        self.asleep: dict[int, float | None] = dict(asleep or {})  # chat -> wake time
        self._timer_of: dict[int, tuple[float, TimerHandle]] = {}
        self._held: dict[int, list[ChatInput | ApiReplied]] = {}  # input for chats that could not be loaded
        self._wake_failures: dict[int, int] = {}
        self._changed: dict[int, None] = {}  # chats changed since the last commit, in order
        # Chats changed but not committed (a failed commit, or only an accepted call): the next sweep commits them.
        self._unsaved: set[int] = set()
        self._completions: list[ResultCompletion] = []
        self._flush_queued = False
        self._target: _ShardTimers | None = None
        self._sweeper: TimerHandle | None = None
        self._last_purge = -math.inf

    # --- lifecycle --------------------------------------------------------------------------------

    def on_start(self) -> None:
        self._target = _ShardTimers(self.actor_ref)
        for chat_id, wake_at in self.asleep.items():
            if wake_at is not None:
                self._schedule(chat_id, wake_at)
        self._schedule_sweep()
        logger.info("session shard %d: %d sessions asleep", self.index, len(self.asleep))

    def on_stop(self) -> None:
        for chat_id in self._unsaved:
            self._changed[chat_id] = None
        self._commit()
        self._cancel_timers()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("session shard %d failed: %s", self.index, exception_value)
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for _due, handle in self._timer_of.values():
            handle.cancel()
        self._timer_of.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()

    def _schedule(self, chat_id: int, due: float | None) -> None:
        """Keep one timer per chat, at its session's next due time."""
        current = self._timer_of.get(chat_id)
        if current is not None and current[0] == due:
            return
        if current is not None:
            current[1].cancel()
            del self._timer_of[chat_id]
        if due is not None and self._target is not None:
            self._timer_of[chat_id] = (due, self.timers.schedule(due, self._target, chat_id))

    def _schedule_sweep(self) -> None:
        interval = max(min(self.passivate_after_s / 4, 5.0), 0.05)
        ref = self.actor_ref

        def sweep() -> None:
            try:
                ref.tell(Sweep())
            except pykka.ActorDeadError:
                logger.debug("sweep for a stopped shard")

        self._sweeper = self.timers.call_later(interval, sweep)

    # --- dispatch ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        reply: Any = None
        try:
            reply = self._dispatch(message)
        except Exception as exc:
            # A bug. A told message must not stop the shard (pykka would, and every chat of the shard with it);
            # a result event is refused for good: handling it again would fail again.
            logger.exception("session shard %d: handling %s failed", self.index, type(message).__name__)
            if isinstance(message, ResultArrived):
                message.completion.fail(f"session failed: {type(exc).__name__}", retryable=False)
        if isinstance(message, _Flush):
            self._flush_queued = False
            self._commit()
        elif self.actor_inbox.empty() or len(self._changed) >= self.max_batch:
            self._commit()
        elif (self._changed or self._completions) and not self._flush_queued:
            # More messages wait: handle them first and commit them together, but surely, even if what waits
            # is only pykka's own (which does not pass through here).
            self._flush_queued = True
            self.actor_ref.tell(_Flush())
        return reply

    def _dispatch(self, message: Any) -> Any:
        match message:
            case StartGame():
                self._start(message)
            case AnswerGiven() | TextGiven() | HintAsked() | SkipAsked() | ScoreAsked() | StopGame():
                self._route(message)
            case ResultArrived():
                self._result(message)
            case ApiReplied():
                self._api_replied(message)
            case TimersDue():
                self._timers_due(message.chat_ids)
            case Sweep():
                self._sweep()
            case _Flush():
                pass
            case GetState():
                self._commit()  # answer from what is committed (and forgotten, for a finished game)
                hosted = self.sessions.get(message.chat_id)
                return None if hosted is None else SessionState.from_snapshot(hosted.session.state.to_snapshot())
            case ListChats(kind=SessionKind.PASSIVE):
                self._commit()
                return sorted(self.asleep)
            case ListChats():
                self._commit()
                return sorted(self.sessions)
            case _:
                logger.warning("session shard %d: unexpected message %s", self.index, type(message).__name__)
        return None

    # --- finding a chat's session -----------------------------------------------------------------

    def _live(self, chat_id: int) -> _Hosted | None:
        """The chat's session, woken from its snapshot if it sleeps; None if the chat has none (or it could
        not be loaded: then ``chat_id`` is in ``_held``)."""
        hosted = self.sessions.get(chat_id)
        if hosted is None and chat_id in self.asleep:
            hosted = self._wake(chat_id)
        if hosted is not None:
            hosted.last_active = self.clock()
        return hosted

    def _wake(self, chat_id: int) -> _Hosted | None:
        if self.store is None:
            self.asleep.pop(chat_id, None)
            return None
        try:
            document = cast(dict[str, Any] | None, self.store.ask(LoadSession(chat_id=chat_id),
                                                                  timeout=STORE_TIMEOUT_S))
            message_ids = cast(dict[tuple[int, str], int], self.store.ask(LoadMessageIds(chat_ids=(chat_id,)),
                                                                           timeout=STORE_TIMEOUT_S))
        except TRANSIENT_STORE_ERRORS as exc:
            failures = self._wake_failures.get(chat_id, 0)
            self._wake_failures[chat_id] = failures + 1
            delay = WAKE_RETRY_S[min(failures, len(WAKE_RETRY_S) - 1)]
            logger.warning("chat %s: session not loaded (%s); trying again in %.1fs", chat_id, type(exc).__name__,
                           delay)
            self._held.setdefault(chat_id, [])
            self._schedule(chat_id, self.clock() + delay)
            return None
        self._wake_failures.pop(chat_id, None)
        self.asleep.pop(chat_id, None)
        if document is None:
            return None  # finished meanwhile
        try:
            state = SessionState.from_snapshot(document)
        except (SnapshotError, TypeError, KeyError, ValueError):
            logger.exception("chat %s: the session's snapshot cannot be read; the chat's game is dropped", chat_id)
            return None
        now = self.clock()
        self.outbox.remember(message_ids)
        hosted = _Hosted(session=GameSession(state), saved=document, last_active=now)
        self.sessions[chat_id] = hosted
        hosted.session.resume(now)
        self._changed[chat_id] = None
        return hosted

    def _hold(self, chat_id: int, message: ChatInput | ApiReplied) -> bool:
        """Keep input for a chat whose session could not be loaded, to handle it once it is (in order)."""
        held = self._held.get(chat_id)
        if held is None:
            return False
        if len(held) < HELD_INPUT_LIMIT:
            held.append(message)
        else:
            logger.warning("chat %s: input dropped, %d already wait for the session to load", chat_id, len(held))
        return True

    # --- Telegram input ---------------------------------------------------------------------------

    def _start(self, message: StartGame) -> None:
        chat_id = message.chat_id
        if self._hold(chat_id, message):
            return
        running = self._live(chat_id)
        if (running is None and self._hold(chat_id, message)) or not self._first_time(message.update_id):
            return
        if running is not None:
            self._say(chat_id, keys.reply_key(keys.Reply.BUSY, message.update_id), texts.render("already_playing"))
            return
        now = self.clock()
        hosted = _Hosted(session=GameSession(SessionState(chat_id=chat_id, player=message.player)), saved=None,
                         last_active=now)
        self.sessions[chat_id] = hosted
        self._changed[chat_id] = None  # first: what a failing handler decided before failing is committed too
        hosted.session.handle(message, now)

    def _route(self, message: AnswerGiven | TextGiven | HintAsked | SkipAsked | ScoreAsked | StopGame) -> None:
        """To the chat's session; a game command with no game gets "no game" (once per update)."""
        chat_id = message.chat_id
        if self._hold(chat_id, message):
            return
        hosted = self._live(chat_id)
        if hosted is not None:
            self._changed[chat_id] = None
            hosted.session.handle(message, self.clock())
        elif self._hold(chat_id, message):
            return
        elif isinstance(message, StopGame | HintAsked | SkipAsked | ScoreAsked) and self._first_time(
            message.update_id
        ):
            self._say(chat_id, keys.reply_key(keys.Reply.NO_GAME, message.update_id), texts.render("no_game"))

    def _first_time(self, update_id: int) -> bool:
        """True unless this Telegram update was handled before (updates are redelivered after a crash)."""
        if self.store is None:
            return True
        try:
            return bool(self.store.ask(Claim(key=keys.update_claim(update_id)), timeout=STORE_TIMEOUT_S))
        except TRANSIENT_STORE_ERRORS as exc:
            logger.warning("update %d: could not check for a replay (%s); handling it", update_id, type(exc).__name__)
            return True
        except Exception:
            logger.exception("update %d: checking for a replay failed; handling it", update_id)
            return True

    def _say(self, chat_id: int, key: str, text: str) -> None:
        self.outbox.deliver([OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=key, text=text)])

    # --- results, replies and timers --------------------------------------------------------------

    def _result(self, message: ResultArrived) -> None:
        chat_id = message.event.chat_id
        if chat_id is None:
            message.completion.done()  # not a game of this bot: an API client's
            return
        if chat_id in self._held:
            message.completion.fail("session not loaded", retryable=True)
            return
        hosted = self._live(chat_id)
        if hosted is None:
            if chat_id in self._held:
                message.completion.fail("session not loaded", retryable=True)
            else:
                message.completion.done()  # a game that already ended
            return
        self._changed[chat_id] = None
        hosted.session.result(message.event, self.clock())
        self._completions.append(message.completion)

    def _api_replied(self, message: ApiReplied) -> None:
        chat_id = message.chat_id
        if self._hold(chat_id, message):
            return
        hosted = self._live(chat_id)
        if hosted is None:
            if not self._hold(chat_id, message):
                logger.debug("chat %s: %s for a game that has ended; dropped", chat_id, type(message.reply).__name__)
            return
        was_changed = chat_id in self._changed
        self._changed[chat_id] = None
        hosted.session.handle(message.reply, self.clock())
        if isinstance(message.reply, ApiAccepted) and not was_changed and not hosted.session.effects:
            # An accepted call needs no commit of its own (one transaction less per answer): lost in a crash,
            # the call is made again with the same key, to the same effect. The next commit or sweep writes it.
            del self._changed[chat_id]
            self._unsaved.add(chat_id)

    def _timers_due(self, chat_ids: tuple[int, ...]) -> None:
        now = self.clock()
        for chat_id in chat_ids:
            entry = self._timer_of.get(chat_id)
            if entry is not None and entry[0] <= now + 0.01:
                del self._timer_of[chat_id]
            if chat_id in self._held:
                self._retry_wake(chat_id)
                continue
            hosted = self.sessions.get(chat_id)
            if hosted is None:
                if chat_id in self.asleep:
                    self._wake(chat_id)  # resuming applies what is due
                continue
            self._changed[chat_id] = None
            hosted.session.due(now)

    def _retry_wake(self, chat_id: int) -> None:
        held = self._held.pop(chat_id)
        if self._wake(chat_id) is None and chat_id in self._held:
            self._held[chat_id] = held + self._held[chat_id]
            return
        for message in held:
            if isinstance(message, ApiReplied):
                self._api_replied(message)
            elif isinstance(message, StartGame):
                self._start(message)
            else:
                self._route(message)

    def _sweep(self) -> None:
        """Put idle, quiet, committed sessions to sleep (their timers stay, pointing at the sleeping chat)."""
        now = self.clock()
        for chat_id in self._unsaved:
            self._changed[chat_id] = None
        if self.store is not None:
            for chat_id, hosted in list(self.sessions.items()):
                if (now - hosted.last_active < self.passivate_after_s or not hosted.session.quiet
                        or chat_id in self._changed):
                    continue
                del self.sessions[chat_id]
                self.asleep[chat_id] = hosted.session.next_due()
            if self.index == 0 and now - self._last_purge >= PURGE_EVERY_S:
                self._last_purge = now
                self.store.tell(PurgeLedger(older_than=LEDGER_RETENTION))
        self._schedule_sweep()

    # --- the group commit -------------------------------------------------------------------------

    def _commit(self) -> None:
        """Write every changed chat's snapshot and new calls in one transaction, then carry out what they
        decided, then settle the result events handled since the last commit."""
        if not self._changed and not self._completions:
            return
        changed, self._changed = list(self._changed), {}
        completions, self._completions = self._completions, []
        now = self.clock()
        batch: list[tuple[int, _Hosted, Effects, dict[str, Any]]] = []
        writes: list[SessionWrite] = []
        for chat_id in changed:
            hosted = self.sessions.get(chat_id)
            if hosted is None:
                continue
            session = hosted.session
            effects = session.take_effects()
            snapshot = session.state.to_snapshot()
            batch.append((chat_id, hosted, effects, snapshot))
            if effects.ops or snapshot != hosted.saved:
                writes.append(SessionWrite(chat_id=chat_id, game_id=session.state.game_id, phase=session.state.phase,
                                           snapshot=snapshot, wake_at=session.wake_at(now), ops=tuple(effects.ops)))
        unsettled = None
        if self.store is None or not writes:
            ops = [op for _chat, _hosted, effects, _snapshot in batch for op in effects.ops]
            self._saved(batch)
        else:
            ops, unsettled = self._save(writes, batch)
        if ops:
            self.outbox.deliver(ops)
        for chat_id, hosted, effects, _snapshot in batch:
            self._carry_out(hosted.session.state, effects)
            if hosted.session.finished and chat_id not in self._unsaved:
                self.sessions.pop(chat_id, None)
                self._schedule(chat_id, None)
            else:
                self._schedule(chat_id, hosted.session.next_due())
        for completion in completions:
            if unsettled is None:
                completion.done()
            else:
                completion.fail(unsettled.reason, retryable=unsettled.retryable)

    def _save(self, writes: list[SessionWrite], batch: list[tuple[int, _Hosted, Effects, dict[str, Any]]]
              ) -> tuple[list[OutboundOp], _Unsettled | None]:
        assert self.store is not None
        try:
            new_ops = cast(tuple[tuple[OutboundOp, ...], ...],
                           self.store.ask(SaveSessions(writes=tuple(writes)), timeout=STORE_TIMEOUT_S))
        except TRANSIENT_STORE_ERRORS as exc:
            logger.warning("session shard %d: %d snapshots not saved: %s", self.index, len(writes),
                           type(exc).__name__)
            unsettled = _Unsettled(reason="session snapshot not saved", retryable=True)
        except Exception as exc:
            logger.exception("session shard %d: %d snapshots not saved, and saving them again would fail the same "
                             "way", self.index, len(writes))
            unsettled = _Unsettled(reason=f"session snapshot not saved: {type(exc).__name__}", retryable=False)
        else:
            self._saved(batch)
            return [op for ops in new_ops for op in ops], None
        self._unsaved.update(chat_id for chat_id, _hosted, _effects, _snapshot in batch)
        # The players still get the replies (without a ledger row: the documented window of a database outage).
        return [op for write in writes for op in write.ops], unsettled

    def _saved(self, batch: list[tuple[int, _Hosted, Effects, dict[str, Any]]]) -> None:
        for chat_id, hosted, _effects, snapshot in batch:
            hosted.saved = snapshot
            self._unsaved.discard(chat_id)

    def _carry_out(self, state: SessionState, effects: Effects) -> None:
        for request in effects.api:
            self._call_api(state, request)
        if self.commands is not None:
            for timeout in effects.timeouts:
                self.commands.question_timed_out(game_id=timeout.game_id, chat_id=timeout.chat_id,
                                                 subject=timeout.subject, question_no=timeout.question_no)

    def _call_api(self, state: SessionState, request: ApiRequest) -> None:
        call, wait_s = request.call, request.wait_s
        reply = functools.partial(_tell_reply, self.actor_ref, state.chat_id)
        subject = call.subject or state.player.subject
        match call.kind:
            case CallKind.CREATE if call.options is not None:
                self.api.create_game(chat_id=state.chat_id, subject=state.player.subject, name=state.player.name,
                                     telegram_id=state.player.telegram_id, options=call.options.to_document(),
                                     idempotency_key=call.key, reply=reply, wait_s=wait_s)
            case CallKind.ANSWER if call.game_id is not None and call.question_no is not None:
                self.api.submit_answer(game_id=call.game_id, subject=subject, name=call.name,
                                       question_no=call.question_no, option=call.option, text=call.text,
                                       idempotency_key=call.key, reply=reply, wait_s=wait_s)
            case CallKind.HINT if call.game_id is not None and call.question_no is not None:
                self.api.request_hint(game_id=call.game_id, subject=subject, question_no=call.question_no,
                                      idempotency_key=call.key, reply=reply, wait_s=wait_s)
            case CallKind.FINISH if call.game_id is not None:
                self.api.finish_game(game_id=call.game_id, subject=subject, idempotency_key=call.key, reply=reply,
                                     wait_s=wait_s)
            case _:
                logger.error("chat %s: a %s call without its game cannot be made", state.chat_id, call.kind)


def _tell_reply(ref: pykka.ActorRef[Any], chat_id: int, reply: ApiReply) -> None:
    """The API client's reply sink: to the chat's shard, never raising into the client."""
    try:
        ref.tell(ApiReplied(chat_id=chat_id, reply=reply))
    except pykka.ActorDeadError:
        logger.debug("chat %s: API reply after its shard stopped; dropped", chat_id)

