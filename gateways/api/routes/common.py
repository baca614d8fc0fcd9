"""What the route entries of several resources share: the scopes that may play, and common error replies."""

from __future__ import annotations

from gateways.api.openapi import Reply, error_reply, ref

PLAYING = ("player", "service")

BAD_REQUEST = error_reply(400, "The body is not UTF-8 JSON, or a header is malformed or missing.")
INVALID = error_reply(422, "The body or a query parameter is invalid; `details` names each field.")
UNAVAILABLE = Reply(status=503, description="The database or the broker is unavailable; retry with the same "
                                            "Idempotency-Key.", schema=ref("Error"), headers=("Retry-After",))
