"""Strict request-body validation: unknown fields refused, every error named by its field path (422)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from gateways.api.errors import ApiError

MAX_BODY_BYTES = 64 * 1024


@attrs.frozen
class Field:
    """One allowed field: its type check and whether it is required."""

    check: Callable[[Any, str], Any]
    required: bool = False


def parse_json_body(raw: bytes) -> Any:
    """Decode a JSON body or raise 400 (not UTF-8 / not JSON) or 413 (too large)."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None


def validate(body: Any, fields: dict[str, Field]) -> dict[str, Any]:
    """Check ``body`` against ``fields``; 422 listing every problem with its path."""
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "request body must be a JSON object",
                       details=[{"path": "$", "message": "expected an object"}])
    problems: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in sorted(set(body) - set(fields)):
        problems.append({"path": f"$.{name}", "message": "unknown field"})
    for name, field in fields.items():
        if name not in body or body[name] is None:
            if field.required:
                problems.append({"path": f"$.{name}", "message": "required"})
            continue
        try:
            values[name] = field.check(body[name], f"$.{name}")
        except ValueError as exc:
            problems.append({"path": f"$.{name}", "message": str(exc)})
    if problems:
        raise ApiError(422, "validation_error", f"invalid request: {problems[0]['path']} {problems[0]['message']}",
                       details=problems)
    return values


def _clean_text(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
        raise ValueError("control characters are not allowed")
    return value


def string(
    max_length: int, *, min_length: int = 1, choices: tuple[str, ...] | None = None
) -> Callable[[Any, str], str]:
    """A string of bounded length (and optionally one of ``choices``)."""
    def check(value: Any, _path: str) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"length must be between {min_length} and {max_length}")
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return _clean_text(value)
    return check


def integer(minimum: int, maximum: int) -> Callable[[Any, str], int]:
    """An integer within bounds (booleans refused)."""
    def check(value: Any, _path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("expected an integer")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value
    return check


def number(minimum: float, maximum: float) -> Callable[[Any, str], float]:
    """A number within bounds (booleans refused)."""
    def check(value: Any, _path: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("expected a number")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum:g} and {maximum:g}")
        return float(value)
    return check


def obj(fields: dict[str, Field]) -> Callable[[Any, str], dict[str, Any]]:
    """A nested object validated like the body."""
    def check(value: Any, path: str) -> dict[str, Any]:
        try:
            return validate(value, fields)
        except ApiError as exc:
            first = exc.details[0] if exc.details else {"path": "$", "message": exc.message}
            raise ValueError(f"{first['path'].replace('$', path, 1)}: {first['message']}") from None
    return check
