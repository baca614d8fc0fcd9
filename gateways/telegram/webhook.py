"""Webhook mode: a Starlette route that takes Telegram's updates, with the secret token checked.

Telegram sends the secret chosen at setWebhook in ``X-Telegram-Bot-Api-Secret-Token``; it is compared in
constant time and a wrong or missing one gets 403 without touching the update. Valid updates go to PTB's
update queue, like polled ones.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from trivia_actors.runtime import TELEGRAM_UPDATES

logger = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1_000_000
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name, not a secret


def _parse_update(body: bytes, application: Application[Any, Any, Any, Any, Any, Any]) -> Update:
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("update_id"), int):
        raise ValueError("an update is a JSON object with an integer update_id")
    return Update.de_json(document, application.bot)


def create_webhook_app(application: Application[Any, Any, Any, Any, Any, Any], *, path: str,
                       secret: str) -> Starlette:
    """The ASGI app receiving updates at ``path``."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            TELEGRAM_UPDATES.labels("webhook_refused").inc()
            logger.warning("webhook call refused: wrong or missing secret token")
            return JSONResponse({"error": {"code": "forbidden", "message": "wrong secret token"}}, status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return JSONResponse({"error": {"code": "payload_too_large", "message": "update too large"}},
                                status_code=413)
        try:
            update = _parse_update(body, application)
        # PTB's parsing of an untrusted document raises whatever its fields meet (AttributeError on a list where
        # an object belongs, OverflowError or OSError on an absurd date, RecursionError on deep nesting...):
        # every one of them means the same thing here, a malformed update, refused with 400.
        except Exception as exc:  # noqa: BLE001 - see above; the error is answered and logged, not swallowed
            logger.warning("webhook: refused a malformed update (%d bytes): %s", len(body), type(exc).__name__)
            return JSONResponse({"error": {"code": "invalid_update", "message": "not a Telegram update"}},
                                status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(path, receive, methods=["POST"]), Route("/healthz", health, methods=["GET"])])
