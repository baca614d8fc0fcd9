"""JWT access tokens (HS256) and API client credentials (secrets stored as scrypt hashes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid

import attrs
import jwt

from trivia_actors.settings import Settings

SCOPES = ("player", "service", "admin")
LEEWAY_S = 10
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti", "scope")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AuthError(Exception):
    """A token or credential was refused; the message is safe to show (no token, no secret)."""


@attrs.frozen(kw_only=True)
class Principal:
    """Who is calling: the API client, the token subject and the granted scopes."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    jti: str

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


class TokenService:
    """Issues and verifies HS256 access tokens with every RFC 8725 claim checked."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.require_jwt_secret()
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.ttl_s = settings.access_token_ttl_s

    def issue(self, *, client_id: str, subject: str, scopes: tuple[str, ...], ttl_s: int | None = None) -> str:
        """A signed access token."""
        now = int(time.time())
        claims = {
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
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        """The principal of a valid token, or :class:`AuthError` saying what is wrong."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != "HS256":
            raise AuthError("token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": list(REQUIRED_CLAIMS)},
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
        scopes = frozenset(str(claims["scope"]).split()) & frozenset(SCOPES)
        if not scopes:
            raise AuthError("token grants no known scope")
        return Principal(
            client_id=str(claims.get("cid") or claims["sub"]),
            subject=str(claims["sub"]),
            scopes=scopes,
            jti=str(claims["jti"]),
        )
