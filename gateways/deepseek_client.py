"""DeepSeek's OpenAI-compatible chat completions API over ``requests``: one exchange per call, no retries.

``POST {base_url}/chat/completions`` with the model, the messages, ``response_format: {"type": "json_object"}``,
the temperature and ``max_tokens``; the key travels only in the ``Authorization: Bearer`` header. Retries,
the circuit breaker and the deadlines live in ``trivia_actors.deepseek``; this module turns every failure into
a :class:`~trivia_actors.deepseek.ChatError` whose text holds neither the key nor the URL.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from trivia_actors.deepseek import ChatClient, ChatError, ChatReply, ChatRequest
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
MAX_RETRY_AFTER_S = 600.0
USER_AGENT = "trivia-platform/0.1 (+deepseek)"


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms`` (OpenAI-style, precise) or ``Retry-After``
    (delta-seconds or an HTTP date); None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    precise = _seconds(lowered.get("retry-after-ms"), scale=1000)
    if precise is not None:
        return min(precise, MAX_RETRY_AFTER_S)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        value = when.timestamp() - now()
    if not math.isfinite(value):
        return None
    return min(max(value, 0.0), MAX_RETRY_AFTER_S)


def _seconds(raw: str | None, *, scale: float) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw) / scale
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class DeepSeekClient:
    """A :class:`~trivia_actors.deepseek.ChatClient` for one thread (a ``requests.Session`` is not shared)."""

    def __init__(self, *, api_key: str, base_url: str, model: str, session: requests.Session | None = None) -> None:
        if not api_key:
            raise ValueError("DEEPSEEK_API_KEY is required to talk to DeepSeek")
        self._api_key = api_key
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.model = model
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"DeepSeekClient(url={self.url!r}, model={self.model!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def complete(self, request: ChatRequest, *, timeout_s: float) -> ChatReply:
        """One chat completion; raises ChatError (retryable for timeouts, connection errors, 429 and 5xx)."""
        body = {
            "model": self.model,
            "messages": [{"role": role, "content": content} for role, content in request.messages],
            "response_format": {"type": "json_object"},
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": False,
        }
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json",
                   "User-Agent": USER_AGENT}
        try:
            response = self._session.post(self.url, json=body, headers=headers,
                                          timeout=(min(CONNECT_TIMEOUT_S, timeout_s), timeout_s))
        except requests.Timeout:
            raise ChatError("timeout", retryable=True) from None
        except requests.ConnectionError:
            raise ChatError("connection", retryable=True) from None
        except requests.RequestException as exc:
            raise ChatError("connection", type(exc).__name__, retryable=True) from None
        with response:
            return self._reply(response)

    def _reply(self, response: requests.Response) -> ChatReply:
        status = response.status_code
        if status == 429:
            raise ChatError("rate_limited", retryable=True, status=status,
                            retry_after_s=parse_retry_after(response.headers))
        if status >= 500 or status == 408:
            raise ChatError("server_error", f"HTTP {status}", retryable=True, status=status,
                            retry_after_s=parse_retry_after(response.headers))
        if status != 200:
            # 400 (bad request), 401 (key), 402 (balance), 422 (parameters): retrying changes nothing.
            raise ChatError("client_error", f"HTTP {status}: {_error_code(response)}", retryable=False, status=status)
        try:
            document = response.json()
        except ValueError:
            raise ChatError("bad_response", "the body is not JSON", retryable=False, status=status) from None
        return parse_completion(document)


def _error_code(response: requests.Response) -> str:
    """The API's error code or type (short, no echo of our request)."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or error.get("type") or "error")[:60]
    except (ValueError, AttributeError):
        return "error"


def parse_completion(document: Any) -> ChatReply:
    """The first choice's message text and the usage, from a chat completion response document."""
    try:
        choice = document["choices"][0]
        content = choice["message"]["content"]
        finish_reason = choice.get("finish_reason") or "stop"
    except (KeyError, IndexError, TypeError):
        raise ChatError("bad_response", "no choices[0].message.content", retryable=False) from None
    if not isinstance(content, str):
        raise ChatError("bad_response", "the message content is not text", retryable=False)
    usage = document.get("usage") if isinstance(document, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return ChatReply(
        content=content,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        finish_reason=str(finish_reason),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def client_factory(settings: Settings) -> Callable[[], ChatClient] | None:
    """What the worker's entry point hands to ``WorkerRuntime``: a client per DeepSeek actor, or None
    when DEEPSEEK_API_KEY is not set (the bank and the local judge serve alone)."""
    api_key = settings.deepseek_api_key
    if not api_key:
        return None

    def make() -> ChatClient:
        return DeepSeekClient(api_key=api_key, base_url=settings.deepseek_base_url, model=settings.deepseek_model)

    return make
