"""Waiting for a request's outcome: the ``wait`` parameter and the long poll behind it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from gateways.api.context import ApiContext
from gateways.api.errors import ApiError
from gateways.api.store import request_view, settled_view
from schema.models import RequestStatus
from trivia_actors.rules import SETTLED

MAX_WAIT_S = 30.0
RECHECK_S = 0.5


def wait_seconds(raw: str) -> float:
    """The ``wait`` query parameter in seconds, capped at :data:`MAX_WAIT_S`; 422 unless a number >= 0."""
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait) or wait < 0:
        raise ApiError(422, "validation_error", "wait must be a number of seconds (0 or more)",
                       details=[{"path": "wait", "message": "expected a number of seconds, 0 or more"}])
    return min(wait, MAX_WAIT_S)


async def outcome(context: ApiContext, request_id: str, client_id: str, wait: float,
                  row: RequestStatus | None = None) -> dict[str, Any] | None:
    """A request's public view, once settled or after ``wait`` seconds; None if ``client_id`` has no such request.

    ``row`` is the status already in hand (just inserted, say), which saves the first read. The worker
    publishes a result only after storing it, so a result the listener has seen is the stored outcome and
    needs no second read; a wake-up the listener missed costs one re-read.
    """
    deadline = time.monotonic() + wait
    listener = context.listener
    while True:
        event = listener.register(request_id) if listener is not None else None
        try:
            if row is None:
                row = await context.db(context.store.get_request, request_id)
                if row is None or row.client_id != client_id:
                    return None
            remaining = deadline - time.monotonic()
            if row.status in SETTLED or remaining <= 0:
                return request_view(row)
            seen = listener.recent(request_id) if listener is not None else None
            if seen is None and event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, RECHECK_S * 4))
                seen = listener.recent(request_id) if listener is not None else None
            elif seen is None:
                await asyncio.sleep(min(remaining, RECHECK_S))
            if seen is not None:
                return settled_view(row, seen)
            row = None  # read it again
        finally:
            if event is not None and listener is not None:
                listener.unregister(request_id, event)
