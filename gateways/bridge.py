"""The one crossing between actor threads and an asyncio event loop.

Actors never await and the loop never blocks: actor threads hand work to the loop with
``call_soon_threadsafe`` (or ``run_coroutine_threadsafe`` for a coroutine), and the loop hands work to
actors with ``tell``, which only enqueues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    """Schedules calls and coroutines on one event loop from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon; never blocks the caller."""
        self.loop.call_soon_threadsafe(fn, *args)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the loop; the returned future may be waited on from a thread (never the loop)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
