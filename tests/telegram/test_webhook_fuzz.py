"""Random documents through the webhook route (the gateway's front door): never a 5xx; what is queued for the
handlers is always a parsed Update, and anything that is not an update object is refused with 400."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from telegram import Update
from telegram.ext import Application

from gateways.telegram.webhook import SECRET_HEADER, create_webhook_app

SECRET = "fuzz-secret-0123456789"

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                         max_leaves=20)
chats = st.fixed_dictionaries({"id": st.one_of(st.integers(), st.text(max_size=5)),
                               "type": st.sampled_from(["private", "group", "supergroup", "channel", "?"])})
messages = st.fixed_dictionaries(
    {"message_id": st.one_of(st.integers(), st.text(max_size=3)),
     "date": st.one_of(st.integers(min_value=-(2**63), max_value=2**63), st.text(max_size=5)),
     "chat": st.one_of(chats, documents)},
    optional={"text": st.one_of(st.sampled_from(["/play ²", "/settings questions ²", "/play 99999999999999999999",
                                                 "/start", "/help", "/stop"]), st.text(max_size=50)),
              "from": st.one_of(documents, st.fixed_dictionaries({"id": st.integers(), "is_bot": st.booleans(),
                                                                   "first_name": st.text(max_size=20)}))})
updates = st.one_of(
    documents,
    st.fixed_dictionaries({"update_id": st.one_of(st.integers(), documents)},
                          optional={"message": st.one_of(messages, documents),
                                    "callback_query": documents, "poll_answer": documents}),
)


@pytest.fixture(scope="module")
def webhook():
    application = Application.builder().token("123:fuzz").build()
    with TestClient(create_webhook_app(application, path="/hook", secret=SECRET)) as client:
        yield client, application


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(updates)
def test_random_updates_never_crash_the_webhook(webhook, document) -> None:
    client, application = webhook
    response = client.post("/hook", content=json.dumps(document), headers={SECRET_HEADER: SECRET})
    assert response.status_code in {200, 400}, response.text
    if not isinstance(document, dict) or not isinstance(document.get("update_id"), int):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_update"
    while not application.update_queue.empty():
        assert isinstance(application.update_queue.get_nowait(), Update)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_with_400(webhook, body: bytes) -> None:
    client, _application = webhook
    response = client.post("/hook", content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code in {200, 400}  # a few byte strings are valid JSON updates
