"""The endpoints of API v1 and :data:`OPERATIONS`, the one list that is both the route table and the document.

Writes answer 202: the API validates, authenticates, records a request status, produces the command and
returns the request id; the worker does the game logic. Reads come from PostgreSQL. A resource of another
client (or, for a player token, of another player) is reported as missing: its existence is not disclosed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import functools
import json
import logging
import math
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateways.api import validation as v
from gateways.api.auth import Principal, hash_secret, verify_secret
from gateways.api.context import ApiContext
from gateways.api.docs_page import CONTENT_SECURITY_POLICY, HTML
from gateways.api.errors import ApiError, unavailable
from gateways.api.openapi import (
    FORM,
    GAME_ID,
    IDEMPOTENCY_KEY,
    JSON,
    PLAYER_ID,
    PLAYER_SUBJECT,
    Operation,
    Param,
    Reply,
    error_reply,
    ref,
)
from gateways.api.security import (
    context_of,
    idempotency_key,
    player_subject,
    public_player_id,
    subject_for_player_id,
)
from gateways.api.store import request_view, settled_view
from gateways.api.tokens import IssueAccess, IssuedTokens, RefreshError
from schema.events import AnswerSubmit, Envelope, GameCreate, GameFinish, HintRequest, Payload
from schema.models import RequestStatus, utcnow
from trivia_actors.kafka import BrokerUnavailable

logger = logging.getLogger(__name__)

MAX_WAIT_S = 30.0
SETTLED = ("done", "failed")
REPRODUCE_PENDING_AFTER_S = 10.0  # a retry of a request pending this long produces its command again
RECHECK_S = 0.5
DIFFICULTIES = ("easy", "medium", "hard")
LEADERBOARD_DEFAULT_LIMIT = 20
LEADERBOARD_MAX_LIMIT = 100
WEEK = dt.timedelta(days=7)
SCOPE_PATTERN = re.compile(r"global|chat:(-?[0-9]{1,19})")
SCOPE_SCHEMA_PATTERN = "^(global|chat:-?[0-9]{1,19})$"
PLAYING = ("player", "service")


# --- shared steps ------------------------------------------------------------------------------------


async def read_json(request: Request) -> Any:
    """The JSON body, bounded in size (the middleware also refuses oversized bodies up front)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > v.MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return v.parse_json_body(b"".join(chunks))


async def read_form_or_json(request: Request) -> Any:
    """A form-encoded body (OAuth 2 style) or a JSON one."""
    if request.headers.get("content-type", "").startswith(FORM):
        raw = await request.body()
        if len(raw) > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "request body too large")
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    return await read_json(request)


def _game_uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(404, "not_found", "no such game") from None


async def _owned_game(request: Request, principal: Principal, subject: str, *,
                      full_view: bool = False) -> dict[str, Any]:
    """The game of the path if ``principal`` may see it (404 otherwise): its access facts, or its whole view."""
    context = context_of(request)
    game_id = _game_uuid(request.path_params["game_id"])
    game = await context.db(context.store.get_game if full_view else context.store.game_access, game_id)
    if game is None or game["client_id"] != principal.client_id or (
        not principal.has("service") and game["subject"] != subject
    ):
        raise ApiError(404, "not_found", "no such game")
    return game


