"""Routing the telebot's input to the session shards: a chat always goes to the same shard."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pykka

from trivia_actors.session import keys
from trivia_actors.session.messages import (
    AnswerGiven,
    HintAsked,
    ListChats,
    PollAnswered,
    ResultArrived,
    ScoreAsked,
    SessionKind,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
)

logger = logging.getLogger(__name__)

POLLS_KEPT = 200_000  # poll ids remembered (a poll stays open at most a question's time)

Routed = StartGame | AnswerGiven | TextGiven | HintAsked | SkipAsked | ScoreAsked | StopGame | ResultArrived


def shard_index(chat_id: int, shards: int) -> int:
    """The shard of a chat (group chats have negative ids; Python's modulo keeps the index in range)."""
    return chat_id % shards


class PollIndex:
    """Poll id -> (chat, message key) of the quiz polls the bot sent: a poll answer carries no chat."""

    def __init__(self, limit: int = POLLS_KEPT) -> None:
        self.limit = limit
        self._polls: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def add(self, poll_id: str, chat_id: int, key: str) -> None:
        """Remember a poll that Telegram created (the oldest is forgotten past the limit)."""
        with self._lock:
            self._polls[poll_id] = (chat_id, key)
            if len(self._polls) > self.limit:
                self._polls.pop(next(iter(self._polls)))

    def update(self, polls: Mapping[str, tuple[int, str]]) -> None:
        """Remember polls sent before a restart."""
        for poll_id, (chat_id, key) in polls.items():
            self.add(poll_id, chat_id, key)

    def get(self, poll_id: str) -> tuple[int, str] | None:
        """The chat and message key of a poll, if it is one of ours."""
        with self._lock:
            return self._polls.get(poll_id)


class SessionRouter:
    """Tells each message to the shard of its chat; thread-safe (PTB's loop and the results consumer use it)."""

    def __init__(self, shards: Sequence[pykka.ActorRef[Any]], polls: PollIndex | None = None) -> None:
        if not shards:
            raise ValueError("a router needs at least one shard")
        self.shards = tuple(shards)
        self.polls = polls if polls is not None else PollIndex()

    def shard_of(self, chat_id: int) -> pykka.ActorRef[Any]:
        """The shard that owns ``chat_id``."""
        return self.shards[shard_index(chat_id, len(self.shards))]

    def tell(self, message: Routed | PollAnswered) -> None:
        """Route ``message`` to its chat's shard (a poll answer by its poll; a result of no chat is settled)."""
        match message:
            case PollAnswered():
                self._poll_answer(message)
            case ResultArrived(event=event) if event.chat_id is None:
                message.completion.done()  # an API client's game, not one of this bot's chats
            case ResultArrived(event=event):
                assert event.chat_id is not None
                self.shard_of(event.chat_id).tell(message)
            case _:
                self.shard_of(message.chat_id).tell(message)

    def _poll_answer(self, message: PollAnswered) -> None:
        target = self.polls.get(message.poll_id)
        if target is None or not message.option_ids:
            return  # not one of our polls, or a retracted vote
        chat_id, key = target
        poll = keys.PollKey.parse(key)
        if poll is not None:
            self.shard_of(chat_id).tell(AnswerGiven(chat_id=chat_id, player=message.player, game_tag=poll.game_tag,
                                                    question_no=poll.question_no, option=message.option_ids[0],
                                                    update_id=message.update_id))

    def chats(self, kind: SessionKind = SessionKind.LIVE, timeout: float = 10.0) -> list[int]:
        """The chats whose session is ``kind``, over every shard (blocking: not for an event loop)."""
        futures = [shard.ask(ListChats(kind=kind), block=False) for shard in self.shards]
        return sorted(chat for future in futures for chat in future.get(timeout=timeout))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every shard (each commits what it has first)."""
        for shard in self.shards:
            try:
                shard.stop(timeout=timeout)
            except pykka.ActorDeadError:
                logger.debug("shard already stopped")
