"""The database side of the token lifecycle: refresh-token rotation with reuse detection, revoked ``jti``s.

Runs in the API's database pool. A refresh token is used once: rotation marks it used with a conditional
update (so two concurrent uses cannot both win) and issues its child in the same family. Presenting a used
token again means it leaked (or a retry raced): the whole family is revoked, together with the access
tokens it issued that are still alive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import peewee as pw

from schema.auth_models import RefreshToken, RevokedToken
from schema.models import ApiClient, utcnow

logger = logging.getLogger(__name__)

REFRESH_PREFIX = "rt_"
# An admin revocation names only a jti, not its expiry: keep it longer than any token this platform mints.
JTI_RETENTION = dt.timedelta(days=400)
# Used refresh tokens are kept a while after expiry so a late replay is still recognised as reuse.
REFRESH_RETENTION = dt.timedelta(days=7)

IssueAccess = Callable[[str, str, tuple[str, ...]], tuple[str, dict[str, Any]]]


class RefreshError(Exception):
    """A refresh token was refused; the message is safe to show. ``revoked_jtis``: access tokens revoked now."""

    def __init__(self, message: str, *, revoked_jtis: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.revoked_jtis = revoked_jtis


@attrs.frozen(kw_only=True)
class IssuedTokens:
    """An access token with its claims, and the refresh token that comes with it."""

    access_token: str
    claims: dict[str, Any]
    refresh_token: str
    refresh_expires_in: int


def hash_refresh_token(token: str) -> str:
    """The stored form of a refresh token (SHA-256 hex: the token itself is 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _epoch_to_naive(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


class TokenStore:
    """Refresh tokens and revocations in PostgreSQL (or SQLite)."""

    def __init__(self, database: pw.Database, *, refresh_ttl_s: int) -> None:
        self.database = database
        self.refresh_ttl_s = refresh_ttl_s

    def _new_refresh(self, *, family_id: str, client_id: str, subject: str, scopes: tuple[str, ...],
                     parent_hash: str | None, claims: dict[str, Any]) -> str:
        token = REFRESH_PREFIX + secrets.token_urlsafe(32)
        RefreshToken.create(
            token_hash=hash_refresh_token(token), family_id=family_id, client_id=client_id, subject=subject,
            scopes=" ".join(scopes), parent_hash=parent_hash, access_jti=claims["jti"],
            access_expires_at=_epoch_to_naive(int(claims["exp"])),
            expires_at=utcnow() + dt.timedelta(seconds=self.refresh_ttl_s),
        )
        return token

    def grant(self, *, client_id: str, subject: str, scopes: tuple[str, ...], issue: IssueAccess) -> IssuedTokens:
        """A new family: an access token and the first refresh token."""
        access, claims = issue(client_id, subject, scopes)
        with self.database.connection_context(), self.database.atomic():
            refresh = self._new_refresh(family_id=str(uuid.uuid4()), client_id=client_id, subject=subject,
                                        scopes=scopes, parent_hash=None, claims=claims)
        return IssuedTokens(access_token=access, claims=claims, refresh_token=refresh,
                            refresh_expires_in=self.refresh_ttl_s)

    def rotate(self, token: str, *, issue: IssueAccess) -> IssuedTokens:
        """Use a refresh token once: its child and a new access token; :class:`RefreshError` when refused."""
        token_hash = hash_refresh_token(token)
        reused_family: str | None = None
        with self.database.connection_context():
            with self.database.atomic():
                row = RefreshToken.get_or_none(RefreshToken.token_hash == token_hash)
                if row is None:
                    raise RefreshError("unknown refresh token")
                if row.revoked:
                    raise RefreshError("refresh token revoked")
                if row.used:
                    reused_family = row.family_id
                else:
                    if row.expires_at <= utcnow():
                        raise RefreshError("refresh token expired")
                    client = ApiClient.get_or_none(ApiClient.client_id == row.client_id)
                    if client is None or client.revoked:
                        raise RefreshError("client revoked")
                    won = (
                        RefreshToken.update(used=True, used_at=utcnow())
                        .where(RefreshToken.token_hash == token_hash, RefreshToken.used == False,  # noqa: E712
                               RefreshToken.revoked == False)  # noqa: E712
                        .execute()
                    )
                    if won == 1:
                        scopes = tuple(row.scopes.split())
                        access, claims = issue(row.client_id, row.subject, scopes)
                        refresh = self._new_refresh(family_id=row.family_id, client_id=row.client_id,
                                                    subject=row.subject, scopes=scopes, parent_hash=token_hash,
                                                    claims=claims)
                        return IssuedTokens(access_token=access, claims=claims, refresh_token=refresh,
                                            refresh_expires_in=self.refresh_ttl_s)
                    # Another request used it between our read and our update: that is a second use too.
                    reused_family = row.family_id
            revoked = self.revoke_family(reused_family, reason="refresh_reuse")
        logger.warning("refresh token reuse detected: family %s revoked (%d access tokens)", reused_family,
                       len(revoked))
        raise RefreshError("refresh token reuse detected: every token of its family is revoked",
                           revoked_jtis=tuple(revoked))

    def revoke_family(self, family_id: str, *, reason: str) -> list[str]:
        """Revoke every refresh token of a family and its live access tokens; the revoked jtis."""
        now = utcnow()
        with self.database.connection_context(), self.database.atomic():
            RefreshToken.update(revoked=True).where(RefreshToken.family_id == family_id).execute()
            live = list(
                RefreshToken.select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
                    RefreshToken.family_id == family_id, RefreshToken.access_jti.is_null(False),
                    RefreshToken.access_expires_at > now,
                )
            )
            if live:
                RevokedToken.insert_many(
                    [{"jti": r.access_jti, "reason": reason, "expires_at": r.access_expires_at} for r in live]
                ).on_conflict_ignore().execute()
        return [str(r.access_jti) for r in live]

    def revoke_jti(self, jti: str, *, reason: str = "revoked", expires_at: dt.datetime | None = None) -> None:
        """Refuse the access token ``jti`` from now on (idempotent)."""
        with self.database.connection_context():
            RevokedToken.insert(jti=jti, reason=reason, expires_at=expires_at or utcnow() + JTI_RETENTION,
                                revoked_at=utcnow()).on_conflict_ignore().execute()

    def revocation_snapshot(self) -> tuple[frozenset[str], frozenset[str]]:
        """The revoked jtis still within their lifetime, and the revoked client ids."""
        with self.database.connection_context():
            jtis = frozenset(r.jti for r in RevokedToken.select(RevokedToken.jti).where(
                RevokedToken.expires_at > utcnow()))
            clients = frozenset(c.client_id for c in ApiClient.select(ApiClient.client_id).where(
                ApiClient.revoked == True))  # noqa: E712
        return jtis, clients

    def purge_expired(self) -> int:
        """Delete revocations and refresh tokens nobody can present any more; the number of rows deleted."""
        now = utcnow()
        with self.database.connection_context(), self.database.atomic():
            gone = RevokedToken.delete().where(RevokedToken.expires_at <= now).execute()
            gone += RefreshToken.delete().where(RefreshToken.expires_at <= now - REFRESH_RETENTION).execute()
        return int(gone)