async def submit(request: Request, principal: Principal, *, kind: str, game_id: str, subject: str,
                 payload: Payload, key: str | None, chat_id: int | None = None) -> JSONResponse:
    """Record the request (idempotently), produce its command, answer 202 with the request id; with
    ``?wait=N``, 200 with the settled request if its result comes within N seconds."""
    context = context_of(request)
    wait = _wait_seconds(request.query_params.get("wait", "0"))
    row, created = await context.db(
        context.store.create_request,
        request_id=str(uuid.uuid4()), client_id=principal.client_id, subject=subject, kind=kind,
        game_id=game_id, idempotency_key=key,
    )
    if not created and (row.kind != kind or row.subject != subject or (
            kind != "game.create" and row.game_id != game_id)):
        raise ApiError(409, "idempotency_conflict",
                       "this Idempotency-Key was already used for a different request")
    retry_of_refused = not created and row.status == "failed" and (row.error or {}).get("code") == "broker_unavailable"
    # Still pending long after it was recorded: the process that recorded it may have died before producing
    # its command. Producing it again is safe: the worker applies a request once, by its id and key.
    stalled = not created and row.status == "pending" and _seconds_since(row.updated_at) > REPRODUCE_PENDING_AFTER_S
    if retry_of_refused or stalled:
        if await context.db(context.store.reopen, row.id, from_status=row.status, unchanged_since=row.updated_at):
            row.status, row.error = "pending", None  # what the reopen wrote: answer from it, not the old read
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
            await context.db(context.store.set_status, row.id, "failed",
                             {"code": "broker_unavailable", "message": "the broker did not accept the request"})
            logger.warning("request %s (game %s): broker unavailable", row.id, row.game_id)
            raise unavailable("the message broker is unavailable; retry with the same Idempotency-Key") from None
    if wait > 0:
        view = await _outcome(context, row.id, principal.client_id, wait, row=row)
        if view is not None and view["status"] in SETTLED:
            return JSONResponse(view, headers={"Location": f"/v1/requests/{row.id}"})
    body = {"request_id": row.id, "game_id": row.game_id, "status": "pending" if created else row.status,
            "links": {"request": f"/v1/requests/{row.id}", "game": f"/v1/games/{row.game_id}"}}
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/requests/{row.id}"})


def _seconds_since(moment: dt.datetime | None) -> float:
    return 0.0 if moment is None else (utcnow() - moment).total_seconds()


