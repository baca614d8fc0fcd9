"""The Starlette application: authenticate, validate, record the request, produce the event, answer 202.

No game logic lives here. Blocking work (database, the broker's ack) runs in dedicated thread pools so the
event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import peewee as pw
from kafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateways.api import validation as v
from gateways.api.auth import AuthError, Principal, TokenService, verify_secret
from gateways.api.errors import ApiError, unavailable
from gateways.api.results import ResultsListener
from gateways.api.store import ApiStore, request_view
from schema.events import AnswerSubmit, Envelope, GameCreate, GameFinish, HintRequest, Payload
from trivia_actors.kafka_io import BrokerUnavailable, EventProducer, make_producer
from trivia_actors.metrics import HTTP_REQUESTS, HTTP_SECONDS
from trivia_actors.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_WAIT_S = 30.0
RECHECK_S = 0.5
HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
DIFFICULTIES = ("easy", "medium", "hard")


class ProducerHolder:
    """Creates the Kafka producer on first use, so the API starts (and answers 503) while the broker is down."""

    def __init__(self, settings: Settings, producer: EventProducer | None = None) -> None:
        self._settings = settings
        self._producer = producer
        self._lock = threading.Lock()

    def get(self) -> EventProducer:
        """The producer, creating it if needed; :class:`BrokerUnavailable` when the broker is unreachable."""
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = EventProducer(make_producer(self._settings))
                except KafkaError as exc:
                    raise BrokerUnavailable(f"broker unreachable: {type(exc).__name__}") from exc
            return self._producer

    def close(self) -> None:
        """Flush and close the producer if it was created."""
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None


class ApiContext:
    """What the routes share: settings, tokens, the store, the producer and the results listener."""

    def __init__(self, settings: Settings, database: pw.Database, *, producer: EventProducer | None = None,
                 listen_for_results: bool = True) -> None:
        self.settings = settings
        self.tokens = TokenService(settings)
        self.store = ApiStore(database)
        self.producers = ProducerHolder(settings, producer)
        self.listener = ResultsListener(settings) if listen_for_results else None
        self.db_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api-db")
        self.kafka_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="api-kafka")

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call in the database pool; 503 when the database is unreachable."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.db_pool, lambda: fn(*args, **kwargs))
        except (pw.OperationalError, pw.InterfaceError) as exc:
            logger.warning("database unavailable: %s", type(exc).__name__)
            raise unavailable("the database is unavailable, retry later") from None

    async def produce(self, envelope: Envelope) -> None:
        """Produce a command and wait for the broker's ack without blocking the loop."""
        loop = asyncio.get_running_loop()

        def send() -> None:
            self.producers.get().send_and_wait(self.settings.topic("commands"), envelope, timeout_s=5.0)

        await loop.run_in_executor(self.kafka_pool, send)

    def close(self) -> None:
        """Release pools, the producer and the listener."""
        if self.listener is not None:
            self.listener.stop()
        self.producers.close()
        self.db_pool.shutdown(wait=True)
        self.kafka_pool.shutdown(wait=True)


# --- helpers -----------------------------------------------------------------------------------------


