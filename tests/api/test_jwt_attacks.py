"""Attacks on the bearer tokens (RFC 8725): each is refused with 401 and a message naming what is wrong.

Every case runs against the real app; the control tests show the same setup accepts an honest token, so a
refusal is never the accident of a broken configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.conftest import ApiHarness, b64json, b64url

PROBE = "/v1/categories"


@pytest.fixture
def rsa_files(tmp_path: Path) -> dict[str, str]:
    """An RS256 key pair as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "jwt.key"
    public = tmp_path / "jwt.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"private": str(private), "public": str(public)}


def _probe(api, token: str) -> httpx.Response:
    return api.get(PROBE, headers={"Authorization": f"Bearer {token}"})


def none_algorithm(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start()
    token = f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(h.claims(scope='admin'))}."
    return _probe(api, token)


def hs_rs_confusion(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start(jwt_algorithm="RS256", jwt_private_key_file=rsa_files["private"],
                  jwt_public_key_file=rsa_files["public"])
    # The classic attack: HMAC-sign with the server's *public* key, hoping it is used as the HS256 secret.
    public_pem = Path(rsa_files["public"]).read_bytes()
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'at+jwt'})}.{b64json(h.claims(scope='admin'))}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return _probe(api, f"{signing_input}.{b64url(signature)}")