def _token_body(context: ApiContext, issued: IssuedTokens, scopes: tuple[str, ...]) -> JSONResponse:
    return JSONResponse({"access_token": issued.access_token, "token_type": "Bearer",
                         "expires_in": context.tokens.ttl_s, "scope": " ".join(scopes),
                         "refresh_token": issued.refresh_token, "refresh_expires_in": issued.refresh_expires_in},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _issuer(context: ApiContext) -> IssueAccess:
    def issue(client_id: str, subject: str, scopes: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        return context.tokens.issue_with_claims(client_id=client_id, subject=subject, scopes=scopes)
    return issue


# --- auth --------------------------------------------------------------------------------------------


@functools.cache
def _decoy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(32))


TOKEN_FIELDS = {
    "grant_type": v.Field(v.string(64, choices=("client_credentials",)), required=True),
    "client_id": v.Field(v.string(64), required=True),
    "client_secret": v.Field(v.string(200), required=True),
    "scope": v.Field(v.string(100), description="Space-separated subset of the client's scopes."),
}


async def token(request: Request) -> Response:
    """OAuth 2 client-credentials grant (form or JSON) -> short-lived access token and a refresh token."""
    context = context_of(request)
    values = v.validate(await read_form_or_json(request), TOKEN_FIELDS)
    client = await context.db(context.store.find_client, values["client_id"])
    loop = asyncio.get_running_loop()
    # The hash is checked even for an unknown or revoked client, so timing does not tell which ids exist.
    stored = client.secret_hash if client is not None else _decoy_hash()
    matches = await loop.run_in_executor(context.db_pool, verify_secret, values["client_secret"], stored)
    if not matches or client is None or client.revoked:
        raise ApiError(401, "invalid_client", "unknown client or wrong secret")
    granted = tuple(client.scopes.split())
    if "scope" in values:
        asked = tuple(values["scope"].split())
        if not asked or not set(asked) <= set(granted):
            raise ApiError(403, "invalid_scope", "the client may not request that scope")
        granted = asked
    issued = await context.db(context.token_store.grant, client_id=client.client_id, subject=client.client_id,
                              scopes=granted, issue=_issuer(context))
    return _token_body(context, issued, granted)


REFRESH_FIELDS = {
    "grant_type": v.Field(v.string(64, choices=("refresh_token",))),
    "refresh_token": v.Field(v.string(200), required=True),
}


async def refresh(request: Request) -> Response:
    """Exchange a refresh token (once) for a new access token and a new refresh token of the same family."""
    context = context_of(request)
    values = v.validate(await read_form_or_json(request), REFRESH_FIELDS)
    try:
        issued = await context.db(context.token_store.rotate, values["refresh_token"], issue=_issuer(context))
    except RefreshError as exc:
        # The family's live access tokens are revoked in the database; this replica refuses them at once.
        context.revocations.add_jtis(list(exc.revoked_jtis))
        raise ApiError(401, "invalid_grant", str(exc)) from None
    return _token_body(context, issued, tuple(str(issued.claims["scope"]).split()))


REVOKE_FIELDS = {"jti": v.Field(v.string(64), required=True, description="The `jti` claim of the access token.")}


async def revoke(request: Request, principal: Principal) -> Response:
    """Revoke one access token by its ``jti``: every replica refuses it within seconds (this one at once)."""
    context = context_of(request)
    values = v.validate(await read_json(request), REVOKE_FIELDS)
    await context.db(context.token_store.revoke_jti, values["jti"], reason=f"admin:{principal.client_id}")
    context.revocations.add_jti(values["jti"])
    logger.info("access token %s revoked by %s", values["jti"], principal.client_id)
    return JSONResponse({"jti": values["jti"], "revoked": True})


# --- games -------------------------------------------------------------------------------------------

PLAYER_FIELDS = {
    "subject": v.Field(v.string(200), required=True),
    "name": v.Field(v.string(64, min_length=0)),
    "telegram_id": v.Field(v.integer(1, 2**53)),
}
GAME_FIELDS = {
    "category": v.Field(v.string(64)),
    "difficulty": v.Field(v.string(16, choices=DIFFICULTIES)),
    "question_count": v.Field(v.integer(1, 50)),
    "time_limit_s": v.Field(v.number(5, 300)),
    "player_name": v.Field(v.string(64, min_length=0)),
    "answer_mode": v.Field(v.string(8, choices=("first", "all")),
                           description="Group games: the first correct answer wins, or all correct answers score."),
    "streak_enabled": v.Field(v.boolean(), description="Whether consecutive correct answers earn a bonus."),
    "speed_points": v.Field(v.boolean(), description="Faster correct answers earn more (off: full marks)."),
    "difficulty_weighted": v.Field(v.boolean(), description="Harder questions are worth more."),
    "hint_penalty_pct": v.Field(v.integer(0, 100), description="Points lost per hint, in percent."),
    "topic": v.Field(v.string(100), description="Any topic: questions generated by DeepSeek when configured, "
                                                "else (or when it is slow) from the bank."),
    "question_type": v.Field(v.string(10, choices=("buttons", "text", "truefalse")),
                             description="How questions are asked: options, typed answers, or true/false statements."),
}
SERVICE_GAME_FIELDS = {
    "question_type": v.Field(v.string(10, choices=("buttons", "text", "truefalse", "poll")),
                             description="As for clients, plus (service tokens only) poll: quiz-poll games carry "
                                         "each question's correct option."),
    "player": v.Field(v.obj(PLAYER_FIELDS), description="Service tokens only: the player the game is for."),
    "chat_id": v.Field(v.integer(-(2**53), 2**53), description="Service tokens only: the Telegram chat."),
    "mode": v.Field(v.string(16, choices=("solo", "group")), description="Service tokens only."),
}


async def create_game(request: Request, principal: Principal) -> Response:
    """Start a game: 202 with the request id; the questions arrive in the request's result."""
    body = await read_json(request)
    fields = {**GAME_FIELDS, **SERVICE_GAME_FIELDS} if principal.has("service") else GAME_FIELDS
    values = v.validate(body, fields)
    player = values.get("player") or {}
    subject = player.get("subject") or player_subject(request, principal)
    settings = context_of(request).settings
    game_id = str(uuid.uuid4())
    payload = GameCreate(
        client_id=principal.client_id,
        subject=subject,
        player_name=player.get("name") or values.get("player_name") or "",
        telegram_id=player.get("telegram_id"),
        mode=values.get("mode", "solo"),
        category=values.get("category"),
        difficulty=values.get("difficulty"),
        question_count=values.get("question_count", settings.default_question_count),
        time_limit_s=values.get("time_limit_s", settings.question_time_limit_s),
        answer_mode=values.get("answer_mode", "first"),
        streak_enabled=values.get("streak_enabled", True),
        speed_points=values.get("speed_points", True),
        difficulty_weighted=values.get("difficulty_weighted", True),
        hint_penalty_pct=values.get("hint_penalty_pct", 25),
        topic=values.get("topic"),
        question_type=values.get("question_type", "buttons"),
    )
    return await submit(request, principal, kind="game.create", game_id=game_id, subject=subject, payload=payload,
                        key=idempotency_key(request, required=False), chat_id=values.get("chat_id"))


async def get_game(request: Request, principal: Principal) -> Response:
    """The game's state and its open question (never the answer)."""
    game = await _owned_game(request, principal, player_subject(request, principal), full_view=True)
    return JSONResponse({k: val for k, val in game.items() if k not in {"client_id", "subject", "chat_id"}})


ANSWER_FIELDS = {
    "question_no": v.Field(v.integer(0, 1000), required=True),
    "option": v.Field(v.integer(0, 9), description="The chosen option's index (give this or `text`)."),
    "text": v.Field(v.string(500), description="A typed answer (give this or `option`)."),
    "player_name": v.Field(v.string(64, min_length=0), description="The answering player's display name."),
}


async def submit_answer(request: Request, principal: Principal) -> Response:
    """Answer the open question with an option index or typed text (Idempotency-Key required)."""
    key = idempotency_key(request, required=True)
    values = v.validate(await read_json(request), ANSWER_FIELDS)
    if ("option" in values) == ("text" in values):
        raise ApiError(422, "validation_error", "give exactly one of 'option' or 'text'",
                       details=[{"path": "$.option", "message": "exactly one of option or text"}])
    subject = player_subject(request, principal)
    game = await _owned_game(request, principal, subject)
    # In a group game the service answers for whichever member answered; otherwise for the game's owner.
    answering = subject if game["mode"] == "group" and principal.has("service") else game["subject"]
    payload = AnswerSubmit(client_id=principal.client_id, subject=answering, question_no=values["question_no"],
                           idempotency_key=str(key), option=values.get("option"), text=values.get("text"),
                           player_name=values.get("player_name", ""))
    return await submit(request, principal, kind="answer.submit", game_id=game["game_id"], subject=answering,
                        payload=payload, key=key, chat_id=game["chat_id"])


HINT_FIELDS = {"question_no": v.Field(v.integer(0, 1000), required=True)}


async def request_hint(request: Request, principal: Principal) -> Response:
    """Ask for a hint on the open question (costs part of its points)."""
    key = idempotency_key(request, required=False)
    values = v.validate(await read_json(request), HINT_FIELDS)
    game = await _owned_game(request, principal, player_subject(request, principal))
    payload = HintRequest(client_id=principal.client_id, subject=game["subject"], question_no=values["question_no"],
                          idempotency_key=key or str(uuid.uuid4()))
    return await submit(request, principal, kind="hint.request", game_id=game["game_id"], subject=game["subject"],
                        payload=payload, key=key, chat_id=game["chat_id"])


async def finish_game(request: Request, principal: Principal) -> Response:
    """End the game now."""
    key = idempotency_key(request, required=False)
    game = await _owned_game(request, principal, player_subject(request, principal))
    payload = GameFinish(client_id=principal.client_id, subject=game["subject"], reason="stopped")
    return await submit(request, principal, kind="game.finish", game_id=game["game_id"], subject=game["subject"],
                        payload=payload, key=key, chat_id=game["chat_id"])


def _wait_seconds(raw: str) -> float:
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait) or wait < 0:
        raise ApiError(422, "validation_error", "wait must be a number of seconds (0 or more)",
                       details=[{"path": "wait", "message": "expected a number of seconds, 0 or more"}])
    return min(wait, MAX_WAIT_S)


