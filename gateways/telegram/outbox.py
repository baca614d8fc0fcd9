"""The outbound queue to Telegram: in order per chat, within Telegram's flood limits, dropping nothing.

Limits (Telegram's documented ceilings): 30 messages per second overall, about one per second per chat
(a short burst allowed), 20 per minute per group. A 429 puts the call back at the head of its chat's queue
and waits ``retry_after``; network errors are retried with backoff. Only a call Telegram refuses for good
(bad request, bot blocked) is given up, and that is logged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import attrs
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Poll
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from gateways.bridge import LoopBridge
from trivia_actors.runtime import TELEGRAM_SENT
from trivia_actors.session import Keyboard, OpKind, OutboundOp

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class FloodLimits:
    """Rates the queue keeps to (Telegram's documented ceilings, as sliding windows)."""

    global_per_second: int = 30  # messages and edits, every chat together
    chat_messages: int = 3  # new messages per chat per window: "about one per second", short bursts allowed
    chat_window_s: float = 3.0
    chat_edits: int = 5  # edits are counted apart from new messages
    chat_edit_window_s: float = 3.0
    group_messages: int = 20  # new messages per group per minute
    group_window_s: float = 60.0


def _markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.text, callback_data=button.data) for button in row] for row in keyboard]
    )


# Telegram counts a call when it arrives, which we cannot see; we see when its answer comes back, which is
# later. So a call enters our windows when it completes, and while in flight it holds a place in them: the
# next call leaves only after an earlier one's answer was back a whole window ago, and so arrives at least a
# window after it, however the network or a busy CPU delays either. The margin covers clock granularity.
WINDOW_MARGIN_S = 0.05
MAX_IN_FLIGHT = 8


def _window_ready_at(stamps: collections.deque[float], limit: int, window_s: float, now: float,
                     in_flight: int = 0) -> float:
    """When one more call fits in a sliding window: ``stamps`` are completed calls (the expired ones are
    forgotten), ``in_flight`` calls not yet completed count as inside the window until they complete."""
    span = window_s + WINDOW_MARGIN_S
    while stamps and stamps[0] <= now - span:
        stamps.popleft()
    excess = len(stamps) + in_flight - limit
    if excess < 0:
        return now
    if excess >= len(stamps):
        return now + window_s  # only completions free a place; each completion wakes the dispatcher
    return stamps[excess] + span


class _ChatLane:
    """One chat's queue and its rate windows."""

    def __init__(self, is_group: bool) -> None:
        self.ops: collections.deque[OutboundOp] = collections.deque()
        self.not_before = 0.0
        self.is_group = is_group
        self.sends: collections.deque[float] = collections.deque()
        self.edits: collections.deque[float] = collections.deque()
        self.group_sends: collections.deque[float] = collections.deque()
        self.touched = time.monotonic()

    def ready_at(self, limits: FloodLimits, now: float) -> float:
        """When the op at the head of this lane may go."""
        at = max(now, self.not_before)
        if self.ops and self.ops[0].kind == OpKind.EDIT:
            return max(at, _window_ready_at(self.edits, limits.chat_edits, limits.chat_edit_window_s, now))
        at = max(at, _window_ready_at(self.sends, limits.chat_messages, limits.chat_window_s, now))
        if self.is_group:
            at = max(at, _window_ready_at(self.group_sends, limits.group_messages, limits.group_window_s, now))
        return at

    def spend(self, op: OutboundOp, now: float) -> None:
        """Account one completed call (at the time its answer came back)."""
        self.touched = now
        if op.kind == OpKind.EDIT:
            self.edits.append(now)
            return
        self.sends.append(now)
        if self.is_group:
            self.group_sends.append(now)


