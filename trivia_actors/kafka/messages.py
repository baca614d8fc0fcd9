"""Messages of the consumer bridge: the queries its owner asks, and the effect reports of a completion.

The owner of a bridge (a process's wiring) asks :class:`IsAssigned`, :class:`Drain` and :class:`CountInFlight`
with a timeout; a :class:`~trivia_actors.kafka.completion.Completion` tells :class:`EffectDone` or
:class:`EffectFailed` once, when the last actor of a record's chain is through with it.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class RecordRef:
    """Where a record came from, and in which assignment generation it was polled."""

    topic: str
    partition: int
    offset: int
    generation: int


@attrs.frozen(kw_only=True)
class IsAssigned:
    """Query: has the consumer joined its group and been given partitions? Replies a bool."""


@attrs.frozen(kw_only=True)
class Drain:
    """Take no new records (in-flight ones still complete and are committed); replies how many are in flight."""


@attrs.frozen(kw_only=True)
class CountInFlight:
    """Query: how many records are dispatched and not settled yet? Replies an int."""


@attrs.frozen(kw_only=True)
class EffectDone:
    """The effect of the record at ``ref`` is complete: its offset may be committed."""

    ref: RecordRef


@attrs.frozen(kw_only=True)
class EffectFailed:
    """The effect of the record at ``ref`` failed: retried with backoff when ``retryable``, else dead-lettered."""

    ref: RecordRef
    reason: str
    retryable: bool
