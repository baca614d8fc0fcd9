"""The session manager: one session actor per chat, created on /play, restored after a restart."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pykka

from trivia_actors.rules import flow
from trivia_actors.session import keys, texts
from trivia_actors.session.actor import GameSessionActor
from trivia_actors.session.messages import (
    AnswerGiven,
    Claim,
    HintAsked,
    ListChats,
    LoadPolls,
    LoadSession,
    LoadSessions,
    Passivate,
    Passivated,
    PollAnswered,
    PollSent,
    PurgeLedger,
    ResultArrived,
    ScoreAsked,
    SessionEnded,
    SessionKind,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
    Tick,
)
from trivia_actors.session.ports import CommandSink, GameApi, OpKind, OutboundOp, TelegramOutbox
from trivia_actors.session.state import SessionState

logger = logging.getLogger(__name__)

LEDGER_RETENTION = dt.timedelta(days=7)  # sent calls and claimed update ids are kept this long
PURGE_EVERY_S = 3600.0


class SessionManagerActor(pykka.ThreadingActor):
    """Routes Telegram input and results by chat, starting, stopping and restoring session actors."""

    def __init__(self, *, outbox: TelegramOutbox, api: GameApi, commands: CommandSink | None = None,
                 store: pykka.ActorRef[Any] | None = None, passivate_after_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.outbox = outbox
        self.api = api
        self.commands = commands
        self.store = store
        self.passivate_after_s = passivate_after_s
        self.clock = clock
        self.sessions: dict[int, pykka.ActorRef[Any]] = {}
        self.last_active: dict[int, float] = {}
        # Passivated chats: actor stopped, snapshot kept; the value is when its timer must fire (or None).
        self.passive: dict[int, float | None] = {}
        self.polls: dict[str, tuple[int, str]] = {}  # poll id -> (chat, message key)
        self._ticker: threading.Timer | None = None
        self._last_purge = -math.inf

    def on_start(self) -> None:
        if self.store is not None:
            snapshots = cast(list[dict[str, Any]], self.store.ask(LoadSessions(), timeout=30))
            for document in snapshots:
                self._spawn(SessionState.from_snapshot(document), restored=True)
            if snapshots:
                logger.info("restored %d sessions", len(snapshots))
                self.polls.update(cast(dict[str, tuple[int, str]],
                                       self.store.ask(LoadPolls(chat_ids=tuple(sorted(self.sessions))),
                                                      timeout=30)))
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        interval = max(min(self.passivate_after_s / 4, 5.0), 0.05)
        self._ticker = threading.Timer(interval, self._tick_now)
        self._ticker.daemon = True
        self._ticker.start()

    def _tick_now(self) -> None:
        try:
            self.actor_ref.tell(Tick())
        except pykka.ActorDeadError:
            return

    def _spawn(self, state: SessionState, *, restored: bool = False) -> pykka.ActorRef[Any]:
        ref = GameSessionActor.start(state, outbox=self.outbox, api=self.api, manager=self.actor_ref,
                                     commands=self.commands, store=self.store, restored=restored)
        self.sessions[state.chat_id] = ref
        self.last_active[state.chat_id] = self.clock()
        return ref

    def _session(self, chat_id: int) -> pykka.ActorRef[Any] | None:
        """The chat's live session, re-activating a passivated one from its snapshot."""
        ref = self.sessions.get(chat_id)
        if ref is None and chat_id in self.passive and self.store is not None:
            del self.passive[chat_id]
            document = cast(dict[str, Any] | None, self.store.ask(LoadSession(chat_id=chat_id), timeout=10))
            if document is not None:
                ref = self._spawn(SessionState.from_snapshot(document), restored=True)
        if ref is not None:
            self.last_active[chat_id] = self.clock()
        return ref

    def _tick(self) -> None:
        now = self.clock()
        if self.store is not None:
            for chat_id, ref in list(self.sessions.items()):
                if not flow.is_idle(self.last_active.get(chat_id, now), now=now, after_s=self.passivate_after_s):
                    continue
                reply = cast(Passivated | None, ref.ask(Passivate(), timeout=10))
                if reply is None:
                    continue  # busy (e.g. an API call in flight): try again later
                ref.stop()
                del self.sessions[chat_id]
                self.last_active.pop(chat_id, None)
                self.passive[chat_id] = reply.wake_at
            for chat_id, deadline in list(self.passive.items()):
                if flow.is_due(deadline, now=now):
                    self._session(chat_id)  # its timer is due: wake it so the timeout is applied
            if now - self._last_purge >= PURGE_EVERY_S:
                self._last_purge = now
                self.store.tell(PurgeLedger(older_than=LEDGER_RETENTION))
        self._schedule_tick()

    def _first_time(self, update_id: int) -> bool:
        """True unless this Telegram update was handled before (updates are redelivered after a crash)."""
        if self.store is None:
            return True
        try:
            return bool(self.store.ask(Claim(key=keys.update_claim(update_id)), timeout=10))
        except Exception as exc:  # noqa: BLE001 - a database outage must not stop the manager
            logger.warning("update %d: could not check for a replay (%s); handling it", update_id, type(exc).__name__)
            return True

    def _say(self, chat_id: int, key: str, text: str) -> None:
        self.outbox.deliver([OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=key, text=text)])

    def on_receive(self, message: Any) -> Any:
        match message:
            case Tick():
                self._tick()
            case StartGame():
                self._start(message)
            case AnswerGiven() | StopGame() | TextGiven() | HintAsked() | SkipAsked() | ScoreAsked():
                self._route(message)
            case PollSent():
                self.polls[message.poll_id] = (message.chat_id, message.key)
                if len(self.polls) > 100_000:
                    self.polls.pop(next(iter(self.polls)))
            case PollAnswered():
                self._poll_answer(message)
            case ResultArrived():
                chat_id = message.event.chat_id
                session = self._session(chat_id) if chat_id is not None else None
                if session is None:
                    # Not a game of this bot (an API client's), or one that already ended.
                    message.completion.done()
                else:
                    session.tell(message)
            case SessionEnded():
                self.last_active.pop(message.chat_id, None)
                ended = self.sessions.pop(message.chat_id, None)
                if ended is not None:
                    ended.stop(block=False)
            case ListChats(kind=SessionKind.PASSIVE):
                return sorted(self.passive)
            case ListChats():
                return sorted(self.sessions)
            case _:
                logger.warning("session manager: unexpected message %s", type(message).__name__)
        return None

    def _start(self, message: StartGame) -> None:
        if not self._first_time(message.update_id):
            return
        if self._session(message.chat_id) is not None:
            self._say(message.chat_id, keys.reply_key(keys.Reply.BUSY, message.update_id),
                      texts.render("already_playing"))
            return
        self._spawn(SessionState(chat_id=message.chat_id, player=message.player)).tell(message)

    def _route(self, message: AnswerGiven | StopGame | TextGiven | HintAsked | SkipAsked | ScoreAsked) -> None:
        """To the chat's session; a game command with no game gets "no game" (once per update)."""
        session = self._session(message.chat_id)
        if session is not None:
            session.tell(message)
        elif isinstance(message, StopGame | HintAsked | SkipAsked | ScoreAsked) and self._first_time(
            message.update_id
        ):
            self._say(message.chat_id, keys.reply_key(keys.Reply.NO_GAME, message.update_id), texts.render("no_game"))

    def _poll_answer(self, message: PollAnswered) -> None:
        target = self.polls.get(message.poll_id)
        if target is None or not message.option_ids:
            return  # not one of our polls, or a retracted vote
        chat_id, key = target
        poll = keys.PollKey.parse(key)
        session = self._session(chat_id)
        if session is not None and poll is not None:
            session.tell(AnswerGiven(chat_id=chat_id, player=message.player, game_tag=poll.game_tag,
                                     question_no=poll.question_no, option=message.option_ids[0],
                                     update_id=message.update_id))

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for ref in self.sessions.values():
            ref.stop(block=False)
        self.sessions.clear()
