"""``/v1/leaderboard``: players ranked by the points of their answers, a page at a time.

Pages are walked with an opaque cursor that carries where the last page ended (and its rank), so equal points
keep sharing a rank across pages.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateways.api.auth import Principal
from gateways.api.errors import ApiError
from gateways.api.openapi import Operation, Param, Reply, error_reply, ref
from gateways.api.routes.common import INVALID, PLAYING
from gateways.api.security import context_of, public_player_id
from schema.models import utcnow

LEADERBOARD_DEFAULT_LIMIT = 20
LEADERBOARD_MAX_LIMIT = 100
WEEK = dt.timedelta(days=7)
SCOPE_PATTERN = re.compile(r"global|chat:(-?[0-9]{1,19})")
SCOPE_SCHEMA_PATTERN = "^(global|chat:-?[0-9]{1,19})$"


def _invalid_query(name: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"invalid query: {name} {message}",
                    details=[{"path": name, "message": message}])


def _encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    bad = ApiError(400, "invalid_cursor", "the cursor is not one this API returned")
    if len(cursor) > 500:
        raise bad
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    expected: dict[str, type | tuple[type, ...]] = {
        "v": int, "scope": str, "period": str, "since": (int, type(None)), "points": int, "user": int, "rank": int,
        "seen": int,
    }
    if not isinstance(state, dict) or set(state) != set(expected) or state["v"] != 1:
        raise bad
    for key, kind in expected.items():
        if isinstance(state[key], bool) or not isinstance(state[key], kind):
            raise bad
    if not SCOPE_PATTERN.fullmatch(state["scope"]) or state["period"] not in {"all", "week"}:
        raise bad
    if abs(state["points"]) > 2**62 or not 0 < state["user"] < 2**62 or not 0 < state["rank"] <= state["seen"] < 2**62:
        raise bad
    if state["since"] is not None and not 0 <= state["since"] < 2**40:
        raise bad
    return state


async def leaderboard(request: Request, principal: Principal) -> Response:
    """Players ranked by points from their answers, a page at a time (opaque ``cursor`` for the next page)."""
    context = context_of(request)
    query = request.query_params
    raw_limit = query.get("limit", str(LEADERBOARD_DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= LEADERBOARD_MAX_LIMIT:
        raise _invalid_query("limit", f"must be an integer between 1 and {LEADERBOARD_MAX_LIMIT}")
    limit = int(raw_limit)
    scope_raw, period_raw, cursor_raw = query.get("scope"), query.get("period"), query.get("cursor")
    if scope_raw is not None and not SCOPE_PATTERN.fullmatch(scope_raw):
        raise _invalid_query("scope", "must be 'global' or 'chat:<chat id>'")
    if period_raw is not None and period_raw not in {"all", "week"}:
        raise _invalid_query("period", "must be 'all' or 'week'")
    state = _decode_cursor(cursor_raw) if cursor_raw else None
    if state is not None and ((scope_raw or state["scope"]) != state["scope"]
                              or (period_raw or state["period"]) != state["period"]):
        raise ApiError(400, "invalid_cursor", "the cursor belongs to another scope or period")
    scope = state["scope"] if state else scope_raw or "global"
    period = state["period"] if state else period_raw or "all"
    if state is not None:
        since_epoch = state["since"]
    elif period == "week":
        since_epoch = int((utcnow() - WEEK).replace(tzinfo=dt.UTC).timestamp())
    else:
        since_epoch = None
    since = None if since_epoch is None else dt.datetime.fromtimestamp(since_epoch, dt.UTC).replace(tzinfo=None)
    matched = SCOPE_PATTERN.fullmatch(scope)
    chat_id = int(matched.group(1)) if matched and matched.group(1) else None
    if chat_id is not None and not -(2**63) <= chat_id < 2**63:
        raise _invalid_query("scope", "chat id out of range")
    rows = await context.db(
        context.store.leaderboard, chat_id=chat_id,
        # A chat's board covers the caller's own games in that chat (admin: every client's).
        client_id=None if principal.has("admin") else principal.client_id,
        since=since, after=(state["points"], state["user"]) if state else None, limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    seen = state["seen"] if state else 0
    last_points, last_rank = (state["points"], state["rank"]) if state else (None, 0)
    entries = []
    for row in page:
        seen += 1
        rank = last_rank if row["points"] == last_points else seen
        last_points, last_rank = row["points"], rank
        entries.append({"rank": rank, "player_id": public_player_id(principal, row["subject"]),
                        "display_name": row["display_name"], "points": row["points"], "answers": row["answers"],
                        "correct": row["correct"]})
    next_cursor = None
    if more and page:
        next_cursor = _encode_cursor({"v": 1, "scope": scope, "period": period, "since": since_epoch,
                                      "points": page[-1]["points"], "user": page[-1]["user_id"], "rank": last_rank,
                                      "seen": seen})
    return JSONResponse({"scope": scope, "period": period, "entries": entries, "next_cursor": next_cursor})


OPERATIONS: list[Operation] = [
    Operation(
        method="GET", path="/v1/leaderboard", handler=leaderboard, operation_id="getLeaderboard", tag="players",
        summary="Players ranked by points", scopes=PLAYING,
        description="`scope=global` ranks every player of the platform; `scope=chat:<id>` ranks the answers in "
                    "that chat's games of the calling client (admin: of every client). `period=week` counts "
                    "answers of the last 7 days. Pages are walked with the opaque `next_cursor`.",
        params=(Param(name="scope", location="query", schema={"type": "string", "pattern": SCOPE_SCHEMA_PATTERN},
                      description="`global` (default) or `chat:<chat id>` (a 64-bit integer)."),
                Param(name="period", location="query", schema={"type": "string", "enum": ["all", "week"]},
                      description="`all` (default) or `week`."),
                Param(name="limit", location="query",
                      schema={"type": "integer", "minimum": 1, "maximum": LEADERBOARD_MAX_LIMIT},
                      description=f"Entries per page (default {LEADERBOARD_DEFAULT_LIMIT})."),
                Param(name="cursor", location="query", schema={"type": "string", "maxLength": 500},
                      description="The `next_cursor` of the previous page.")),
        replies=(Reply(status=200, description="One page of the leaderboard.", schema=ref("Leaderboard")),
                 error_reply(400, "The cursor is malformed or belongs to another scope or period."), INVALID),
    ),
]
