"""The load generator's HTTP clients: a lean HTTP/1.1 keep-alive client on asyncio streams (the default) and
an httpx adapter, behind one small interface.

Why a client of our own: measured against the no-op floor app on 2 cores, httpx 0.28 spent 3-9 ms of CPU
per request (its pool scans every connection on each request, and httpcore retries a missing optional
import on each lock it sets up) while the server spent 0.5 ms; the generator, not the system under test,
would set the ceiling. The lean client keeps one idle-connection stack, writes the request in one call and
parses the head by hand: plain ``http://`` only, Content-Length or chunked bodies.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

import attrs

T = TypeVar("T")


class HttpTimeout(Exception):
    """No complete response within the timeout."""


class HttpTransportError(Exception):
    """The connection failed (refused, reset, closed mid-response)."""


@attrs.frozen
class HttpResponse:
    """A complete response."""

    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", errors="replace")


class HttpClient(Protocol):
    """What the simulator needs from an HTTP client."""

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      json: Any = None, data: dict[str, str] | None = None,
                      params: dict[str, Any] | None = None) -> HttpResponse:
        """Send one request and return the complete response."""

    async def aclose(self) -> None:
        """Release the connections."""


def _body(json: Any, data: dict[str, str] | None) -> tuple[bytes, str | None]:
    if json is not None:
        return jsonlib.dumps(json, separators=(",", ":")).encode(), "application/json"
    if data is not None:
        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    return b"", None


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


def _unanswered(exc: BaseException) -> bool:
    """True when the server hung up before sending any byte of a response (so the request can be resent)."""
    if isinstance(exc, asyncio.IncompleteReadError):
        return not exc.partial
    return isinstance(exc, ConnectionResetError | BrokenPipeError)


class LeanClient:
    """HTTP/1.1 over keep-alive connections to one ``http://host:port[/prefix]``; one request per connection at
    a time, idle connections reused last-in first-out and dropped after ``max_idle_s`` (below uvicorn's 5 s
    keep-alive, so the server rarely closes one under us; when it does, the request goes again on a new
    connection if no byte of a response had arrived)."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0, max_idle_s: float = 4.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean client speaks plain http:// only, not {base_url!r} (use --http-client httpx)")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc
        self.timeout_s = timeout_s
        self.max_idle_s = max_idle_s
        self._idle: list[_Connection] = []

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection that is still fresh; stale ones are closed."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < self.max_idle_s:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, json: Any = None,
                      data: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> HttpResponse:
        """Send one request and read its response; a reused connection the server had closed is replaced once."""
        body, content_type = _body(json, data)
        target = self.prefix + path + (f"?{urlencode(params)}" if params else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(body)}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in range(2):
            connection = self._take_idle() if attempt == 0 else None
            reused = connection is not None
            done = False
            try:
                async with asyncio.timeout(self.timeout_s):
                    if connection is None:
                        connection = await self._connect()
                    connection.writer.write(payload)
                    response, keep_alive = await _read_response(connection.reader)
                done = True
            except TimeoutError:
                raise HttpTimeout(f"{method} {path}: no response in {self.timeout_s:g}s") from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                if reused and _unanswered(exc):
                    continue  # a keep-alive connection the server closed while idle: resend on a new one
                raise HttpTransportError(f"{method} {path}: {type(exc).__name__}") from exc
            finally:
                if connection is not None and not done:
                    connection.close()
            if keep_alive:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()
            return response
        raise HttpTransportError(f"{method} {path}: no connection")  # unreachable: the loop returns or raises

    async def aclose(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[HttpResponse, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status_parts = lines[0].split(b" ", 2)
    if len(status_parts) < 2 or not status_parts[0].startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x response")
    status = int(status_parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    keep_alive = headers.get("connection", "").lower() != "close" and status_parts[0] == b"HTTP/1.1"
    if "content-length" in headers:
        content = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        content = b"".join(chunks)
    elif status in (204, 304) or 100 <= status < 200:
        content = b""
    else:
        content = await reader.read()
        keep_alive = False
    return HttpResponse(status, headers, content), keep_alive


class HttpxClient:
    """The same interface over httpx (for https targets); heavier on CPU, see the module docstring."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0, connections: int = 100) -> None:
        import httpx

        self._httpx = httpx
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), trust_env=False, timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, json: Any = None,
                      data: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> HttpResponse:
        """Send one request through httpx."""
        try:
            response = await self.client.request(method, path, headers=headers, json=json, data=data, params=params)
        except self._httpx.TimeoutException as exc:
            raise HttpTimeout(f"{method} {path}: {type(exc).__name__}") from exc
        except self._httpx.TransportError as exc:
            raise HttpTransportError(f"{method} {path}: {type(exc).__name__}") from exc
        return HttpResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                            response.content)

    async def aclose(self) -> None:
        """Close the pool."""
        await self.client.aclose()


CLIENTS = ("lean", "httpx")


def make_client(kind: str, base_url: str, *, timeout_s: float, connections: int) -> HttpClient:
    """A client of ``kind`` (lean or httpx)."""
    if kind == "httpx":
        return HttpxClient(base_url, timeout_s=timeout_s, connections=connections)
    if kind == "lean":
        return LeanClient(base_url, timeout_s=timeout_s)
    raise ValueError(f"unknown HTTP client {kind!r}: {', '.join(CLIENTS)}")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (uvicorn's own loop; less CPU per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    result: T = uvloop.run(coroutine)
    return result