async def _outcome(context: ApiContext, request_id: str, client_id: str, wait: float,
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


async def get_request(request: Request, principal: Principal) -> Response:
    """A request's status; ``?wait=N`` long-polls up to N seconds (at most 30) for its result."""
    context = context_of(request)
    try:
        request_id = str(uuid.UUID(request.path_params["request_id"]))
    except ValueError:
        raise ApiError(404, "not_found", "no such request") from None
    wait = _wait_seconds(request.query_params.get("wait", "0"))
    view = await _outcome(context, request_id, principal.client_id, wait)
    if view is None:
        raise ApiError(404, "not_found", "no such request")
    return JSONResponse(view)


async def categories(request: Request, principal: Principal) -> Response:
    """The question categories with counts."""
    context = context_of(request)
    return JSONResponse({"categories": await context.db(context.store.categories)})


# --- leaderboard and players -------------------------------------------------------------------------


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


# --- operations and documentation --------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    """Liveness: the process serves requests."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers and the broker accepted a connection."""
    context = context_of(request)
    loop = asyncio.get_running_loop()
    db_ok = await loop.run_in_executor(context.db_pool, context.store.ping)
    try:
        broker_ok = await loop.run_in_executor(context.kafka_pool, lambda: context.producers.get() is not None)
    except BrokerUnavailable:
        broker_ok = False
    ok = db_ok and broker_ok
    return JSONResponse({"status": "ok" if ok else "unavailable", "database": db_ok, "broker": broker_ok},
                        status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "5"})


