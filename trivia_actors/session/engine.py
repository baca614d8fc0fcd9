"""Starting the telebot's session engine: K shards over the store writers, every open game asleep until due."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import pykka

from trivia_actors.runtime import TimerService
from trivia_actors.session.messages import LoadPolls, LoadSchedule
from trivia_actors.session.ports import CommandSink, GameApi, TelegramOutbox
from trivia_actors.session.router import PollIndex, SessionRouter, shard_index
from trivia_actors.session.shard import SessionShardActor

logger = logging.getLogger(__name__)

POLL_LOAD_CHUNK = 5_000  # chats per poll query after a restart (within every database's bound-parameter limit)
LOAD_TIMEOUT_S = 60.0


def start_sessions(*, shards: int, outbox: TelegramOutbox, api: GameApi, timers: TimerService,
                   commands: CommandSink | None = None, writers: Sequence[pykka.ActorRef[Any]] = (),
                   polls: PollIndex | None = None, passivate_after_s: float = 60.0,
                   clock: Callable[[], float] = time.time) -> SessionRouter:
    """Start ``shards`` session shards, shard i writing through ``writers[i % len(writers)]`` (none: no
    durability, for tests), with every unfinished game of the store asleep in its shard: only its chat id and
    wake time are read now; a game is loaded on its next update or when its timer is due. The polls of those
    games are loaded into ``polls`` (the index the outbox adds new polls to)."""
    asleep: list[dict[int, float | None]] = [{} for _ in range(shards)]
    polls = polls if polls is not None else PollIndex()
    if writers:
        schedule = cast(list[tuple[int, float | None]], writers[0].ask(LoadSchedule(), timeout=LOAD_TIMEOUT_S))
        for chat_id, wake_at in schedule:
            asleep[shard_index(chat_id, shards)][chat_id] = wake_at
        chats = sorted(chat_id for chat_id, _wake_at in schedule)
        for start in range(0, len(chats), POLL_LOAD_CHUNK):
            chunk = tuple(chats[start:start + POLL_LOAD_CHUNK])
            polls.update(cast(dict[str, tuple[int, str]], writers[0].ask(LoadPolls(chat_ids=chunk),
                                                                          timeout=LOAD_TIMEOUT_S)))
        if schedule:
            logger.info("%d open games to resume, asleep until due", len(schedule))
    refs = [
        SessionShardActor.start(index, outbox=outbox, api=api, timers=timers, commands=commands,
                                store=writers[index % len(writers)] if writers else None, asleep=asleep[index],
                                passivate_after_s=passivate_after_s, clock=clock)
        for index in range(shards)
    ]
    return SessionRouter(refs, polls)
