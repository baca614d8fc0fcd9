"""The endpoints of API v1, one module per resource, and :data:`OPERATIONS`: the route table and the document.

Each resource module (``auth``, ``games``, ``requests``, ``leaderboard``, ``players``, ``ops``) holds its
handlers and its own part of the table; this facade puts the parts together in the document's order. Writes
answer 202 (:mod:`.commands`): the API validates, authenticates, records a request status, produces the
command and returns the request id; the worker does the game logic. Reads come from PostgreSQL.
"""

from gateways.api.openapi import Operation
from gateways.api.routes import auth, games, leaderboard, ops, players, requests

__all__ = ["DESCRIPTION", "OPERATIONS"]

OPERATIONS: list[Operation] = [
    *auth.OPERATIONS,
    *games.OPERATIONS,
    *requests.OPERATIONS,
    *leaderboard.OPERATIONS,
    *players.OPERATIONS,
    *ops.OPERATIONS,
]

DESCRIPTION = (
    "Play the trivia games of the Telegram bot over HTTP. Get an access token with client credentials at "
    "/v1/auth/token and send it as `Authorization: Bearer <token>`. Writes answer 202 with a request id: "
    "poll GET /v1/requests/{id}?wait=N for the outcome. Every error is JSON "
    '`{"error": {"code", "message"}}`; 422 lists each invalid field in `details`. Every response carries '
    "an X-Request-Id header (echoing a valid incoming one)."
)
