"""Concurrent updates, one chat at a time: PTB's update processor that keeps each chat's updates in order.

``concurrent_updates(True)`` runs every update as soon as it arrives, so a chat's later message can overtake
an earlier one whose handler awaited first (an answer handled before the /play that started the game). This
processor runs updates of different chats concurrently, but an update waits for the earlier updates of its
own chat to finish. Poll answers carry no chat: an answer to one of our polls is ordered with the chat the
poll was sent to (:func:`chat_of_polls`), any other by the user who answered.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from trivia_actors.session import PollIndex

OrderKey = Callable[[object], Hashable | None]


def chat_or_user(update: object) -> Hashable | None:
    """The effective chat's id, else the effective user's id, else None (run unordered)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


def chat_of_polls(polls: PollIndex) -> OrderKey:
    """:func:`chat_or_user`, except that an answer to one of our polls is keyed by the chat the poll was sent to,
    so a group's poll answers stay in order with that group's messages (the poll answer itself has no chat)."""

    def key(update: object) -> Hashable | None:
        if isinstance(update, Update) and update.poll_answer is not None:
            target = polls.get(update.poll_answer.poll_id)
            if target is not None:
                return target[0]
        return chat_or_user(update)

    return key


class _Lane:
    """One key's lock and how many updates hold or await it (the lane is dropped when that reaches zero)."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Runs up to ``max_concurrent_updates`` updates at once, each chat's strictly in arrival order.

    PTB's fetcher starts one task per update in arrival order and the base class admits them through a FIFO
    semaphore, so ``do_process_update`` is entered in arrival order; from there a per-key ``asyncio.Lock``
    (whose waiters are served first come, first served) keeps that order. An idle key holds no state.
    """

    __slots__ = ("_key", "_lanes")

    def __init__(self, max_concurrent_updates: int, *, key: OrderKey = chat_or_user) -> None:
        super().__init__(max_concurrent_updates)
        self._key = key
        self._lanes: dict[Hashable, _Lane] = {}

    @property
    def busy_keys(self) -> int:
        """How many chats (or users) have an update running or waiting."""
        return len(self._lanes)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await ``coroutine`` once every earlier update with the same key has finished."""
        key = self._key(update)
        if key is None:
            await coroutine
            return
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.users += 1
        try:
            try:
                await lane.lock.acquire()
            except asyncio.CancelledError:
                # Cancelled while waiting its turn (the application stopping): the handler never runs, and
                # closing its coroutine spares a "never awaited" warning.
                if inspect.iscoroutine(coroutine):
                    coroutine.close()
                raise
            try:
                await coroutine
            finally:
                lane.lock.release()
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[key]

    async def initialize(self) -> None:
        """Nothing to allocate: lanes are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to free: a lane is dropped when its last update ends."""
