"""Small stand-in exporters for drainer tests: record what they are given, fail on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from trivia_actors.exports import Transcript


class RecordingExporter:
    """Records each batch's game ids; raises ``error`` while ``failing`` is set (or for ``fail_times`` calls)."""

    def __init__(self, *, fail_times: int = 0, error: str = "remote unavailable", delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.attempts = 0
        self.failing = False
        self.fail_times = fail_times
        self.error = error
        self.delay_s = delay_s
        self.closed = False
        self._lock = threading.Lock()

    def export(self, transcripts: Sequence[Transcript]) -> None:
        with self._lock:
            self.attempts += 1
            fail = self.failing or self.fail_times > 0
            if self.fail_times > 0:
                self.fail_times -= 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if fail:
            raise RuntimeError(self.error)
        with self._lock:
            self.batches.append([t.game_id for t in transcripts])

    @property
    def exported(self) -> list[str]:
        """Every game id exported, in order, repeats included."""
        with self._lock:
            return [game_id for batch in self.batches for game_id in batch]

    def close(self) -> None:
        self.closed = True
