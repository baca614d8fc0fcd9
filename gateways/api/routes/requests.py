"""``/v1/requests/{request_id}``: a command's status and result, long-polled with ``?wait=N``."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateways.api.auth import Principal
from gateways.api.errors import ApiError
from gateways.api.openapi import Operation, Param, Reply, error_reply, ref
from gateways.api.routes.common import INVALID, PLAYING
from gateways.api.routes.longpoll import outcome, wait_seconds
from gateways.api.security import context_of


async def get_request(request: Request, principal: Principal) -> Response:
    """A request's status; ``?wait=N`` long-polls up to N seconds (at most 30) for its result."""
    context = context_of(request)
    try:
        request_id = str(uuid.UUID(request.path_params["request_id"]))
    except ValueError:
        raise ApiError(404, "not_found", "no such request") from None
    wait = wait_seconds(request.query_params.get("wait", "0"))
    view = await outcome(context, request_id, principal.client_id, wait)
    if view is None:
        raise ApiError(404, "not_found", "no such request")
    return JSONResponse(view)


OPERATIONS: list[Operation] = [
    Operation(
        method="GET", path="/v1/requests/{request_id}", handler=get_request, operation_id="getRequest",
        tag="games", summary="A request's status and result (long poll)", scopes=PLAYING,
        params=(Param(name="request_id", location="path", required=True, schema={"type": "string"}),
                Param(name="wait", location="query", schema={"type": "number", "minimum": 0},
                      description="Seconds to wait for the result (values above 30 count as 30).")),
        replies=(Reply(status=200, description="The request.", schema=ref("RequestStatus")),
                 error_reply(404, "No such request for this client."), INVALID),
    ),
]
