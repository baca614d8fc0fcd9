"""``trivia-admin``: manage API clients and mint the telebot's service token.

``trivia-admin create-client NAME`` prints ``{"client_id": ..., "client_secret": ...}`` on stdout, one JSON
object, nothing else (scripts rely on it); the secret is shown once and stored only as a hash.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateways.api.auth import SCOPES, TokenService, hash_secret, new_client_credentials
from gateways.process import start_process
from schema.db import bind_database
from schema.models import ApiClient


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
    mint.add_argument("--ttl", type=int, default=30 * 24 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    settings = start_process("admin")
    if args.command == "mint-service-token":
        token = TokenService(settings).issue(client_id="telebot", subject="service:telebot", scopes=("service",),
                                             ttl_s=args.ttl)
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
            updated = ApiClient.update(revoked=True).where(ApiClient.client_id == args.client_id).execute()
            if not updated:
                print(f"trivia-admin: no client {args.client_id}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
