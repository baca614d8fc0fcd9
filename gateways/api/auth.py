"""JWT access tokens (HS256 or RS256, RFC 8725) and API client credentials (secrets stored as scrypt hashes).

Verification is pure and fast (no I/O): the header is checked before the signature (one algorithm, the
configured key id, an access-token ``typ``, no ``crit``), then PyJWT checks the signature and every
registered claim with a small leeway. Revocation (by ``jti`` or by client) is the caller's second step,
against an in-memory snapshot (:mod:`gateways.api.revocation`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from trivia_actors.runtime import Settings, SettingsError

SCOPES = ("player", "service", "admin")
LEEWAY_S = 10
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti", "scope")
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105  # a media type (RFC 9068), not a secret
# A bearer token longer than this is refused before any parsing (a cheap guard against oversized headers).
MAX_TOKEN_CHARS = 4096
MIN_RSA_BITS = 2048
# Verified tokens remembered (token string -> principal): the hot path presents the same token again and again.
VERIFIED_CACHE_SIZE = 10_000
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AuthError(Exception):
    """A token or credential was refused; the message is safe to show (no token, no secret)."""


@attrs.frozen(kw_only=True)
class Principal:
    """Who is calling: the API client, the token subject, the granted scopes, the token id and its expiry."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    jti: str
    expires_at: int = 0

    def has(self, scope: str) -> bool:
        """True when the token grants ``scope`` (admin implies every scope)."""
        return scope in self.scopes or "admin" in self.scopes


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of a client secret, as ``scrypt$<salt>$<hash>``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of a secret against its stored hash."""
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt_b64), **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def new_client_credentials() -> tuple[str, str]:
    """A fresh (client_id, client_secret) pair."""
    return f"cl_{secrets.token_hex(8)}", secrets.token_urlsafe(32)


def _load_rsa_keys(settings: Settings) -> tuple[RSAPrivateKey | None, RSAPublicKey]:
    private: RSAPrivateKey | None = None
    public: RSAPublicKey | None = None
    if settings.jwt_private_key_file:
        try:
            loaded = serialization.load_pem_private_key(Path(settings.jwt_private_key_file).read_bytes(), None)
        except (OSError, ValueError, TypeError) as exc:
            raise SettingsError(f"JWT_PRIVATE_KEY_FILE cannot be read as an unencrypted PEM key: "
                                f"{type(exc).__name__}") from None
        if not isinstance(loaded, RSAPrivateKey):
            raise SettingsError("JWT_PRIVATE_KEY_FILE must hold an RSA private key")
        private = loaded
        public = loaded.public_key()
    if settings.jwt_public_key_file:
        try:
            loaded_public = serialization.load_pem_public_key(Path(settings.jwt_public_key_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"JWT_PUBLIC_KEY_FILE cannot be read as a PEM public key: "
                                f"{type(exc).__name__}") from None
        if not isinstance(loaded_public, RSAPublicKey):
            raise SettingsError("JWT_PUBLIC_KEY_FILE must hold an RSA public key")
        if public is not None and public.public_numbers() != loaded_public.public_numbers():
            raise SettingsError("JWT_PUBLIC_KEY_FILE does not match JWT_PRIVATE_KEY_FILE")
        public = loaded_public
    if public is None:
        raise SettingsError("JWT_ALGORITHM=RS256 needs JWT_PRIVATE_KEY_FILE or JWT_PUBLIC_KEY_FILE")
    if public.key_size < MIN_RSA_BITS:
        raise SettingsError(f"the RS256 key is too small: at least {MIN_RSA_BITS} bits are required")
    return private, public


class TokenService:
    """Issues and verifies access tokens: HS256 (shared secret) or RS256 (key pair), one algorithm at a time."""

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self._kid = settings.jwt_kid
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.ttl_s = settings.access_token_ttl_s
        self._signing_key: Any
        self._verifying_key: Any
        if self.algorithm == "HS256":
            secret = settings.require_jwt_secret()
            self._signing_key = self._verifying_key = secret
        elif self.algorithm == "RS256":
            private, public = _load_rsa_keys(settings)
            self._signing_key = private
            self._verifying_key = public
        else:
            raise SettingsError("JWT_ALGORITHM must be HS256 or RS256")
        self._verified: dict[str, Principal] = {}

    @property
    def can_issue(self) -> bool:
        """False when only a public key is configured (a verify-only replica)."""
        return self._signing_key is not None

    def issue(self, *, client_id: str, subject: str, scopes: tuple[str, ...], ttl_s: int | None = None) -> str:
        """A signed access token."""
        return self.issue_with_claims(client_id=client_id, subject=subject, scopes=scopes, ttl_s=ttl_s)[0]

    def issue_with_claims(self, *, client_id: str, subject: str, scopes: tuple[str, ...],
                          ttl_s: int | None = None) -> tuple[str, dict[str, Any]]:
        """A signed access token and its claims (the caller records ``jti`` and ``exp``)."""
        if not self.can_issue:
            raise SettingsError("this process has no JWT signing key (set JWT_PRIVATE_KEY_FILE)")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "cid": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + (ttl_s or self.ttl_s),
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scopes),
        }
        headers: dict[str, Any] = {"typ": ACCESS_TOKEN_TYP}
        if self._kid:
            headers["kid"] = self._kid
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers=headers), claims

    def verify(self, token: str) -> Principal:
        """The principal of a valid token, or :class:`AuthError` saying what is wrong.

        A token that verified before is answered from memory until it expires: its signature and claims
        cannot change, and only the exact same string hits the cache. Revocation is checked by the caller.
        """
        known = self._verified.get(token)
        if known is not None:
            if time.time() <= known.expires_at + LEEWAY_S:
                return known
            self._verified.pop(token, None)
            raise AuthError("token expired")
        principal = self._verify_uncached(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            # Dropping everything is cheap and bounded; the next requests simply verify again.
            self._verified.clear()
        self._verified[token] = principal
        return principal

    def _verify_uncached(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise AuthError("unsigned tokens (alg none) are not accepted")
        # Only the configured algorithm: an HS256 token is refused outright when RS256 is configured, so the
        # public key can never be used as an HMAC secret (algorithm confusion).
        if alg != self.algorithm:
            raise AuthError("token algorithm not accepted")
        if header.get("kid") != self._kid:
            raise AuthError("unknown key id")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in {ACCESS_TOKEN_TYP, "jwt"}):
            raise AuthError("token type not accepted")
        if "crit" in header:
            raise AuthError("token has critical header parameters this server does not understand")
        try:
            claims = jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the '{exc.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature invalid") from None
        except jwt.PyJWTError:
            raise AuthError("token invalid") from None
        for name in ("sub", "jti", "scope"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise AuthError(f"token claim '{name}' must be a non-empty string")
        client_id = claims.get("cid", claims["sub"])
        if not isinstance(client_id, str) or not client_id:
            raise AuthError("token claim 'cid' must be a non-empty string")
        scopes = frozenset(claims["scope"].split()) & frozenset(SCOPES)
        if not scopes:
            raise AuthError("token grants no known scope")
        return Principal(client_id=client_id, subject=claims["sub"], scopes=scopes, jti=claims["jti"],
                         expires_at=int(claims["exp"]))
