"""``trivia-admin``: manage API clients, mint the telebot's service token, revoke tokens.

``trivia-admin create-client NAME`` prints ``{"client_id": ..., "client_secret": ...}`` on stdout, one JSON
object, nothing else (scripts rely on it); the secret is shown once and stored only as a hash.
``revoke-client ID`` stops the client's tokens (access tokens within the API's revocation refresh, a few
seconds; refresh tokens at once). ``revoke-token JTI`` refuses one access token by its ``jti`` claim.
"""

from __future__ import annotations

import argparse
import json
import sys

import jwt

from gateways.api.auth import SCOPES, TokenService, hash_secret, new_client_credentials
from gateways.api.tokens import TokenStore
from gateways.process import start_process
from schema.auth_models import RefreshToken
from schema.db import bind_database
from schema.models import ApiClient
from trivia_actors.runtime import SettingsError

MAX_SERVICE_TTL_S = 366 * 24 * 3600


def main(argv: list[str] | None = None) -> int:
    """Run one admin command."""
    parser = argparse.ArgumentParser(prog="trivia-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-client", help="create an API client and print its credentials")
    create.add_argument("name")
    create.add_argument("--scopes", default="player", help="space-separated scopes (player, service, admin)")
    commands.add_parser("list-clients", help="list clients as JSON lines")
    revoke = commands.add_parser("revoke-client", help="revoke a client")
    revoke.add_argument("client_id")
    mint = commands.add_parser("mint-service-token", help="print a service token for the telebot")
    mint.add_argument("--ttl", type=int, default=30 * 24 * 3600, help="lifetime in seconds (at most 366 days)")
    mint.add_argument("--json", action="store_true", help='print {"token", "jti", "expires_at"} instead')
    revoke_token = commands.add_parser("revoke-token", help="revoke one access token by its jti claim")
    revoke_token.add_argument("jti")
    args = parser.parse_args(argv)
    settings = start_process("admin")
    if args.command == "mint-service-token":
        if not 1 <= args.ttl <= MAX_SERVICE_TTL_S:
            print(f"trivia-admin: --ttl must be between 1 and {MAX_SERVICE_TTL_S} seconds", file=sys.stderr)
            return 2
        try:
            token = TokenService(settings).issue(client_id="telebot", subject="service:telebot",
                                                 scopes=("service",), ttl_s=args.ttl)
        except SettingsError as exc:
            print(f"trivia-admin: configuration error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            claims = jwt.decode(token, options={"verify_signature": False})
            print(json.dumps({"token": token, "jti": claims["jti"], "expires_at": claims["exp"]}))
        else:
            print(token)
        return 0
    database = bind_database(settings.database_url, max_connections=2)
    with database.connection_context():
        if args.command == "create-client":
            scopes = args.scopes.split()
            unknown = [s for s in scopes if s not in SCOPES]
            if unknown or not scopes:
                print(f"trivia-admin: unknown scope {unknown[0] if unknown else ''!r}", file=sys.stderr)
                return 2
            client_id, secret = new_client_credentials()
            ApiClient.create(client_id=client_id, name=args.name[:200], secret_hash=hash_secret(secret),
                             scopes=" ".join(scopes))
            print(json.dumps({"client_id": client_id, "client_secret": secret}))
        elif args.command == "list-clients":
            for client in ApiClient.select().order_by(ApiClient.created_at):
                print(json.dumps({"client_id": client.client_id, "name": client.name, "scopes": client.scopes,
                                  "revoked": client.revoked, "created_at": client.created_at.isoformat()}))
        elif args.command == "revoke-client":
            with database.atomic():
                updated = ApiClient.update(revoked=True).where(ApiClient.client_id == args.client_id).execute()
                RefreshToken.update(revoked=True).where(RefreshToken.client_id == args.client_id).execute()
            if not updated:
                print(f"trivia-admin: no client {args.client_id}", file=sys.stderr)
                return 1
            print(json.dumps({"client_id": args.client_id, "revoked": True}))
        elif args.command == "revoke-token":
            jti = args.jti.strip()
            if not 1 <= len(jti) <= 64:
                print("trivia-admin: a jti is 1-64 characters", file=sys.stderr)
                return 2
            TokenStore(database, refresh_ttl_s=settings.refresh_token_ttl_s).revoke_jti(jti, reason="admin-cli")
            print(json.dumps({"jti": jti, "revoked": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
