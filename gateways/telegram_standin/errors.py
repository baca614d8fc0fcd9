"""Telegram-style failures (its error envelope, 400 and 429 as Telegram words them), and ``JSONDict``, the type
of every JSON object the stand-in handles."""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]


class ApiError(Exception):
    """A Telegram-style failure: ``code`` is both the HTTP status and ``error_code``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_api(self) -> JSONDict:
        """Telegram's error envelope."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """400 with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 as Telegram sends it."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def not_modified() -> ApiError:
    """400 for an edit that would change nothing, as Telegram words it."""
    return bad_request("message is not modified: specified new message content and reply markup are exactly "
                       "the same as a current content and reply markup of the message")