async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi_json(request: Request) -> Response:
    """This document."""
    document: dict[str, Any] = request.app.state.openapi
    return JSONResponse(document, headers={"Cache-Control": "no-cache"})


async def docs(request: Request) -> Response:
    """A browsable rendering of this document (self-contained: no external scripts or styles)."""
    return HTMLResponse(HTML, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                       "Cache-Control": "no-cache"})


def _body(fields: dict[str, v.Field]) -> dict[str, Any]:
    return v.object_schema(fields)


ACCEPTED = Reply(status=202, description="Accepted: poll the request for the outcome.", schema=ref("Accepted"),
                 headers=("Location",))
SETTLED_REPLY = Reply(status=200, description="Settled within `wait` seconds: the request and its result, as "
                                              "GET /v1/requests/{request_id} gives them.",
                      schema=ref("RequestStatus"), headers=("Location",))
COMMAND_WAIT = Param(name="wait", location="query", schema={"type": "number", "minimum": 0},
                     description="Seconds (at most 30) to wait for the outcome: if it comes in time the answer is "
                                 "200 with the settled request, saving the poll; otherwise 202 as without it.")
BAD_REQUEST = error_reply(400, "The body is not UTF-8 JSON, or a header is malformed or missing.")
INVALID = error_reply(422, "The body or a query parameter is invalid; `details` names each field.")
NO_GAME = error_reply(404, "No such game for this caller (another client's or player's game is not disclosed).")
CONFLICT = error_reply(409, "The Idempotency-Key was already used for a different request.")
UNAVAILABLE = Reply(status=503, description="The database or the broker is unavailable; retry with the same "
                                            "Idempotency-Key.", schema=ref("Error"), headers=("Retry-After",))
