"""Strict request-body validation: unknown fields refused, every error named by its field path (422).

Each check carries the JSON Schema of what it accepts, so the OpenAPI document is generated from the very
validators the routes run (:func:`object_schema`), never written twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import attrs

from gateways.api.errors import ApiError

MAX_BODY_BYTES = 64 * 1024
# Control characters other than tab and newline, and lone surrogates, are refused in every string.
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b-\\u001f\\ud800-\\udfff]*$"


@attrs.frozen
class Check:
    """A value check and the JSON Schema (2020-12, as OpenAPI 3.1 uses) of the values it accepts."""

    fn: Callable[[Any, str], Any]
    schema: dict[str, Any]

    def __call__(self, value: Any, path: str) -> Any:
        return self.fn(value, path)


@attrs.frozen
class Field:
    """One allowed field: its type check, whether it is required, and a description for the document."""

    check: Check
    required: bool = False
    description: str | None = None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # An optional field may be sent as null: the validator treats null as absent.
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def object_schema(fields: dict[str, Field]) -> dict[str, Any]:
    """The JSON Schema of a body (or nested object) that :func:`validate` accepts with ``fields``."""
    properties: dict[str, Any] = {}
    for name, field in fields.items():
        schema = field.check.schema if field.required else _nullable(field.check.schema)
        if field.description:
            schema = {**schema, "description": field.description}
        properties[name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, field in fields.items() if field.required]
    if required:
        out["required"] = required
    return out


def parse_json_body(raw: bytes) -> Any:
    """Decode a JSON body or raise 400 (not UTF-8 / not JSON) or 413 (too large)."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    except ValueError:  # NaN/Infinity, or an integer past Python's 4,300-digit conversion limit
        raise ApiError(400, "invalid_json", "request body holds a number JSON does not allow or that is too large"
                       ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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


_BAD_TEXT = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def _clean_text(value: str) -> str:
    if _BAD_TEXT.search(value):
        raise ValueError("control characters and lone surrogates are not allowed")
    return value


def string(max_length: int, *, min_length: int = 1, choices: tuple[str, ...] | None = None) -> Check:
    """A string of bounded length (and optionally one of ``choices``)."""
    def check(value: Any, _path: str) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"length must be between {min_length} and {max_length}")
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return _clean_text(value)
    schema: dict[str, Any] = {"type": "string"}
    if choices is not None:
        schema["enum"] = list(choices)
    else:
        schema.update(minLength=min_length, maxLength=max_length, pattern=TEXT_PATTERN)
    return Check(check, schema)


def integer(minimum: int, maximum: int) -> Check:
    """An integer within bounds (booleans and floats such as 1.0 refused)."""
    def check(value: Any, _path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("expected an integer")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value
    return Check(check, {"type": "integer", "minimum": minimum, "maximum": maximum})


def boolean() -> Check:
    """A JSON boolean."""
    def check(value: Any, _path: str) -> bool:
        if not isinstance(value, bool):
            raise ValueError("expected a boolean")
        return value
    return Check(check, {"type": "boolean"})


def number(minimum: float, maximum: float) -> Check:
    """A number within bounds (booleans refused)."""
    def check(value: Any, _path: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("expected a number")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum:g} and {maximum:g}")
        return float(value)
    return Check(check, {"type": "number", "minimum": minimum, "maximum": maximum})


def obj(fields: dict[str, Field]) -> Check:
    """A nested object validated like the body."""
    def check(value: Any, path: str) -> dict[str, Any]:
        try:
            return validate(value, fields)
        except ApiError as exc:
            first = exc.details[0] if exc.details else {"path": "$", "message": exc.message}
            raise ValueError(f"{first['path'].replace('$', path, 1)}: {first['message']}") from None
    return Check(check, object_schema(fields))