def _ctx(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def authenticate(request: Request, *scopes: str) -> Principal:
    """The caller's principal; 401 without a valid bearer token, 403 without one of ``scopes``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "a bearer token is required",
                       headers={"WWW-Authenticate": 'Bearer realm="trivia"'})
    try:
        principal = _ctx(request).tokens.verify(token.strip())
    except AuthError as exc:
        raise ApiError(401, "invalid_token", str(exc),
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    if scopes and not any(principal.has(scope) for scope in scopes):
        raise ApiError(403, "insufficient_scope", f"this call needs one of the scopes: {', '.join(scopes)}")
    return principal


def player_subject(request: Request, principal: Principal) -> str:
    """Whom the call is for: a service may name the player; a client's players are namespaced by client."""
    if principal.has("service"):
        named = request.headers.get("x-player-subject")
        if named is not None:
            if not HEADER_VALUE.fullmatch(named):
                raise ApiError(400, "invalid_header", "X-Player-Subject must be 1-200 visible ASCII characters")
            return named
    player = request.headers.get("x-player-id", "default")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", player):
        raise ApiError(400, "invalid_header", "X-Player-Id must be 1-64 letters, digits or _.:-")
    return f"api:{principal.client_id}:{player}"


def idempotency_key(request: Request, *, required: bool) -> str | None:
    """The Idempotency-Key header, validated."""
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise ApiError(400, "missing_idempotency_key", "the Idempotency-Key header is required")
        return None
    if not HEADER_VALUE.fullmatch(key):
        raise ApiError(400, "invalid_header", "Idempotency-Key must be 1-200 visible ASCII characters")
    return key


async def read_json(request: Request) -> Any:
    """The JSON body, bounded in size."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > v.MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return v.parse_json_body(b"".join(chunks))


def _game_uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(404, "not_found", "no such game") from None


async def _owned_game(request: Request, principal: Principal, subject: str) -> dict[str, Any]:
    game_id = _game_uuid(request.path_params["game_id"])
    game = await _ctx(request).db(_ctx(request).store.get_game, game_id)
    # Another client's (or player's) game is reported as missing: its existence is not disclosed.
    if game is None or game["client_id"] != principal.client_id or (
        not principal.has("service") and game["subject"] != subject
    ):
        raise ApiError(404, "not_found", "no such game")
    return game


async def submit(request: Request, principal: Principal, *, kind: str, game_id: str, subject: str,
                 payload: Payload, key: str | None, chat_id: int | None = None) -> JSONResponse:
    """Record the request (idempotently), produce its command, answer 202 with the request id."""
    context = _ctx(request)
    row, created = await context.db(
        context.store.create_request,
        request_id=str(uuid.uuid4()), client_id=principal.client_id, subject=subject, kind=kind,
        game_id=game_id, idempotency_key=key,
    )
    retry_of_refused = not created and row.status == "failed" and (row.error or {}).get("code") == "broker_unavailable"
    if created or retry_of_refused:
        envelope = Envelope(request_id=row.id, game_id=row.game_id or game_id, chat_id=chat_id, user_id=subject,
                            payload=payload)
        if retry_of_refused:
            await context.db(context.store.set_status, row.id, "pending")
        try:
            await context.produce(envelope)
        except BrokerUnavailable:
            await context.db(context.store.set_status, row.id, "failed",
                             {"code": "broker_unavailable", "message": "the broker did not accept the request"})
            logger.warning("request %s (game %s): broker unavailable", row.id, row.game_id)
            raise unavailable("the message broker is unavailable; retry with the same Idempotency-Key") from None
    body = {"request_id": row.id, "game_id": row.game_id, "status": "pending" if created else row.status,
            "links": {"request": f"/v1/requests/{row.id}", "game": f"/v1/games/{row.game_id}"}}
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/requests/{row.id}"})


# --- routes ------------------------------------------------------------------------------------------


async def token(request: Request) -> Response:
    """OAuth 2 client-credentials grant (form or JSON) -> short-lived access token."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        raw = await request.body()
        if len(raw) > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "request body too large")
        try:
            body: Any = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    else:
        body = await read_json(request)
    values = v.validate(body, {
        "grant_type": v.Field(v.string(64, choices=("client_credentials",)), required=True),
        "client_id": v.Field(v.string(64), required=True),
        "client_secret": v.Field(v.string(200), required=True),
        "scope": v.Field(v.string(100)),
    })
    context = _ctx(request)
    client = await context.db(context.store.find_client, values["client_id"])
    loop = asyncio.get_running_loop()
    valid = client is not None and not client.revoked and await loop.run_in_executor(
        context.db_pool, verify_secret, values["client_secret"], client.secret_hash
    )
    if not valid or client is None:
        raise ApiError(401, "invalid_client", "unknown client or wrong secret")
    granted = tuple(client.scopes.split())
    if "scope" in values:
        asked = tuple(values["scope"].split())
        if not set(asked) <= set(granted):
            raise ApiError(403, "invalid_scope", "the client may not request that scope")
        granted = asked
    access = context.tokens.issue(client_id=client.client_id, subject=client.client_id, scopes=granted)
    return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": context.tokens.ttl_s,
                         "scope": " ".join(granted)}, headers={"Cache-Control": "no-store"})


