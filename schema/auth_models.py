"""Tables of the API's token lifecycle: rotating refresh tokens and revoked access-token ids (migration 2).

Refresh tokens are stored only as SHA-256 digests (they are 256-bit random strings, so a fast hash is
enough); a token's ``family_id`` ties every rotation of one grant together so reuse can revoke them all.
"""

from __future__ import annotations

import peewee as pw

from schema.models import BaseModel, utcnow


class RefreshToken(BaseModel):
    """One refresh token of a family; used once, then replaced by its child."""

    token_hash = pw.CharField(max_length=64, primary_key=True)
    family_id = pw.CharField(max_length=36, index=True)
    client_id = pw.CharField(max_length=64, index=True)
    subject = pw.CharField(max_length=200)
    scopes = pw.CharField(max_length=200)
    parent_hash = pw.CharField(max_length=64, null=True)
    # The access token issued together with this refresh token, revoked with the family on reuse.
    access_jti = pw.CharField(max_length=64, null=True)
    access_expires_at = pw.DateTimeField(null=True)
    used = pw.BooleanField(default=False)
    used_at = pw.DateTimeField(null=True)
    revoked = pw.BooleanField(default=False)
    expires_at = pw.DateTimeField(index=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "auth_refresh_tokens"


class RevokedToken(BaseModel):
    """An access token id (``jti``) refused until ``expires_at``, after which the token is dead anyway."""

    jti = pw.CharField(max_length=64, primary_key=True)
    reason = pw.CharField(max_length=32, default="revoked")
    expires_at = pw.DateTimeField(index=True)
    revoked_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "auth_revoked_tokens"


AUTH_MODELS: tuple[type[BaseModel], ...] = (RefreshToken, RevokedToken)


def create_auth_tables(database: pw.Database) -> None:
    """Migration 2: create the token tables (idempotent)."""
    database.create_tables(list(AUTH_MODELS), safe=True)