def expired(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    now = int(time.time())
    return _probe(h.start(), h.forge_hs256(iat=now - 3600, nbf=now - 3600, exp=now - 600))


def not_yet_valid(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    return _probe(h.start(), h.forge_hs256(nbf=int(time.time()) + 3600))


def wrong_audience(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    return _probe(h.start(), h.forge_hs256(aud="another-api"))


def wrong_issuer(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    return _probe(h.start(), h.forge_hs256(iss="https://evil.example"))


def missing_exp(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    return _probe(h.start(), h.forge_hs256(exp=None))


def tampered_payload(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start()
    token = h.tokens(api, h.new_client("player"))["access_token"]
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "admin"
    return _probe(api, f"{header}.{b64json(claims)}.{signature}")


def revoked_jti(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start()
    victim = h.tokens(api, h.new_client("player"))["access_token"]
    assert _probe(api, victim).status_code == 200
    admin = h.bearer(api, h.new_client("admin"))
    jti = jwt.decode(victim, options={"verify_signature": False})["jti"]
    revoked = api.post("/v1/auth/revoke", json={"jti": jti}, headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"jti": jti, "revoked": True}
    return _probe(api, victim)


def refresh_reuse(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start()
    first = h.tokens(api, h.new_client("player"))
    rotated = api.post("/v1/auth/refresh", data={"grant_type": "refresh_token",
                                                 "refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _probe(api, second["access_token"]).status_code == 200
    # The rotated-away token comes back (it leaked): the whole family dies.
    reused = api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    successor = api.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert successor.status_code == 401, successor.text
    assert successor.json()["error"]["message"] == "refresh token revoked"
    family_access = _probe(api, second["access_token"])
    assert family_access.status_code == 401
    assert family_access.json()["error"]["message"] == "token revoked"
    return reused


def unknown_kid(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start(jwt_kid="key-2024")
    return _probe(api, h.forge_hs256(headers={"kid": "key-1999"}))


def revoked_client(h: ApiHarness, rsa_files: dict[str, str]) -> httpx.Response:
    api = h.start(revocation_refresh_s=0.1)
    credentials = h.new_client("player")
    tokens = h.tokens(api, credentials)
    assert _probe(api, tokens["access_token"]).status_code == 200
    done = h.admin_cli("revoke-client", credentials["client_id"])
    assert done.returncode == 0, done.stderr
    # Another process revoked it: this API sees it on its next snapshot refresh (bounded wait).
    deadline = time.monotonic() + 15
    response = _probe(api, tokens["access_token"])
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = _probe(api, tokens["access_token"])
    again = api.post("/v1/auth/token", data={"grant_type": "client_credentials", **credentials})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_client"
    refreshed = api.post("/v1/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "invalid_grant"
    return response


Attack = Callable[[ApiHarness, dict[str, str]], httpx.Response]

ATTACKS = [
    pytest.param(none_algorithm, "invalid_token", "unsigned tokens (alg none) are not accepted", id="alg-none"),
    pytest.param(hs_rs_confusion, "invalid_token", "token algorithm not accepted", id="hs256-with-rs-public-key"),
    pytest.param(expired, "invalid_token", "token expired", id="expired"),
    pytest.param(not_yet_valid, "invalid_token", "token not yet valid", id="not-yet-valid"),
    pytest.param(wrong_audience, "invalid_token", "token audience not accepted", id="wrong-audience"),
    pytest.param(wrong_issuer, "invalid_token", "token issuer not accepted", id="wrong-issuer"),
    pytest.param(missing_exp, "invalid_token", "token lacks the 'exp' claim", id="missing-exp"),
    pytest.param(tampered_payload, "invalid_token", "token signature invalid", id="tampered-payload"),
    pytest.param(revoked_jti, "invalid_token", "token revoked", id="revoked-jti"),
    pytest.param(refresh_reuse, "invalid_grant", "refresh token reuse detected: every token of its family is revoked",
                 id="refresh-token-reuse"),
    pytest.param(unknown_kid, "invalid_token", "unknown key id", id="unknown-kid"),
    pytest.param(revoked_client, "invalid_token", "client revoked", id="revoked-client"),
]


@pytest.mark.parametrize(("attack", "code", "message"), ATTACKS)
def test_attack_is_refused_with_401(harness: ApiHarness, rsa_files: dict[str, str], attack: Attack, code: str,
                                    message: str) -> None:
    response = attack(harness, rsa_files)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": {"code": code, "message": message}}
    if code == "invalid_token":
        assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "Traceback" not in response.text


def test_hs256_token_from_the_api_is_accepted(harness: ApiHarness) -> None:
    api = harness.start()
    token = harness.tokens(api, harness.new_client("player"))["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "at+jwt"}
    assert _probe(api, token).status_code == 200


def test_rs256_configuration_issues_and_accepts_rs256(harness: ApiHarness, rsa_files: dict[str, str]) -> None:
    api = harness.start(jwt_algorithm="RS256", jwt_private_key_file=rsa_files["private"],
                        jwt_public_key_file=rsa_files["public"], jwt_kid="rsa-1")
    token = harness.tokens(api, harness.new_client("player"))["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"}
    public = Path(rsa_files["public"]).read_text()
    assert jwt.decode(token, public, algorithms=["RS256"], audience=harness.settings.jwt_audience)["scope"] == "player"
    assert _probe(api, token).status_code == 200
    # An HS256 token made with the (unused) shared secret is refused too: one algorithm at a time.
    assert _probe(api, harness.forge_hs256(headers={"kid": "rsa-1"})).status_code == 401


def test_configured_kid_is_accepted(harness: ApiHarness) -> None:
    api = harness.start(jwt_kid="key-2024")
    token = harness.tokens(api, harness.new_client("player"))["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == "key-2024"
    assert _probe(api, token).status_code == 200


def test_scopes_are_enforced_with_403(harness: ApiHarness) -> None:
    api = harness.start()
    player = harness.bearer(api, harness.new_client("player"))
    refused = api.post("/v1/auth/revoke", json={"jti": "x"}, headers=player)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    asked_too_much = api.post("/v1/auth/token", data={"grant_type": "client_credentials", "scope": "admin",
                                                      **harness.new_client("player")})
    assert asked_too_much.status_code == 403
    assert asked_too_much.json()["error"]["code"] == "invalid_scope"


def test_short_secret_is_refused_at_start(harness: ApiHarness) -> None:
    from trivia_actors.runtime.settings import SettingsError

    with pytest.raises(SettingsError, match="at least 32 bytes"):
        harness.start(jwt_secret="too-short-secret")


def test_a_remembered_token_still_expires(harness: ApiHarness) -> None:
    from gateways.api.auth import LEEWAY_S, AuthError, TokenService

    service = TokenService(harness.settings)
    now = int(time.time())
    token = harness.forge_hs256(iat=now - 60, nbf=now - 60, exp=now - LEEWAY_S + 1)
    assert service.verify(token).jti  # verified, and now remembered
    time.sleep(1.5)
    with pytest.raises(AuthError, match="token expired"):
        service.verify(token)
