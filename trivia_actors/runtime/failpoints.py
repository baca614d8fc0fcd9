"""Failpoints: named places where a fault-injection run makes its own process die with SIGKILL.

A crash at the worst moment (between the database commit and the publish, in the middle of a batch, before
the offset commit) is what the exactly-once design must survive; a signal from outside lands there only by
luck. ``TRIVIA_FAILPOINTS`` (``name=probability,...``) arms them, and only with ``TRIVIA_ENV=test``; in
every other process :func:`hit` is one dictionary lookup that finds nothing.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trivia_actors.runtime.settings import Settings

logger = logging.getLogger(__name__)

# Every place the code can die on purpose; TRIVIA_FAILPOINTS may name only these.
KNOWN = frozenset({
    "bridge.mid_batch",  # between two records of one polled batch
    "bridge.before_commit",  # effects done, offsets not yet committed
    "persist.after_commit",  # the transaction is committed, its results not yet published
    "publish.after_send",  # one result handed to the producer, the rest not
})

_armed: dict[str, float] = {}
_rng = random.Random()


def arm(settings: Settings) -> None:
    """Arm the failpoints the settings name (validated there: known names, test environment only)."""
    _armed.clear()
    _armed.update(dict(settings.failpoints))
    if _armed:
        logger.warning("failpoints armed: %s", ", ".join(f"{k}={v:g}" for k, v in sorted(_armed.items())))


def hit(name: str) -> None:
    """Die here with the armed probability (SIGKILL: no clean-up, no flush, as a power cut)."""
    probability = _armed.get(name)
    if probability and _rng.random() < probability:
        logger.warning("failpoint %s: killing process %d", name, os.getpid())
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
