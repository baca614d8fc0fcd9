"""``/v1/auth``: client credentials for tokens, refresh token rotation, and revocation by ``jti``."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateways.api import validation as v
from gateways.api.auth import Principal, hash_secret, verify_secret
from gateways.api.context import ApiContext
from gateways.api.errors import ApiError
from gateways.api.openapi import FORM, JSON, RATE_BY_IP, Operation, Reply, error_reply, ref
from gateways.api.routes.bodies import read_form_or_json, read_json
from gateways.api.routes.common import BAD_REQUEST, INVALID, UNAVAILABLE
from gateways.api.security import context_of
from gateways.api.tokens import IssueAccess, IssuedTokens, RefreshError

logger = logging.getLogger(__name__)


def _token_body(context: ApiContext, issued: IssuedTokens, scopes: tuple[str, ...]) -> JSONResponse:
    return JSONResponse({"access_token": issued.access_token, "token_type": "Bearer",
                         "expires_in": context.tokens.ttl_s, "scope": " ".join(scopes),
                         "refresh_token": issued.refresh_token, "refresh_expires_in": issued.refresh_expires_in},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _issuer(context: ApiContext) -> IssueAccess:
    def issue(client_id: str, subject: str, scopes: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        return context.tokens.issue_with_claims(client_id=client_id, subject=subject, scopes=scopes)
    return issue


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


TOKEN_REPLY = Reply(status=200, description="The tokens.", schema=ref("Token"))

OPERATIONS: list[Operation] = [
    Operation(
        method="POST", path="/v1/auth/token", handler=token, operation_id="issueToken", tag="auth",
        summary="Client credentials -> access token + refresh token",
        description="OAuth 2 client-credentials grant, form-encoded or JSON. The access token is short-lived "
                    "(ACCESS_TOKEN_TTL); the refresh token is single-use and rotates at /v1/auth/refresh.",
        body=v.object_schema(TOKEN_FIELDS), body_media=(FORM, JSON), body_required=True, rate_limit_key=RATE_BY_IP,
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
        body=v.object_schema(REFRESH_FIELDS), body_media=(FORM, JSON), body_required=True,
        rate_limit_key=RATE_BY_IP,
        replies=(TOKEN_REPLY, BAD_REQUEST,
                 error_reply(401, "Unknown, expired, revoked or reused refresh token, or revoked client "
                                  "(`invalid_grant`)."),
                 INVALID, UNAVAILABLE),
    ),
    Operation(
        method="POST", path="/v1/auth/revoke", handler=revoke, operation_id="revokeToken", tag="auth",
        summary="Revoke an access token by its jti", scopes=("admin",), body=v.object_schema(REVOKE_FIELDS),
        body_required=True,
        replies=(Reply(status=200, description="Revoked (idempotent).", schema=ref("Revoked")), BAD_REQUEST,
                 INVALID),
    ),
]
