"""The HTTP client against a real OpenAI-compatible server (llmock): the request on the wire, usage, errors."""

from __future__ import annotations

import email.utils
import logging

import pytest

from gateways.deepseek_client import DeepSeekClient, client_factory, parse_completion, parse_retry_after
from tests.deepseek.conftest import SECRET_KEY, chat_requests
from trivia_actors.deepseek import ChatError, ChatRequest
from trivia_actors.runtime import Settings

REQUEST = ChatRequest(purpose="judge", messages=(("system", "Reply in JSON."), ("user", "Say hi as json.")),
                      temperature=0.0, max_tokens=50)


def test_request_is_a_json_mode_chat_completion_and_usage_is_read(client, llmock):
    llmock.reply('{"hello": "world"}')
    reply = client.complete(REQUEST, timeout_s=5)
    assert reply.content == '{"hello": "world"}'
    assert reply.finish_reason == "stop"
    assert reply.completion_tokens > 0, "usage.completion_tokens must be read from the response"
    [sent] = chat_requests(llmock)
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "model": "deepseek-chat",
        "messages": [{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "Say hi as json."}],
        "response_format": {"type": "json_object"},
        "temperature": 0.0,
        "max_tokens": 50,
        "stream": False,
    }


def test_429_is_retryable_and_carries_retry_after(client, llmock):
    llmock.fail(429, retry_after=0.4)
    with pytest.raises(ChatError) as caught:
        client.complete(REQUEST, timeout_s=5)
    assert (caught.value.kind, caught.value.retryable, caught.value.status) == ("rate_limited", True, 429)
    assert caught.value.retry_after_s == pytest.approx(0.4)


@pytest.mark.parametrize(("status", "kind", "retryable"), [
    (500, "server_error", True), (503, "server_error", True), (400, "client_error", False),
    (401, "client_error", False), (402, "client_error", False),
])
def test_http_errors_are_classified(client, llmock, status, kind, retryable):
    llmock.fail(status)
    with pytest.raises(ChatError) as caught:
        client.complete(REQUEST, timeout_s=5)
    assert (caught.value.kind, caught.value.retryable, caught.value.status) == (kind, retryable, status)


def test_a_slow_server_times_out(client, llmock):
    llmock.delay(2.0)
    with pytest.raises(ChatError) as caught:
        client.complete(REQUEST, timeout_s=0.3)
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)


def test_unreachable_server_is_a_connection_error():
    closed = DeepSeekClient(api_key=SECRET_KEY, base_url="http://127.0.0.1:9/v1", model="deepseek-chat")
    with pytest.raises(ChatError) as caught:
        closed.complete(REQUEST, timeout_s=1)
    assert (caught.value.kind, caught.value.retryable) == ("connection", True)


def test_the_key_is_sent_as_bearer_and_never_shown(client, llmock, caplog):
    caplog.set_level(logging.DEBUG)
    llmock.fail(401, message="Authentication Fails, Your api key is invalid")
    with pytest.raises(ChatError) as caught:
        client.complete(REQUEST, timeout_s=5)
    llmock.fail(500)
    with pytest.raises(ChatError) as second:
        client.complete(REQUEST, timeout_s=5)
    shown = " ".join([str(caught.value), repr(caught.value), str(second.value), repr(client), caplog.text])
    assert SECRET_KEY not in shown
    assert "Bearer" not in shown


def test_the_key_travels_in_the_authorization_header(llmock):
    import requests

    seen: dict[str, str] = {}

    class Recording(requests.Session):
        def post(self, url, **kwargs):  # type: ignore[override]
            seen.update(kwargs["headers"])
            return super().post(url, **kwargs)

    llmock.reply("{}")
    DeepSeekClient(api_key=SECRET_KEY, base_url=llmock.base_url(), model="m", session=Recording()).complete(
        REQUEST, timeout_s=5)
    assert seen["Authorization"] == f"Bearer {SECRET_KEY}"


def test_parse_retry_after_forms():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "1"}) == 0.25
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "-5"}) == 0.0
    assert parse_retry_after({"Retry-After": "99999"}) == 600.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: 1_000_000) == pytest.approx(30)


def test_completion_documents_without_content_are_bad_responses():
    for document in ({}, {"choices": []}, {"choices": [{"message": {"content": None}}]}, [1, 2]):
        with pytest.raises(ChatError) as caught:
            parse_completion(document)
        assert caught.value.kind == "bad_response"
    reply = parse_completion({"choices": [{"message": {"content": "{}"}, "finish_reason": "length"}],
                              "usage": {"prompt_tokens": 12, "completion_tokens": True}})
    assert (reply.prompt_tokens, reply.completion_tokens, reply.finish_reason) == (12, 0, "length")


def test_no_key_no_client():
    assert client_factory(Settings()) is None
    make = client_factory(Settings(deepseek_api_key=SECRET_KEY, deepseek_base_url="http://127.0.0.1:1/v1"))
    assert make is not None
    assert SECRET_KEY not in repr(make())
