"""Who is calling and what they may do: bearer authentication, revocation, rate limits, scopes, players.

Order per request: 401 (no or bad token, revoked token or client) -> 429 (the client's rate) -> 403 (scope).
A client's players are namespaced by the client (``api:<client>:<player>``), so one client can never act
as, or read, another client's player.
"""

from __future__ import annotations

import re

import peewee as pw
from starlette.requests import Request

from gateways.api.auth import AuthError, Principal
from gateways.api.context import ApiContext
from gateways.api.errors import ApiError, unavailable
from gateways.api.ratelimit import retry_after_header

HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
PLAYER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TELEGRAM_SUBJECT = re.compile(r"tg:[0-9]{1,20}")


def context_of(request: Request) -> ApiContext:
    """The :class:`ApiContext` of the app serving ``request``."""
    context: ApiContext = request.app.state.context
    return context


def _invalid_token(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message,
                    headers={"WWW-Authenticate": f'Bearer realm="trivia", error="invalid_token", '
                                                 f'error_description="{message}"'})


def rate_limit(context: ApiContext, key: str) -> None:
    """429 with Retry-After when ``key``'s bucket is empty."""
    wait_s = context.limiter.acquire(key)
    if wait_s > 0:
        raise ApiError(429, "rate_limited", f"too many requests: the limit is {context.limiter.per_minute} per minute",
                       headers={"Retry-After": retry_after_header(wait_s)})


async def authenticate(request: Request, scopes: tuple[str, ...]) -> Principal:
    """The caller's principal; 401 without a valid, unrevoked token, 429 over the rate, 403 without a scope."""
    context = context_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "a bearer token is required",
                       headers={"WWW-Authenticate": 'Bearer realm="trivia"'})
    try:
        principal = context.tokens.verify(token.strip())
        await context.revocations.check(principal)
    except AuthError as exc:
        raise _invalid_token(str(exc)) from None
    except pw.PeeweeException as exc:
        raise unavailable(f"cannot check token revocation ({type(exc).__name__}), retry later") from None
    rate_limit(context, f"client:{principal.client_id}")
    if scopes and not any(principal.has(scope) for scope in scopes):
        raise ApiError(403, "insufficient_scope", f"this call needs one of the scopes: {', '.join(scopes)}")
    return principal


def player_subject(request: Request, principal: Principal) -> str:
    """Whom the call is for: a service may name the player; a client's players are namespaced by client."""
    if principal.has("service"):
        named = request.headers.get("x-player-subject")
        if named is not None:
            if not HEADER_VALUE.fullmatch(named):
                raise ApiError(400, "invalid_header", "X-Player-Subject must be 1-200 visible ASCII characters")
            return named
    player = request.headers.get("x-player-id", "default")
    if not PLAYER_ID.fullmatch(player):
        raise ApiError(400, "invalid_header", "X-Player-Id must be 1-64 letters, digits or _.:-")
    return f"api:{principal.client_id}:{player}"


def public_player_id(principal: Principal, subject: str) -> str | None:
    """The id ``principal`` would use for ``subject`` in /v1/players/{id}/stats, or None if it may not read it."""
    own = f"api:{principal.client_id}:"
    if subject.startswith(own):
        return subject[len(own):]
    if principal.has("service") and TELEGRAM_SUBJECT.fullmatch(subject):
        return subject
    return None


def subject_for_player_id(principal: Principal, player_id: str) -> str | None:
    """The subject behind a player id in the caller's view, or None when it names nobody the caller may read."""
    if principal.has("service") and TELEGRAM_SUBJECT.fullmatch(player_id):
        return player_id
    if PLAYER_ID.fullmatch(player_id):
        return f"api:{principal.client_id}:{player_id}"
    return None


def idempotency_key(request: Request, *, required: bool) -> str | None:
    """The Idempotency-Key header, validated."""
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise ApiError(400, "missing_idempotency_key", "the Idempotency-Key header is required")
        return None
    if not HEADER_VALUE.fullmatch(key):
        raise ApiError(400, "invalid_header", "Idempotency-Key must be 1-200 visible ASCII characters")
    return key
