"""The session manager: one session actor per chat, created on /play, stopped when its game ends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pykka

from trivia_actors import texts
from trivia_actors.ports import CommandSink, GameApi, TelegramOutbox
from trivia_actors.session import GameSessionActor, SessionState
from trivia_actors.session_messages import AnswerGiven, ResultArrived, SessionEnded, StartGame, StopGame, TextGiven

logger = logging.getLogger(__name__)

SessionFactory = Callable[[SessionState, pykka.ActorRef[Any]], pykka.ActorRef[Any]]


class SessionManagerActor(pykka.ThreadingActor):
    """Routes Telegram input by chat and results by chat, starting and stopping session actors."""

    def __init__(self, *, outbox: TelegramOutbox, api: GameApi, commands: CommandSink | None = None) -> None:
        super().__init__()
        self.outbox = outbox
        self.api = api
        self.commands = commands
        self.sessions: dict[int, pykka.ActorRef[Any]] = {}

    def _spawn(self, state: SessionState) -> pykka.ActorRef[Any]:
        ref = GameSessionActor.start(state, outbox=self.outbox, api=self.api, manager=self.actor_ref,
                                     commands=self.commands)
        self.sessions[state.chat_id] = ref
        return ref

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, StartGame):
            if message.chat_id in self.sessions:
                self.outbox.send(message.chat_id, f"busy:{message.update_id}", texts.render("already_playing"))
                return None
            self._spawn(SessionState(chat_id=message.chat_id, player=message.player)).tell(message)
        elif isinstance(message, AnswerGiven | StopGame | TextGiven):
            session = self.sessions.get(message.chat_id)
            if session is not None:
                session.tell(message)
            elif isinstance(message, StopGame):
                self.outbox.send(message.chat_id, f"nogame:{message.update_id}", texts.render("no_game"))
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
        return None

    def on_stop(self) -> None:
        for ref in self.sessions.values():
            ref.stop(block=False)
        self.sessions.clear()
