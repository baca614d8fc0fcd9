"""Telegram's flood limits and the storm mode of injected faults.

Flood limits (:class:`FloodLimits`, sliding windows over ``time.monotonic``):

* global: at most ``global_per_second`` outgoing messages *and edits* per second, all chats together;
* per chat: at most ``chat_messages`` new messages (sendMessage, sendPoll) per ``chat_window_s`` -- "about one
  per second" with a small burst (3 in 3 s by default);
* per group or supergroup: at most ``group_messages`` new messages per ``group_window_s`` (20 per minute);
* edits (editMessageText, editMessageReplyMarkup, stopPoll) have their own, more lenient per-chat window
  (``chat_edits`` per ``chat_edit_window_s``) and do not use up the per-chat or per-group message budget.

A call over a limit is refused with 429 and ``retry_after`` = whole seconds until the window has room again;
it is not performed and not counted in the windows. With ``enforce=False`` (the default when no limits are
given) nothing is refused but every would-be breach is still counted, so a dev stack shows what real Telegram
would have rejected. :meth:`FloodLimits.lifted` has no ceilings at all (nothing refused, no breach counted):
for load runs at many times Telegram's rates, where the counters would only say "over" for every call.

The command line (``python -m gateways.telegram_standin --flood-limits [enforce|count|off]``) picks one of
the three: Telegram's ceilings enforced, counted only (the default), or lifted.
"""

from __future__ import annotations

import math
import random
import sys
from collections import deque
from dataclasses import dataclass

from gateways.telegram_standin.errors import ApiError, JSONDict, too_many_requests


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's documented send ceilings (see the module docstring); ``enforce=False`` only counts."""

    enforce: bool = True
    global_per_second: int = 30
    chat_messages: int = 3
    chat_window_s: float = 3.0
    group_messages: int = 20
    group_window_s: float = 60.0
    chat_edits: int = 5
    chat_edit_window_s: float = 3.0

    @classmethod
    def monitor(cls) -> FloodLimits:
        """Telegram's ceilings, counted but not enforced."""
        return cls(enforce=False)

    @classmethod
    def lifted(cls) -> FloodLimits:
        """No ceilings: nothing refused and no breach counted (load runs far above Telegram's rates)."""
        most = sys.maxsize
        return cls(enforce=False, global_per_second=most, chat_messages=most, group_messages=most, chat_edits=most)

    @classmethod
    def named(cls, mode: str) -> FloodLimits:
        """The limits of a command-line mode: ``enforce`` (Telegram's), ``count`` (counted only), ``off``."""
        if mode == "enforce":
            return cls()
        if mode == "count":
            return cls.monitor()
        if mode == "off":
            return cls.lifted()
        raise ValueError(f"flood limits are enforce, count or off, not {mode!r}")


@dataclass
class FaultPlan:
    """Storm mode: the next ``count`` matching bot calls, or a ``fraction`` of them, fail with ``status``.

    ``methods`` (lower-case names) restricts the storm; by default every method but getUpdates is hit, so a
    long-polling bot does not burn the faults on its idle polls.
    """

    status: int = 429
    count: int = 0
    fraction: float = 0.0
    retry_after: int = 1
    methods: frozenset[str] | None = None

    def applies_to(self, method: str) -> bool:
        """Whether a call of ``method`` (lower-case) is in the storm's scope."""
        if self.methods is None:
            return method != "getupdates"
        return method in self.methods

    def hits(self, method: str) -> bool:
        """Whether this call of ``method`` (lower-case) fails: one of ``count`` is used up first, then each call
        fails with probability ``fraction``."""
        if not self.applies_to(method):
            return False
        if self.count > 0:
            self.count -= 1
            return True
        return self.fraction > 0 and random.random() < self.fraction

    def error(self) -> ApiError:
        """The failure a hit call gets."""
        if self.status == 429:
            return too_many_requests(self.retry_after)
        return ApiError(self.status, "Internal Server Error" if self.status == 500 else "Bad Gateway")

    def to_api(self) -> JSONDict:
        """The plan as JSON."""
        return {"status": self.status, "count": self.count, "fraction": self.fraction,
                "retry_after": self.retry_after, "methods": sorted(self.methods) if self.methods else None}


class FloodMeter:
    """Sliding-window accounting of outgoing messages and edits against :class:`FloodLimits`."""

    def __init__(self) -> None:
        self._global: deque[float] = deque()
        self._chat_sends: dict[int, deque[float]] = {}
        self._chat_edits: dict[int, deque[float]] = {}
        self._group_sends: dict[int, deque[float]] = {}

    @staticmethod
    def _wait(window: deque[float], limit: int, span: float, now: float) -> int | None:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < limit:
            return None
        return max(1, math.ceil(window[0] + span - now))

    def breaches(self, limits: FloodLimits, chat_id: int, is_group: bool, kind: str, now: float
                 ) -> list[tuple[str, int]]:
        """The limits one more ``kind`` ("send" or "edit") in ``chat_id`` would break, with retry_after."""
        found: list[tuple[str, int]] = []
        wait = self._wait(self._global, limits.global_per_second, 1.0, now)
        if wait is not None:
            found.append(("global", wait))
        if kind == "send":
            wait = self._wait(self._chat_sends.setdefault(chat_id, deque()), limits.chat_messages,
                              limits.chat_window_s, now)
            if wait is not None:
                found.append(("chat", wait))
            if is_group:
                wait = self._wait(self._group_sends.setdefault(chat_id, deque()), limits.group_messages,
                                  limits.group_window_s, now)
                if wait is not None:
                    found.append(("group", wait))
        else:
            wait = self._wait(self._chat_edits.setdefault(chat_id, deque()), limits.chat_edits,
                              limits.chat_edit_window_s, now)
            if wait is not None:
                found.append(("edit", wait))
        return found

    def record(self, chat_id: int, is_group: bool, kind: str, now: float) -> None:
        """Count a performed send or edit."""
        self._global.append(now)
        if kind == "send":
            self._chat_sends.setdefault(chat_id, deque()).append(now)
            if is_group:
                self._group_sends.setdefault(chat_id, deque()).append(now)
        else:
            self._chat_edits.setdefault(chat_id, deque()).append(now)

