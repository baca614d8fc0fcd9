"""Shared start-up and shut-down of the processes: settings, logging, signals, and the actors' lifecycle.

Mopidy's shape (``_app/server.py``): start the parts in dependency order and confirm each, stop them in
reverse order in a ``finally`` (also after a start that failed half-way), then sweep any actor still running
and log it: a survivor is a bug, and its non-daemon thread would keep the process from exiting.
"""

from __future__ import annotations

import inspect
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import pykka
from pykka.messages import ProxyGetAttr

from gateways.observability import configure_logging
from trivia_actors.runtime import Settings, SettingsError, failpoints, load_settings

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
# pykka answers this itself, after the actor's on_start and before anything queued later: every actor knows it.
_PING = ProxyGetAttr(attr_path=("actor_urn",))


class StartFailed(RuntimeError):
    """A part of the process did not start; the message names it."""


def start_process(name: str) -> Settings:
    """Load settings and configure logging, or exit 2 with a clear message naming the bad setting."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings, name)
    failpoints.arm(settings)
    return settings


def stop_event_on_signals() -> threading.Event:
    """An event set on SIGTERM or SIGINT, for processes whose main thread waits on it."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def confirm_started(ref: pykka.ActorRef[Any], name: str, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Return once the actor answers a ping (its ``on_start`` has run); :class:`StartFailed` if it died or hangs."""
    try:
        ref.ask(_PING, timeout=timeout_s)
    except pykka.ActorDeadError:
        raise StartFailed(f"{name} stopped while starting (its error is logged above)") from None
    except pykka.Timeout:
        raise StartFailed(f"{name} did not answer within {timeout_s:g} s of starting") from None


class Shutdown:
    """The steps that undo what has started, run in reverse order; a step that fails is logged, the rest run.

    Each part pushes its step as soon as it has started, so a start that fails half-way undoes exactly what it
    did. A step may be a coroutine function (awaited); blocking calls belong in ``asyncio.to_thread``.
    """

    def __init__(self, process: str) -> None:
        self.process = process
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, name: str, step: Callable[[], object]) -> None:
        """Undo ``name`` with ``step`` (before every step pushed earlier)."""
        self._steps.append((name, step))

    async def run(self) -> None:
        """Run every step pushed, the last pushed first; each runs once."""
        while self._steps:
            name, step = self._steps.pop()
            try:
                result = step()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("%s: stopping %s failed", self.process, name)


def stop_remaining_actors(process: str, *, grace_s: float = 2.0, timeout_s: float = 10.0) -> list[str]:
    """Stop every actor still registered after the ordered stop, and log it; the names of those found.

    Children that a parent stopped without waiting (a manager's sessions) are given ``grace_s`` to finish first.
    """
    deadline = time.monotonic() + grace_s
    for ref in pykka.ActorRegistry.get_all():
        ref.actor_stopped.wait(max(deadline - time.monotonic(), 0.0))
    survivors = pykka.ActorRegistry.get_all()
    names = sorted(ref.actor_class.__name__ for ref in survivors)
    if survivors:
        logger.warning("%s: %d actors still running after shutdown, stopping them: %s", process, len(names),
                       ", ".join(names))
        try:
            pykka.ActorRegistry.stop_all(block=True, timeout=timeout_s)
        except pykka.Timeout:
            logger.error("%s: an actor did not stop within %g s", process, timeout_s)
    return names

