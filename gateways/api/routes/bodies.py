"""Request bodies read with a size bound: JSON, or form-encoded (OAuth 2 style) where a route takes both."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from gateways.api import validation as v
from gateways.api.errors import ApiError
from gateways.api.openapi import FORM


async def read_json(request: Request) -> Any:
    """The JSON body, bounded in size (the middleware also refuses oversized bodies up front)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > v.MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"request body exceeds {v.MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return v.parse_json_body(b"".join(chunks))


async def read_form_or_json(request: Request) -> Any:
    """A form-encoded body (OAuth 2 style) or a JSON one."""
    if request.headers.get("content-type", "").startswith(FORM):
        raw = await request.body()
        if len(raw) > v.MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "request body too large")
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    return await read_json(request)
