"""The session manager: one session actor per chat, created on /play, restored after a restart."""

from __future__ import annotations

import logging
from typing import Any, cast

import pykka

from trivia_actors import texts
from trivia_actors.ports import CommandSink, GameApi, OutboundOp, TelegramOutbox
from trivia_actors.session import GameSessionActor, SessionState
from trivia_actors.session_messages import AnswerGiven, ResultArrived, SessionEnded, StartGame, StopGame, TextGiven
from trivia_actors.session_store import Claim

logger = logging.getLogger(__name__)


class SessionManagerActor(pykka.ThreadingActor):
    """Routes Telegram input and results by chat, starting, stopping and restoring session actors."""

    def __init__(self, *, outbox: TelegramOutbox, api: GameApi, commands: CommandSink | None = None,
                 store: pykka.ActorRef[Any] | None = None) -> None:
        super().__init__()
        self.outbox = outbox
        self.api = api
        self.commands = commands
        self.store = store
        self.sessions: dict[int, pykka.ActorRef[Any]] = {}

    def on_start(self) -> None:
        if self.store is None:
            return
        snapshots = cast(list[dict[str, Any]], self.store.ask("load_sessions", timeout=30))
        for document in snapshots:
            self._spawn(SessionState.from_snapshot(document), restored=True)
        if snapshots:
            logger.info("restored %d sessions", len(snapshots))

    def _spawn(self, state: SessionState, *, restored: bool = False) -> pykka.ActorRef[Any]:
        ref = GameSessionActor.start(state, outbox=self.outbox, api=self.api, manager=self.actor_ref,
                                     commands=self.commands, store=self.store, restored=restored)
        self.sessions[state.chat_id] = ref
        return ref

    def _first_time(self, update_id: int) -> bool:
        """True unless this Telegram update was handled before (updates are redelivered after a crash)."""
        if self.store is None:
            return True
        return bool(self.store.ask(Claim(key=f"tg-update:{update_id}"), timeout=10))

    def _say(self, chat_id: int, key: str, text: str) -> None:
        self.outbox.deliver([OutboundOp(kind="send", chat_id=chat_id, key=key, text=text)])

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, StartGame):
            if not self._first_time(message.update_id):
                return None
            if message.chat_id in self.sessions:
                self._say(message.chat_id, f"busy:{message.update_id}", texts.render("already_playing"))
                return None
            self._spawn(SessionState(chat_id=message.chat_id, player=message.player)).tell(message)
        elif isinstance(message, AnswerGiven | StopGame | TextGiven):
            session = self.sessions.get(message.chat_id)
            if session is not None:
                session.tell(message)
            elif isinstance(message, StopGame) and self._first_time(message.update_id):
                self._say(message.chat_id, f"nogame:{message.update_id}", texts.render("no_game"))
        elif isinstance(message, ResultArrived):
            chat_id = message.event.chat_id
            session = self.sessions.get(chat_id) if chat_id is not None else None
            if session is None:
                # Not a game of this bot (an API client's), or one that already ended.
                message.completion.done()
            else:
                session.tell(message)
        elif isinstance(message, SessionEnded):
            session = self.sessions.pop(message.chat_id, None)
            if session is not None:
                session.stop(block=False)
        elif message == "active_sessions":
            return len(self.sessions)
        elif message == "chats":
            return sorted(self.sessions)
        return None

    def on_stop(self) -> None:
        for ref in self.sessions.values():
            ref.stop(block=False)
        self.sessions.clear()