PLAYER_FIELDS = {
    "subject": v.Field(v.string(200), required=True),
    "name": v.Field(v.string(64, min_length=0)),
    "telegram_id": v.Field(v.integer(1, 2**53)),
}


async def create_game(request: Request) -> Response:
    """Start a game: 202 with the request id; the questions arrive in the request's result."""
    principal = authenticate(request, "player", "service")
    body = await read_json(request)
    fields = {
        "category": v.Field(v.string(64)),
        "difficulty": v.Field(v.string(16, choices=DIFFICULTIES)),
        "question_count": v.Field(v.integer(1, 50)),
        "time_limit_s": v.Field(v.number(5, 300)),
        "player_name": v.Field(v.string(64, min_length=0)),
    }
    if principal.has("service"):
        fields["player"] = v.Field(v.obj(PLAYER_FIELDS))
        fields["chat_id"] = v.Field(v.integer(-(2**53), 2**53))
        fields["mode"] = v.Field(v.string(16, choices=("solo", "group")))
    values = v.validate(body, fields)
    player = values.get("player") or {}
    subject = player.get("subject") or player_subject(request, principal)
    settings = _ctx(request).settings
    game_id = str(uuid.uuid4())
    payload = GameCreate(
        client_id=principal.client_id,
        subject=subject,
        player_name=player.get("name") or values.get("player_name") or "",
        telegram_id=player.get("telegram_id"),
        mode=values.get("mode", "solo"),
        category=values.get("category"),
        difficulty=values.get("difficulty"),
        question_count=values.get("question_count", settings.default_question_count),
        time_limit_s=values.get("time_limit_s", settings.question_time_limit_s),
    )
    return await submit(request, principal, kind="game.create", game_id=game_id, subject=subject, payload=payload,
                        key=idempotency_key(request, required=False), chat_id=values.get("chat_id"))


async def get_game(request: Request) -> Response:
    """The game's state and its open question (never the answer)."""
    principal = authenticate(request, "player", "service")
    game = await _owned_game(request, principal, player_subject(request, principal))
    game = {k: val for k, val in game.items() if k not in {"client_id", "subject"}}
    return JSONResponse(game)


async def submit_answer(request: Request) -> Response:
    """Answer the open question with an option index or typed text (Idempotency-Key required)."""
    principal = authenticate(request, "player", "service")
    key = idempotency_key(request, required=True)
    body = await read_json(request)
    values = v.validate(body, {
        "question_no": v.Field(v.integer(0, 1000), required=True),
        "option": v.Field(v.integer(0, 9)),
        "text": v.Field(v.string(500)),
    })
    if ("option" in values) == ("text" in values):
        raise ApiError(422, "validation_error", "give exactly one of 'option' or 'text'",
                       details=[{"path": "$.option", "message": "exactly one of option or text"}])
    subject = player_subject(request, principal)
    game = await _owned_game(request, principal, subject)
    payload = AnswerSubmit(client_id=principal.client_id, subject=game["subject"], question_no=values["question_no"],
                           idempotency_key=str(key), option=values.get("option"), text=values.get("text"))
    return await submit(request, principal, kind="answer.submit", game_id=game["game_id"], subject=game["subject"],
                        payload=payload, key=key)


async def request_hint(request: Request) -> Response:
    """Ask for a hint on the open question (costs part of its points)."""
    principal = authenticate(request, "player", "service")
    key = idempotency_key(request, required=False)
    values = v.validate(await read_json(request), {"question_no": v.Field(v.integer(0, 1000), required=True)})
    game = await _owned_game(request, principal, player_subject(request, principal))
    payload = HintRequest(client_id=principal.client_id, subject=game["subject"], question_no=values["question_no"],
                          idempotency_key=key or str(uuid.uuid4()))
    return await submit(request, principal, kind="hint.request", game_id=game["game_id"], subject=game["subject"],
                        payload=payload, key=key)


