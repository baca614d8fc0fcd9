"""A command's request: record its status (idempotently), produce the command, answer 202.

Every write of the API goes through :func:`submit`; the replies it can give (and its ``wait`` parameter)
are documented here once for every command route.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateways.api.auth import Principal
from gateways.api.errors import ApiError, unavailable
from gateways.api.openapi import Param, Reply, error_reply, ref
from gateways.api.routes.longpoll import outcome, wait_seconds
from gateways.api.security import context_of
from schema.events import Envelope, Payload
from schema.models import RequestStatus, utcnow
from trivia_actors.kafka import BrokerUnavailable
from trivia_actors.rules import SETTLED, RequestState

logger = logging.getLogger(__name__)

REPRODUCE_PENDING_AFTER_S = 10.0  # a retry of a request pending this long produces its command again

ACCEPTED = Reply(status=202, description="Accepted: poll the request for the outcome.", schema=ref("Accepted"),
                 headers=("Location",))
SETTLED_REPLY = Reply(status=200, description="Settled within `wait` seconds: the request and its result, as "
                                              "GET /v1/requests/{request_id} gives them.",
                      schema=ref("RequestStatus"), headers=("Location",))
COMMAND_WAIT = Param(name="wait", location="query", schema={"type": "number", "minimum": 0},
                     description="Seconds (at most 30) to wait for the outcome: if it comes in time the answer is "
                                 "200 with the settled request, saving the poll; otherwise 202 as without it.")
CONFLICT = error_reply(409, "The Idempotency-Key was already used for a different request.")


async def submit(request: Request, principal: Principal, *, kind: str, game_id: str, subject: str,
                 payload: Payload, key: str | None, chat_id: int | None = None) -> JSONResponse:
    """Record the request (idempotently), produce its command, answer 202 with the request id; with
    ``?wait=N``, 200 with the settled request if its result comes within N seconds."""
    context = context_of(request)
    wait = wait_seconds(request.query_params.get("wait", "0"))
    row, created = await context.db(
        context.store.create_request,
        request_id=str(uuid.uuid4()), client_id=principal.client_id, subject=subject, kind=kind,
        game_id=game_id, idempotency_key=key,
    )
    if not created and (row.kind != kind or row.subject != subject or (
            kind != "game.create" and row.game_id != game_id)):
        raise ApiError(409, "idempotency_conflict",
                       "this Idempotency-Key was already used for a different request")
    retry_of_refused = (not created and row.status == RequestState.FAILED
                        and (row.error or {}).get("code") == "broker_unavailable")
    # Still pending long after it was recorded: the process that recorded it may have died before producing
    # its command. Producing it again is safe: the worker applies a request once, by its id and key.
    stalled = (not created and row.status == RequestState.PENDING
               and _seconds_since(row.updated_at) > REPRODUCE_PENDING_AFTER_S)
    if retry_of_refused or stalled:
        if await context.db(context.store.reopen, row.id, from_status=row.status, unchanged_since=row.updated_at):
            # What the reopen wrote: answer from it, not the old read.
            row.status, row.error = RequestState.PENDING.value, None
        else:
            retry_of_refused = stalled = False  # settled (or retried) meanwhile: nothing to produce; read it anew
            fresh: RequestStatus | None = await context.db(context.store.get_request, row.id)
            row = fresh or row
    if created or retry_of_refused or stalled:
        envelope = Envelope(request_id=row.id, game_id=row.game_id or game_id, chat_id=chat_id, user_id=subject,
                            payload=payload)
        if stalled:
            logger.info("request %s (game %s) still pending after %.0fs: producing its command again", row.id,
                        row.game_id, _seconds_since(row.updated_at))
        try:
            await context.produce(envelope)
        except BrokerUnavailable:
            await context.db(context.store.set_status, row.id, RequestState.FAILED.value,
                             {"code": "broker_unavailable", "message": "the broker did not accept the request"})
            logger.warning("request %s (game %s): broker unavailable", row.id, row.game_id)
            raise unavailable("the message broker is unavailable; retry with the same Idempotency-Key") from None
    if wait > 0:
        view = await outcome(context, row.id, principal.client_id, wait, row=row)
        if view is not None and view["status"] in SETTLED:
            return JSONResponse(view, headers={"Location": f"/v1/requests/{row.id}"})
    body = {"request_id": row.id, "game_id": row.game_id,
            "status": RequestState.PENDING.value if created else row.status,
            "links": {"request": f"/v1/requests/{row.id}", "game": f"/v1/games/{row.game_id}"}}
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/requests/{row.id}"})


def _seconds_since(moment: dt.datetime | None) -> float:
    return 0.0 if moment is None else (utcnow() - moment).total_seconds()
