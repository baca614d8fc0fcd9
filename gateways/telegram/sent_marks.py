"""Marking ledger rows sent, in batches: one multi-row update per writer every few milliseconds, not one per call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import pykka

from trivia_actors.runtime import TimerService
from trivia_actors.session import MarkSentMany, SentMark

logger = logging.getLogger(__name__)

FLUSH_AFTER_S = 0.05  # how long a mark may wait for others (a mark lost in a crash means a re-send at worst)
MAX_MARKS = 500  # a batch this big goes at once


class SentMarks:
    """Collects the outbox's "Telegram accepted ledger row N" marks and tells them to the store writers."""

    def __init__(self, writers: Sequence[pykka.ActorRef[Any]], timers: TimerService) -> None:
        self.writers = tuple(writers)
        self.timers = timers
        self._marks: list[list[SentMark]] = [[] for _ in self.writers]
        self._scheduled = False
        self._lock = threading.Lock()

    def add(self, chat_id: int, mark: SentMark) -> None:
        """Queue a mark (from any thread); it is written within :data:`FLUSH_AFTER_S`."""
        with self._lock:
            batch = self._marks[chat_id % len(self.writers)]
            batch.append(mark)
            full = len(batch) >= MAX_MARKS
            schedule = not self._scheduled and not full
            self._scheduled = self._scheduled or schedule
        if full:
            self.flush()
        elif schedule:
            self.timers.call_later(FLUSH_AFTER_S, self._flush_due)

    def _flush_due(self) -> None:
        with self._lock:
            self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Tell every queued mark to its writer now."""
        with self._lock:
            batches, self._marks = self._marks, [[] for _ in self.writers]
        for writer, marks in zip(self.writers, batches, strict=True):
            if not marks:
                continue
            try:
                writer.tell(MarkSentMany(marks=tuple(marks)))
            except pykka.ActorDeadError:
                # Only at shutdown: the rows stay "pending" and are sent again after a restart at worst.
                logger.warning("%d sent marks not written: the store writer has stopped", len(marks))