TOKEN_REPLY = Reply(status=200, description="The tokens.", schema=ref("Token"))
RATE_BY_IP = "ip"

OPERATIONS: list[Operation] = [
    Operation(
        method="POST", path="/v1/auth/token", handler=token, operation_id="issueToken", tag="auth",
        summary="Client credentials -> access token + refresh token",
        description="OAuth 2 client-credentials grant, form-encoded or JSON. The access token is short-lived "
                    "(ACCESS_TOKEN_TTL); the refresh token is single-use and rotates at /v1/auth/refresh.",
        body=_body(TOKEN_FIELDS), body_media=(FORM, JSON), body_required=True, rate_limit_key=RATE_BY_IP,
        replies=(TOKEN_REPLY, BAD_REQUEST,
                 error_reply(401, "Unknown or revoked client, or wrong secret (`invalid_client`)."),
                 error_reply(403, "A scope the client does not hold was requested (`invalid_scope`)."),
                 INVALID, UNAVAILABLE),
    ),
    Operation(
        method="POST", path="/v1/auth/refresh", handler=refresh, operation_id="refreshToken", tag="auth",
        summary="Rotate a refresh token",
        description="Each refresh token works once and returns its successor. Presenting a used one again is "
                    "treated as theft: its whole family and the access tokens it issued are revoked (401).",
        body=_body(REFRESH_FIELDS), body_media=(FORM, JSON), body_required=True, rate_limit_key=RATE_BY_IP,
        replies=(TOKEN_REPLY, BAD_REQUEST,
                 error_reply(401, "Unknown, expired, revoked or reused refresh token, or revoked client "
                                  "(`invalid_grant`)."),
                 INVALID, UNAVAILABLE),
    ),
    Operation(
        method="POST", path="/v1/auth/revoke", handler=revoke, operation_id="revokeToken", tag="auth",
        summary="Revoke an access token by its jti", scopes=("admin",), body=_body(REVOKE_FIELDS),
        body_required=True,
        replies=(Reply(status=200, description="Revoked (idempotent).", schema=ref("Revoked")), BAD_REQUEST,
                 INVALID),
    ),
    Operation(
        method="GET", path="/v1/categories", handler=categories, operation_id="listCategories", tag="questions",
        summary="Question categories with counts", scopes=PLAYING,
        replies=(Reply(status=200, description="The categories.", schema=ref("Categories")),),
    ),
    Operation(
        method="POST", path="/v1/games", handler=create_game, operation_id="createGame", tag="games",
        summary="Start a game", scopes=PLAYING, params=(PLAYER_ID, PLAYER_SUBJECT, IDEMPOTENCY_KEY, COMMAND_WAIT),
        description="The questions arrive in the request's result (`game.created`). The fields `player`, "
                    "`chat_id` and `mode` are accepted from service tokens only (422 `unknown field` otherwise).",
        body=_body({**GAME_FIELDS, **SERVICE_GAME_FIELDS}),
        replies=(SETTLED_REPLY, ACCEPTED, BAD_REQUEST, CONFLICT, INVALID, UNAVAILABLE),
    ),
    Operation(
        method="GET", path="/v1/games/{game_id}", handler=get_game, operation_id="getGame", tag="games",
        summary="A game and its open question", scopes=PLAYING, params=(GAME_ID, PLAYER_ID, PLAYER_SUBJECT),
        replies=(Reply(status=200, description="The game.", schema=ref("Game")), BAD_REQUEST, NO_GAME),
    ),
    Operation(
        method="POST", path="/v1/games/{game_id}/answers", handler=submit_answer, operation_id="submitAnswer",
        tag="games", summary="Answer the open question", scopes=PLAYING,
        params=(GAME_ID, PLAYER_ID, PLAYER_SUBJECT, Param(
            name="Idempotency-Key", location="header", required=True, schema=IDEMPOTENCY_KEY.schema,
            description=IDEMPOTENCY_KEY.description), COMMAND_WAIT),
        description="Give exactly one of `option` and `text`.", body=_body(ANSWER_FIELDS), body_required=True,
        replies=(SETTLED_REPLY, ACCEPTED, BAD_REQUEST, NO_GAME, CONFLICT, INVALID, UNAVAILABLE),
    ),
    Operation(
        method="POST", path="/v1/games/{game_id}/hints", handler=request_hint, operation_id="requestHint",
        tag="games", summary="Ask for a hint", scopes=PLAYING,
        params=(GAME_ID, PLAYER_ID, PLAYER_SUBJECT, IDEMPOTENCY_KEY, COMMAND_WAIT), body=_body(HINT_FIELDS),
        body_required=True,
        replies=(SETTLED_REPLY, ACCEPTED, BAD_REQUEST, NO_GAME, CONFLICT, INVALID, UNAVAILABLE),
    ),
    Operation(
        method="POST", path="/v1/games/{game_id}/finish", handler=finish_game, operation_id="finishGame",
        tag="games", summary="End a game now", scopes=PLAYING,
        params=(GAME_ID, PLAYER_ID, PLAYER_SUBJECT, IDEMPOTENCY_KEY, COMMAND_WAIT),
        replies=(SETTLED_REPLY, ACCEPTED, BAD_REQUEST, NO_GAME, CONFLICT, INVALID, UNAVAILABLE),
    ),
    Operation(
        method="GET", path="/v1/requests/{request_id}", handler=get_request, operation_id="getRequest",
        tag="games", summary="A request's status and result (long poll)", scopes=PLAYING,
        params=(Param(name="request_id", location="path", required=True, schema={"type": "string"}),
                Param(name="wait", location="query", schema={"type": "number", "minimum": 0},
                      description="Seconds to wait for the result (values above 30 count as 30).")),
        replies=(Reply(status=200, description="The request.", schema=ref("RequestStatus")),
                 error_reply(404, "No such request for this client."), INVALID),
    ),
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
    Operation(method="GET", path="/healthz", handler=healthz, operation_id="healthz", tag="operations",
              summary="Liveness", replies=(Reply(status=200, description="Alive.", schema=ref("Health")),)),
    Operation(method="GET", path="/readyz", handler=readyz, operation_id="readyz", tag="operations",
              summary="Readiness (database and broker)",
              replies=(Reply(status=200, description="Ready.", schema=ref("Ready")),
                       Reply(status=503, description="Not ready.", schema=ref("Ready"), headers=("Retry-After",)))),
    Operation(method="GET", path="/metrics", handler=metrics, operation_id="metrics", tag="operations",
              summary="Prometheus metrics",
              replies=(Reply(status=200, description="Metrics in the Prometheus text format.",
                             schema={"type": "string"}, media_type="text/plain"),)),
    Operation(method="GET", path="/openapi.json", handler=openapi_json, operation_id="openapi", tag="operations",
              summary="This OpenAPI 3.1 document",
              replies=(Reply(status=200, description="The document.", schema={"type": "object"}),)),
    Operation(method="GET", path="/docs", handler=docs, operation_id="docs", tag="operations",
              summary="Browsable API documentation",
              replies=(Reply(status=200, description="An HTML page.", schema={"type": "string"},
                             media_type="text/html"),)),
]

DESCRIPTION = (
    "Play the trivia games of the Telegram bot over HTTP. Get an access token with client credentials at "
    "/v1/auth/token and send it as `Authorization: Bearer <token>`. Writes answer 202 with a request id: "
    "poll GET /v1/requests/{id}?wait=N for the outcome. Every error is JSON "
    '`{"error": {"code", "message"}}`; 422 lists each invalid field in `details`. Every response carries '
    "an X-Request-Id header (echoing a valid incoming one)."
)
