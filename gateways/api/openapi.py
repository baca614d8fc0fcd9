"""The API's description as data: each :class:`Operation` is both a route and its OpenAPI 3.1 entry.

``create_app`` builds the Starlette routes from the same list of operations that :func:`build_document`
turns into ``/openapi.json``: the handler, the scopes the wrapper enforces, the request body validators
(whose JSON Schemas come from :mod:`gateways.api.validation`), the parameters and every status code a route
can answer. There is no second description to drift out of date.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from starlette.responses import Response

from gateways.api.validation import MAX_BODY_BYTES

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
RATE_BY_IP = "ip"  # an Operation's rate_limit_key: unauthenticated routes are limited by the caller's address

Handler = Callable[..., Awaitable[Response]]


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


@attrs.frozen(kw_only=True)
class Param:
    """A query, path or header parameter."""

    name: str
    location: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@attrs.frozen(kw_only=True)
class Reply:
    """One documented response: status, description, body schema and headers it always carries."""

    status: int
    description: str
    schema: dict[str, Any] | None = None
    media_type: str = JSON
    headers: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Operation:
    """One route of the API and everything the document says about it."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    scopes: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    body_media: tuple[str, ...] = (JSON,)
    body_required: bool = False
    replies: tuple[Reply, ...] = ()
    rate_limit_key: str | None = None

    @property
    def authenticated(self) -> bool:
        """True when a bearer token is required."""
        return bool(self.scopes)

    def all_replies(self) -> tuple[Reply, ...]:
        """The route's own replies plus those every route of its kind can give."""
        extra: list[Reply] = []
        if self.body is not None or self.method == "POST":
            extra.append(error_reply(413, f"The request body is larger than {MAX_BODY_BYTES} bytes."))
        if self.authenticated:
            extra += [
                Reply(status=401, description="No bearer token, or the token is invalid, expired or revoked.",
                      schema=ref("Error"), headers=("WWW-Authenticate",)),
                error_reply(403, "The token lacks every scope this operation accepts."),
            ]
        if self.authenticated or self.rate_limit_key:
            extra.append(Reply(status=429, description="The client's request rate limit is reached.",
                               schema=ref("Error"), headers=("Retry-After",)))
        if self.authenticated and not any(r.status == 503 for r in self.replies):
            extra.append(Reply(status=503, description="A dependency (database or broker) is unavailable.",
                               schema=ref("Error"), headers=("Retry-After",)))
        extra.append(error_reply(500, "An unexpected failure (no details are disclosed)."))
        own = {r.status for r in self.replies}
        return tuple(sorted([*self.replies, *(r for r in extra if r.status not in own)], key=lambda r: r.status))


def error_reply(status: int, description: str) -> Reply:
    """A reply whose body is the standard error object."""
    return Reply(status=status, description=description, schema=ref("Error"))


# --- shared parameters -------------------------------------------------------------------------------

