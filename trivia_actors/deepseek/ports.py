"""The chat API as the DeepSeek actors see it: one exchange, implemented over HTTP by ``gateways.deepseek_client``."""

from __future__ import annotations

from typing import Literal, Protocol

import attrs

# What an exchange is for: a metrics label, and the two jobs the pool runs.
Purpose = Literal["judge", "generate"]


@attrs.frozen(kw_only=True)
class ChatRequest:
    """One chat completion request in JSON-output mode: (role, content) messages and sampling limits."""

    purpose: Purpose
    messages: tuple[tuple[str, str], ...]
    temperature: float
    max_tokens: int


@attrs.frozen(kw_only=True)
class ChatReply:
    """The assistant message's text and the token usage the API reported."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class ChatError(Exception):
    """One exchange failed. ``kind`` is a short label for metrics and logs, never a secret or a URL.

    Kinds: timeout, connection, rate_limited (429), server_error (5xx), client_error (other 4xx),
    bad_response (not a chat completion), breaker_open, deadline, internal.
    """

    def __init__(self, kind: str, detail: str = "", *, retryable: bool, status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s


class ChatClient(Protocol):
    """One chat completion exchange, no retries; raises :class:`ChatError` on any failure."""

    def complete(self, request: ChatRequest, *, timeout_s: float) -> ChatReply: ...

    def close(self) -> None: ...
