"""Operations and documentation: liveness, readiness, Prometheus metrics, ``/openapi.json`` and ``/docs``."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateways.api.docs_page import CONTENT_SECURITY_POLICY, HTML
from gateways.api.openapi import Operation, Reply, ref
from gateways.api.security import context_of
from trivia_actors.kafka import BrokerUnavailable


async def healthz(request: Request) -> Response:
    """Liveness: the process serves requests."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers and the broker accepted a connection."""
    context = context_of(request)
    loop = asyncio.get_running_loop()
    db_ok = await loop.run_in_executor(context.db_pool, context.store.ping)
    try:
        broker_ok = await loop.run_in_executor(context.kafka_pool, lambda: context.producers.get() is not None)
    except BrokerUnavailable:
        broker_ok = False
    ok = db_ok and broker_ok
    return JSONResponse({"status": "ok" if ok else "unavailable", "database": db_ok, "broker": broker_ok},
                        status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "5"})


async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi_json(request: Request) -> Response:
    """This document."""
    document: dict[str, Any] = request.app.state.openapi
    return JSONResponse(document, headers={"Cache-Control": "no-cache"})


async def docs(request: Request) -> Response:
    """A browsable rendering of this document (self-contained: no external scripts or styles)."""
    return HTMLResponse(HTML, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                       "Cache-Control": "no-cache"})


OPERATIONS: list[Operation] = [
    Operation(method="GET", path="/healthz", handler=healthz, operation_id="healthz", tag="operations",
              summary="Liveness", replies=(Reply(status=200, description="Alive.", schema=ref("Health")),)),
    Operation(method="GET", path="/readyz", handler=readyz, operation_id="readyz", tag="operations",
              summary="Readiness (database and broker)",
              replies=(Reply(status=200, description="Ready.", schema=ref("Ready")),
                       Reply(status=503, description="Not ready.", schema=ref("Ready"), headers=("Retry-After",)))),
    Operation(method="GET", path="/metrics", handler=metrics, operation_id="metrics", tag="operations",
              summary="Prometheus metrics",
              replies=(Reply(status=200, description="Metrics in the Prometheus text format.",
                             schema={"type": "string"}, media_type="text/plain"),)),
    Operation(method="GET", path="/openapi.json", handler=openapi_json, operation_id="openapi", tag="operations",
              summary="This OpenAPI 3.1 document",
              replies=(Reply(status=200, description="The document.", schema={"type": "object"}),)),
    Operation(method="GET", path="/docs", handler=docs, operation_id="docs", tag="operations",
              summary="Browsable API documentation",
              replies=(Reply(status=200, description="An HTML page.", schema={"type": "string"},
                             media_type="text/html"),)),
]
