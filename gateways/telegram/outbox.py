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
from collections.abc import Callable, Sequence

import attrs
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Poll
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from gateways.bridge import LoopBridge
from trivia_actors.metrics import TELEGRAM_SENT
from trivia_actors.ports import Keyboard, OutboundOp

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class FloodLimits:
    """Rates the queue keeps to."""

    global_per_second: float = 30.0
    chat_burst: int = 3
    chat_per_second: float = 1.0
    group_per_minute: int = 20


def _markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.text, callback_data=button.data) for button in row] for row in keyboard]
    )


class _ChatLane:
    """One chat's queue and its rate state."""

    def __init__(self, limits: FloodLimits, is_group: bool) -> None:
        self.ops: collections.deque[OutboundOp] = collections.deque()
        self.tokens = float(limits.chat_burst)
        self.refilled = time.monotonic()
        self.not_before = 0.0
        self.is_group = is_group
        self.group_sent: collections.deque[float] = collections.deque()

    def ready_at(self, limits: FloodLimits, now: float) -> float:
        """When this lane may send next."""
        self.tokens = min(float(limits.chat_burst), self.tokens + (now - self.refilled) * limits.chat_per_second)
        self.refilled = now
        at = max(now, self.not_before)
        if self.tokens < 1.0:
            at = max(at, now + (1.0 - self.tokens) / limits.chat_per_second)
        if self.is_group:
            while self.group_sent and self.group_sent[0] <= now - 60.0:
                self.group_sent.popleft()
            if len(self.group_sent) >= limits.group_per_minute:
                at = max(at, self.group_sent[0] + 60.0)
        return at

    def spend(self, now: float) -> None:
        """Account one call."""
        self.tokens -= 1.0
        if self.is_group:
            self.group_sent.append(now)


class TelegramOutbox:
    """Implements :class:`trivia_actors.ports.TelegramOutbox`; thread-safe entry, all work on the bot's loop."""

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
            lane = self._lanes[op.chat_id] = _ChatLane(self.limits, is_group=op.chat_id < 0)
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

    def _global_ready_at(self, now: float) -> float:
        while self._global_sent and self._global_sent[0] <= now - 1.0:
            self._global_sent.popleft()
        if len(self._global_sent) >= self.limits.global_per_second:
            return self._global_sent[0] + 1.0
        return now

    async def _run(self) -> None:
        in_flight: set[int] = set()
        while True:
            now = time.monotonic()
            next_at = now + 1.0
            global_at = self._global_ready_at(now)
            for chat_id, lane in list(self._lanes.items()):
                if not lane.ops or chat_id in in_flight:
                    if not lane.ops and chat_id not in in_flight and now - lane.refilled > 120:
                        del self._lanes[chat_id]
                    continue
                at = max(lane.ready_at(self.limits, now), global_at)
                if at > now:
                    next_at = min(next_at, at)
                    continue
                op = lane.ops.popleft()
                lane.spend(now)
                self._global_sent.append(now)
                in_flight.add(chat_id)
                asyncio.get_running_loop().create_task(self._perform(lane, op, in_flight))
                global_at = self._global_ready_at(now)
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
        if op.kind == "edit" and message_id is not None:
            await self.bot.edit_message_text(
                op.text, chat_id=op.chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return None, None
        if op.kind == "poll":
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
