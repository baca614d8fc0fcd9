"""The Starlette application: routes from :data:`gateways.api.routes.OPERATIONS`, middleware, lifespan.

No game logic lives here. Every route is wrapped the same way: authenticate (when the operation has scopes),
apply the client's rate limit, check the scope, run the handler, and turn any :class:`ApiError` into its
JSON error. The middleware adds request ids and security headers, refuses oversized bodies, and renders any
unexpected failure as a JSON 500 without details.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateways.api.context import ApiContext, ProducerHolder
from gateways.api.errors import ApiError
from gateways.api.openapi import RATE_BY_IP, Operation, build_document
from gateways.api.routes import DESCRIPTION, OPERATIONS
from gateways.api.security import HEADER_VALUE, authenticate, context_of, rate_limit
from gateways.api.validation import MAX_BODY_BYTES
from trivia_actors.runtime import HTTP_REQUESTS, HTTP_SECONDS

__all__ = ["ApiContext", "ApiMiddleware", "ProducerHolder", "create_app"]

logger = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Player-Id", "X-Player-Subject",
                "X-Request-Id"]
CORS_EXPOSED = ["Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"]


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")


class ApiMiddleware:
    """Request ids, security headers, body size limit, metrics, and JSON for every error (never a stack trace)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if HEADER_VALUE.fullmatch(incoming or "") else str(uuid.uuid4())
        status_holder = [500]
        response_started = [False]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                out = list(message.get("headers", []))
                out.append((b"x-request-id", request_id.encode()))
                existing = {name.lower() for name, _ in out}
                out.extend(h for h in SECURITY_HEADERS if h[0] not in existing)
                message = {**message, "headers": out}
            await send(message)

        received = [0]

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > MAX_BODY_BYTES:
                    raise _too_large()
            return message

        declared = headers.get(b"content-length", b"")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            # Refused before routing: the body is never read.
            await _too_large().response()(scope, receive, send_wrapper)
            HTTP_REQUESTS.labels("unmatched", "413").inc()
            return
        try:
            await self.app(scope, limited_receive, send_wrapper)
        except ApiError as exc:
            if not response_started[0]:
                await exc.response()(scope, receive, send_wrapper)
        except Exception:
            logger.exception("request %s %s failed", request_id, scope.get("path"))
            if not response_started[0]:
                await ApiError(500, "internal_error", "internal error").response()(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(name, str(status_holder[0])).inc()
            HTTP_SECONDS.labels(name).observe(time.perf_counter() - started)


async def _not_found(request: Request, exc: Exception) -> Response:
    return ApiError(404, "not_found", "no such resource").response()


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return ApiError(405, "method_not_allowed", "method not allowed").response()


def _endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of ``op``: the documented scopes and rate limit are enforced here."""

    async def handler(request: Request) -> Response:
        try:
            if op.authenticated:
                principal = await authenticate(request, op.scopes)
                return await op.handler(request, principal)
            if op.rate_limit_key == RATE_BY_IP:
                rate_limit(context_of(request), f"ip:{request.client.host if request.client else 'unknown'}")
            return await op.handler(request)
        except ApiError as exc:
            return exc.response()

    handler.__name__ = op.handler.__name__
    handler.__doc__ = op.handler.__doc__
    return handler


def create_app(context: ApiContext) -> Starlette:
    """The ASGI app for ``context``; the lifespan starts the listener and closes everything at the end."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        await asyncio.get_running_loop().run_in_executor(None, context.start)
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, context.close)

    routes = [Route(op.path, _endpoint(op), methods=[op.method]) for op in OPERATIONS]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _method_not_allowed})
    app.state.context = context
    app.state.openapi = build_document(OPERATIONS, description=DESCRIPTION)
    app.add_middleware(ApiMiddleware)
    if context.settings.api_cors_origins:
        # Bearer tokens, not cookies: credentials stay off, so a browser never sends ambient authority.
        app.add_middleware(CORSMiddleware, allow_origins=list(context.settings.api_cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSED,
                           allow_credentials=False, max_age=600)
    return app
