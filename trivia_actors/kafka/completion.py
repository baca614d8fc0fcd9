"""The reply channel of one consumed record: handed along with its event, settled once by the last actor."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from trivia_actors.kafka.messages import EffectDone, EffectFailed, RecordRef


class Completion:
    """Handed along with an event; the last actor of the chain reports the effect through it, once."""

    def __init__(self, bridge: pykka.ActorRef[Any], ref: RecordRef) -> None:
        self._bridge = bridge
        self.ref = ref
        self._lock = threading.Lock()
        self._settled = False

    def _settle(self) -> bool:
        with self._lock:
            if self._settled:
                return False
            self._settled = True
            return True

    def done(self) -> None:
        """The effect of the event is complete: its offset may be committed."""
        if self._settle():
            self._bridge.tell(EffectDone(ref=self.ref))

    def fail(self, reason: str, *, retryable: bool = True) -> None:
        """The effect failed; retryable failures are retried with backoff, others go to the DLQ."""
        if self._settle():
            self._bridge.tell(EffectFailed(ref=self.ref, reason=reason, retryable=retryable))
