"""The OpenAPI document: valid 3.1, the same routes as the app, a browsable page, and the app conforms to it.

The conformance test is schemathesis fuzzing the running app in-process (ASGI) with a valid bearer token:
no 5xx, and every status code, content type, header and body is one the document declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from gateways.api.app import ApiContext, create_app
from gateways.api.routes import OPERATIONS
from tests.api.conftest import ApiHarness


def test_document_is_valid_openapi_3_1(harness: ApiHarness) -> None:
    api = harness.start()
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token from /v1/auth/token or /v1/auth/refresh."}


def test_document_and_routes_are_the_same_list(harness: ApiHarness) -> None:
    api = harness.start()
    document = api.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routed = {(method, route.path) for route in api.app.routes if isinstance(route, Route)
              for method in (route.methods or set()) if method != "HEAD"}
    assert documented == routed
    design = {("POST", "/v1/auth/token"), ("POST", "/v1/auth/refresh"), ("GET", "/v1/categories"),
              ("POST", "/v1/games"), ("GET", "/v1/games/{game_id}"), ("POST", "/v1/games/{game_id}/answers"),
              ("POST", "/v1/games/{game_id}/hints"), ("POST", "/v1/games/{game_id}/finish"),
              ("GET", "/v1/requests/{request_id}"), ("GET", "/v1/leaderboard"), ("GET", "/v1/players/me"),
              ("GET", "/v1/players/{player_id}/stats"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    assert design <= documented
    for path, item in document["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            if op["security"]:
                assert {"401", "403", "429"} <= codes, (method, path)
            if method == "post":
                assert "413" in codes, (method, path)


def test_docs_page_is_self_contained(harness: ApiHarness) -> None:
    api = harness.start()
    page = api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'fetch("/openapi.json"' in page.text
    # Nothing is loaded from elsewhere, and the policy allows only the page's own inline script and style.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


@pytest.fixture
def fuzz_target(harness: ApiHarness, topics, monkeypatch) -> Iterator[tuple[schemathesis.schemas.BaseSchema, str]]:
    """The app (not yet started: schemathesis runs its lifespan) and an admin bearer token for it."""
    # No worker runs here, so no command ever settles: a generated ``wait`` would only make each call wait.
    monkeypatch.setattr("gateways.api.routes.longpoll.MAX_WAIT_S", 0.05)
    issuing = harness.start()
    token = harness.tokens(issuing, harness.new_client("player service admin"))["access_token"]
    context = ApiContext(harness.settings, harness.database, listen_for_results=False)
    app = create_app(context)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema, token
    schemathesis_asgi.shutdown_lifespans()
    context.close()


MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


# Negative data (inputs the document forbids) exists only for operations that take some input.
CASES = [
    pytest.param(op, mode, id=f"{op.method} {op.path} {mode.value}")
    for op in OPERATIONS for mode in MODES
    if mode is schemathesis.GenerationMode.POSITIVE or op.params or op.body is not None
]


@pytest.mark.parametrize(("op", "mode"), CASES)
def test_app_conforms_to_its_document(fuzz_target, op, mode) -> None:
    schema, token = fuzz_target
    operation = schema[op.path][op.method]

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    fuzz()