PLAYER_ID = Param(
    name="X-Player-Id", location="header", schema={"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
    description="The player acting through this client (namespaced by client: `api:<client>:<id>`). "
                "Defaults to `default`.",
)
PLAYER_SUBJECT = Param(
    name="X-Player-Subject", location="header", schema={"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
    description="Service tokens only: the player's full subject, e.g. `tg:12345`. Ignored for player tokens.",
)
IDEMPOTENCY_KEY = Param(
    name="Idempotency-Key", location="header", schema={"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
    description="Repeating a request with the same key returns the first request instead of acting twice.",
)
GAME_ID = Param(name="game_id", location="path", required=True, schema={"type": "string"},
                description="The game's UUID (anything else is reported as not found).")


# --- component schemas -------------------------------------------------------------------------------

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULL_STR = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_TIME = {"type": "string", "format": "date-time"}


def _obj(properties: dict[str, Any], *, required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, "additionalProperties": extra}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj({
        "error": _obj({
            "code": {**_STR, "description": "Machine-readable code, e.g. `invalid_token`, `validation_error`."},
            "message": {**_STR, "description": "Human-readable explanation; never a stack trace or SQL."},
            "details": {"type": "array", "items": _obj({"path": _STR, "message": _STR}),
                        "description": "Per-field problems (422): the JSON path of each field and what is wrong."},
        }, required=["code", "message"]),
    }),
    "Token": _obj({
        "access_token": {**_STR, "description": "A short-lived JWT to send as `Authorization: Bearer`."},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {**_INT, "description": "Seconds until the access token expires."},
        "scope": {**_STR, "description": "Space-separated granted scopes."},
        "refresh_token": {**_STR, "description": "Opaque, single use: exchange it at /v1/auth/refresh."},
        "refresh_expires_in": {**_INT, "description": "Seconds until the refresh token expires."},
    }),
    "Accepted": _obj({
        "request_id": {**_STR, "format": "uuid"},
        "game_id": {**_STR, "format": "uuid"},
        "status": {"type": "string", "enum": ["pending", "processing", "done", "failed"]},
        "links": _obj({"request": _STR, "game": _STR}),
    }),
    "Question": _obj({
        "no": _INT, "text": _STR, "options": {"type": "array", "items": _STR}, "category": _STR,
        "difficulty": _STR,
    }),
    "Game": _obj({
        "game_id": {**_STR, "format": "uuid"},
        "status": {**_STR, "description": "`active`, then `finished` or `stopped`."},
        "mode": _STR,
        "category": _NULL_STR,
        "difficulty": _NULL_STR,
        "question_count": _INT,
        "current_question_no": _NULL_INT,
        "current_question": {"oneOf": [ref("Question"), {"type": "null"}],
                             "description": "The open question (never its answer), null when none is open."},
        "score": _INT,
        "streak": _INT,
        "correct_count": _INT,
        "time_limit_s": {"type": "number"},
        "created_at": _TIME,
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    }),
    "RequestStatus": _obj({
        "request_id": {**_STR, "format": "uuid"},
        "kind": {**_STR, "description": "`game.create`, `answer.submit`, `hint.request` or `game.finish`."},
        "status": {"type": "string", "enum": ["pending", "processing", "done", "failed"]},
        "game_id": _NULL_STR,
        "result": {
            "oneOf": [_obj({"type": {**_STR, "description": "`game.created`, `answer.evaluated`, `hint.created` "
                                                            "or `game.finished`; the event's fields follow."}},
                           extra=True),
                      {"type": "null"}],
        },
        "error": {"oneOf": [_obj({"code": _STR, "message": _STR}, extra=True), {"type": "null"}]},
    }),
    "Categories": _obj({
        "categories": {"type": "array", "items": _obj({
            "slug": _STR, "questions": _INT,
            "difficulties": {"type": "object", "additionalProperties": _INT},
        })},
    }),
    "LeaderboardEntry": _obj({
        "rank": {**_INT, "minimum": 1, "description": "Competition rank: equal points share a rank."},
        "player_id": {**_NULL_STR, "description": "The id to use with /v1/players/{player_id}/stats, or null when "
                                                  "the caller may not read that player."},
        "display_name": _STR,
        "points": _INT,
        "answers": _INT,
        "correct": _INT,
    }),
    "Leaderboard": _obj({
        "scope": _STR,
        "period": {"type": "string", "enum": ["all", "week"]},
        "entries": {"type": "array", "items": ref("LeaderboardEntry")},
        "next_cursor": {**_NULL_STR, "description": "Pass as `cursor` for the next page; null on the last page."},
    }),
    "PlayerStats": _obj({
        "games": _INT,
        "answers": _INT,
        "correct": _INT,
        "accuracy": {"type": "number", "minimum": 0, "maximum": 1},
        "best_streak": _INT,
        "average_response_ms": _NULL_INT,
        "total_points": _INT,
    }),
    "Player": _obj({
        "player_id": _STR,
        "subject": _STR,
        "display_name": _STR,
        "telegram_id": _NULL_INT,
        "created_at": _TIME,
        "stats": ref("PlayerStats"),
    }),
    "Revoked": _obj({"jti": _STR, "revoked": {"type": "boolean"}}),
    "Health": _obj({"status": {"type": "string", "enum": ["ok"]}}),
    "Ready": _obj({"status": {"type": "string", "enum": ["ok", "unavailable"]}, "database": {"type": "boolean"},
                   "broker": {"type": "boolean"}}),
}

HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "Location": {"description": "Where to poll the request's status.", "required": True, "schema": _STR},
    "WWW-Authenticate": {"description": "The bearer challenge (RFC 6750).", "required": True, "schema": _STR},
}


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "in": param.location, "required": param.required,
                           "schema": param.schema}
    if param.description:
        out["description"] = param.description
    return out


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        out["content"] = {reply.media_type: {"schema": reply.schema}}
    if reply.headers:
        out["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in reply.headers}
    return out


def _operation(op: Operation) -> dict[str, Any]:
    description = op.description
    if op.scopes:
        description = (description + "\n\n" if description else "") + "Scopes: " + ", ".join(
            f"`{s}`" for s in op.scopes) + " (`admin` implies every scope)."
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {str(r.status): _reply(r) for r in op.all_replies()},
    }
    if description:
        out["description"] = description
    out["security"] = [{"bearer": []}] if op.scopes else []
    if op.scopes:
        # Any one of these scopes is enough (a bearer scheme has no scope list of its own in OpenAPI).
        out["x-scopes"] = list(op.scopes)
    if op.params:
        out["parameters"] = [_parameter(p) for p in op.params]
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required,
                              "content": {media: {"schema": op.body} for media in op.body_media}}
    return out


def build_document(operations: list[Operation], *, description: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    tags: list[str] = []
    for op in operations:
        if op.tag not in tags:
            tags.append(op.tag)
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "Trivia platform API", "version": API_VERSION, "description": description,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "headers": HEADERS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "An access token from /v1/auth/token or /v1/auth/refresh."},
            },
        },
    }
