"""``/v1/players``: the calling player, or one the caller may read, with their statistics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateways.api.auth import Principal
from gateways.api.errors import ApiError
from gateways.api.openapi import PLAYER_ID, PLAYER_SUBJECT, Operation, Param, Reply, error_reply, ref
from gateways.api.routes.common import BAD_REQUEST, PLAYING
from gateways.api.security import context_of, player_subject, public_player_id, subject_for_player_id


async def _player_view(request: Request, principal: Principal, subject: str | None) -> Response:
    context = context_of(request)
    player_id = public_player_id(principal, subject) if subject else None
    player = await context.db(context.store.player, subject) if subject and player_id else None
    if player is None or player_id is None:
        raise ApiError(404, "not_found", "no such player")
    return JSONResponse({"player_id": player_id, **player})


async def player_me(request: Request, principal: Principal) -> Response:
    """The calling player (X-Player-Id, or X-Player-Subject for a service) with their statistics."""
    return await _player_view(request, principal, player_subject(request, principal))


async def player_stats(request: Request, principal: Principal) -> Response:
    """A player's statistics: one of the client's own players (service and admin: also `tg:<id>`)."""
    subject = subject_for_player_id(principal, request.path_params["player_id"])
    response = await _player_view(request, principal, subject)
    return response


OPERATIONS: list[Operation] = [
    Operation(
        method="GET", path="/v1/players/me", handler=player_me, operation_id="getMe", tag="players",
        summary="The calling player and their statistics", scopes=PLAYING, params=(PLAYER_ID, PLAYER_SUBJECT),
        replies=(Reply(status=200, description="The player.", schema=ref("Player")), BAD_REQUEST,
                 error_reply(404, "The player has not played yet, or is not the caller's to read.")),
    ),
    Operation(
        method="GET", path="/v1/players/{player_id}/stats", handler=player_stats, operation_id="getPlayerStats",
        tag="players", summary="A player's statistics", scopes=PLAYING,
        description="`player_id` is the id within the calling client (the X-Player-Id it plays with); service "
                    "and admin tokens may also read Telegram players as `tg:<telegram user id>`.",
        params=(Param(name="player_id", location="path", required=True, schema={"type": "string"}),),
        replies=(Reply(status=200, description="The player.", schema=ref("Player")),
                 error_reply(404, "No such player among those the caller may read.")),
    ),
]