class TelegramOutbox:
    """Implements :class:`trivia_actors.session.ports.TelegramOutbox`; thread-safe entry, all work on the bot's loop."""

    def __init__(self, bot: Bot, bridge: LoopBridge, limits: FloodLimits = FloodLimits(),
                 on_sent: Callable[[OutboundOp, int | None, str | None], None] | None = None) -> None:
        self.bot = bot
        self.on_sent = on_sent
        self.bridge = bridge
        self.limits = limits
        self.message_ids: dict[tuple[int, str], int] = {}
        self._lanes: dict[int, _ChatLane] = {}
        self._wakeup = asyncio.Event()
        self._global_sent: collections.deque[float] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._pending = 0

    # --- thread-safe entry ------------------------------------------------------------------------

    def remember(self, message_ids: Mapping[tuple[int, str], int]) -> None:
        """Telegram's ids of messages sent before a restart (by chat and key), for the edits still to come."""
        self.message_ids.update(message_ids)

    def deliver(self, ops: Sequence[OutboundOp]) -> None:
        """Queue ops (from any thread); they are sent in order per chat."""
        self.bridge.call(self._enqueue_all, tuple(ops))

    def _enqueue_all(self, ops: tuple[OutboundOp, ...]) -> None:
        for op in ops:
            self._enqueue(op)

    # --- loop side --------------------------------------------------------------------------------

    def _enqueue(self, op: OutboundOp) -> None:
        lane = self._lanes.get(op.chat_id)
        if lane is None:
            lane = self._lanes[op.chat_id] = _ChatLane(is_group=op.chat_id < 0)
        lane.ops.append(op)
        self._pending += 1
        self._wakeup.set()

    @property
    def pending(self) -> int:
        """Calls queued or in flight."""
        return self._pending

    def start(self) -> None:
        """Start the dispatcher task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="telegram-outbox")

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued is sent (or the timeout passes); True when empty."""
        deadline = time.monotonic() + timeout_s
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self._pending == 0

    async def stop(self) -> None:
        """Cancel the dispatcher."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _global_ready_at(self, now: float, in_flight: int) -> float:
        return _window_ready_at(self._global_sent, self.limits.global_per_second, 1.0, now, in_flight)

    async def _run(self) -> None:
        in_flight: set[int] = set()
        while True:
            now = time.monotonic()
            next_at = now + 1.0
            global_at = self._global_ready_at(now, len(in_flight))
            for chat_id, lane in list(self._lanes.items()):
                if len(in_flight) >= MAX_IN_FLIGHT:
                    break  # calls held up in transit must not arrive at Telegram in a bunch
                if not lane.ops or chat_id in in_flight:
                    if not lane.ops and chat_id not in in_flight and now - lane.touched > 120:
                        del self._lanes[chat_id]
                    continue
                at = max(lane.ready_at(self.limits, now), global_at)
                if at > now:
                    next_at = min(next_at, at)
                    continue
                op = lane.ops.popleft()
                lane.touched = now
                in_flight.add(chat_id)
                asyncio.get_running_loop().create_task(self._perform(lane, op, in_flight))
                global_at = self._global_ready_at(now, len(in_flight))
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(next_at - time.monotonic(), 0.005))

    async def _perform(self, lane: _ChatLane, op: OutboundOp, in_flight: set[int]) -> None:
        requeue = False
        message_id: int | None = None
        poll_id: str | None = None
        try:
            message_id, poll_id = await self._call(op)
            TELEGRAM_SENT.labels(op.kind, "ok").inc()
        except RetryAfter as exc:
            after = exc.retry_after
            retry = after.total_seconds() if isinstance(after, dt.timedelta) else float(after)
            lane.not_before = time.monotonic() + retry
            requeue = True
            TELEGRAM_SENT.labels(op.kind, "429").inc()
            logger.warning("chat %s: Telegram asked to wait %.1fs", op.chat_id, retry)
        except BadRequest as exc:
            # Refused for good (e.g. the chat is gone): settled, never retried; "not modified" is a no-op edit.
            if "not modified" not in str(exc).lower():
                logger.warning("chat %s: %s %s refused: %s", op.chat_id, op.kind, op.key, exc.message)
            TELEGRAM_SENT.labels(op.kind, "refused").inc()
        except Forbidden as exc:
            logger.warning("chat %s: bot may not write here: %s", op.chat_id, exc.message)
            TELEGRAM_SENT.labels(op.kind, "forbidden").inc()
        except (NetworkError, TelegramError) as exc:
            lane.not_before = time.monotonic() + 1.0
            requeue = True
            TELEGRAM_SENT.labels(op.kind, "error").inc()
            logger.warning("chat %s: %s failed, will retry: %s", op.chat_id, op.kind, type(exc).__name__)
        finally:
            # Counted whatever the outcome (a refused or failed call may still have counted at Telegram).
            done_at = time.monotonic()
            lane.spend(op, done_at)
            self._global_sent.append(done_at)
            if requeue:
                lane.ops.appendleft(op)
            else:
                self._pending -= 1
                if self.on_sent is not None:
                    self.on_sent(op, message_id, poll_id)
            in_flight.discard(op.chat_id)
            self._wakeup.set()

    async def _call(self, op: OutboundOp) -> tuple[int | None, str | None]:
        markup = _markup(op.keyboard)
        message_id = self.message_ids.get((op.chat_id, op.key))
        if op.kind == OpKind.EDIT and message_id is not None:
            await self.bot.edit_message_text(
                op.text, chat_id=op.chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return None, None
        if op.kind == OpKind.POLL:
            sent = await self.bot.send_poll(
                op.chat_id, op.text[:300], [option[:100] for option in op.options], is_anonymous=False,
                type=Poll.QUIZ, correct_option_id=op.correct_option, open_period=op.open_period,  # type: ignore[arg-type]
            )
            self.message_ids[(op.chat_id, op.key)] = sent.message_id
            return int(sent.message_id), (sent.poll.id if sent.poll else None)
        # A send, or an edit of a message we never sent (e.g. before a restart): send it as new.
        message = await self.bot.send_message(op.chat_id, op.text, parse_mode=ParseMode.HTML, reply_markup=markup)
        self.message_ids[(op.chat_id, op.key)] = message.message_id
        if len(self.message_ids) > 200_000:
            self.message_ids.pop(next(iter(self.message_ids)))
        return int(message.message_id), None