async def finish_game(request: Request) -> Response:
    """End the game now."""
    principal = authenticate(request, "player", "service")
    key = idempotency_key(request, required=False)
    game = await _owned_game(request, principal, player_subject(request, principal))
    payload = GameFinish(client_id=principal.client_id, subject=game["subject"], reason="stopped")
    return await submit(request, principal, kind="game.finish", game_id=game["game_id"], subject=game["subject"],
                        payload=payload, key=key)


async def get_request(request: Request) -> Response:
    """A request's status; ``?wait=N`` long-polls up to N seconds (max 30) for its result."""
    principal = authenticate(request, "player", "service")
    context = _ctx(request)
    request_id = request.path_params["request_id"]
    try:
        request_id = str(uuid.UUID(request_id))
    except ValueError:
        raise ApiError(404, "not_found", "no such request") from None
    raw_wait = request.query_params.get("wait", "0")
    try:
        wait = min(max(float(raw_wait), 0.0), MAX_WAIT_S)
    except ValueError:
        raise ApiError(422, "validation_error", "wait must be a number of seconds",
                       details=[{"path": "wait", "message": "expected a number"}]) from None
    deadline = time.monotonic() + wait
    listener = context.listener
    while True:
        event = listener.register(request_id) if listener is not None else None
        try:
            row = await context.db(context.store.get_request, request_id)
            if row is None or row.client_id != principal.client_id:
                raise ApiError(404, "not_found", "no such request")
            remaining = deadline - time.monotonic()
            if row.status in {"done", "failed"} or remaining <= 0:
                return JSONResponse(request_view(row))
            if event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, RECHECK_S * 4))
            else:
                await asyncio.sleep(min(remaining, RECHECK_S))
        finally:
            if event is not None and listener is not None:
                listener.unregister(request_id, event)


async def categories(request: Request) -> Response:
    """The question categories with counts."""
    authenticate(request, "player", "service")
    context = _ctx(request)
    return JSONResponse({"categories": await context.db(context.store.categories)})


async def healthz(request: Request) -> Response:
    """Liveness: the process serves requests."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers and the broker accepted a connection."""
    context = _ctx(request)
    db_ok = await asyncio.get_running_loop().run_in_executor(context.db_pool, context.store.ping)
    try:
        broker_ok = await asyncio.get_running_loop().run_in_executor(
            context.kafka_pool, lambda: context.producers.get() is not None
        )
    except BrokerUnavailable:
        broker_ok = False
    ok = db_ok and broker_ok
    return JSONResponse({"status": "ok" if ok else "unavailable", "database": db_ok, "broker": broker_ok},
                        status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "5"})


async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# --- middleware --------------------------------------------------------------------------------------

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class ApiMiddleware:
    """Request ids, security headers, metrics, and JSON for every error (never a stack trace)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if HEADER_VALUE.fullmatch(incoming or "") else str(uuid.uuid4())
        status_holder = [500]
        response_started = [False]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                existing = {name for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in existing)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ApiError as exc:
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


def create_app(context: ApiContext) -> Starlette:
    """The ASGI app for ``context``; the lifespan starts and stops the results listener."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        if context.listener is not None:
            context.listener.start()
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, context.close)

    def wrap(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ApiError as exc:
                return exc.response()
        handler.__name__ = endpoint.__name__
        handler.__doc__ = endpoint.__doc__
        return handler

    routes = [
        Route("/v1/auth/token", wrap(token), methods=["POST"]),
        Route("/v1/categories", wrap(categories), methods=["GET"]),
        Route("/v1/games", wrap(create_game), methods=["POST"]),
        Route("/v1/games/{game_id}", wrap(get_game), methods=["GET"]),
        Route("/v1/games/{game_id}/answers", wrap(submit_answer), methods=["POST"]),
        Route("/v1/games/{game_id}/hints", wrap(request_hint), methods=["POST"]),
        Route("/v1/games/{game_id}/finish", wrap(finish_game), methods=["POST"]),
        Route("/v1/requests/{request_id}", wrap(get_request), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _method_not_allowed})
    app.state.context = context
    app.add_middleware(ApiMiddleware)
    return app
