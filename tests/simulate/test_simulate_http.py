"""The simulator's lean HTTP/1.1 client against a raw asyncio server on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from gateways.local_broker import free_port
from gateways.simulate.http import HttpTimeout, HttpTransportError, LeanClient


class RawServer:
    """Answers each request with the next scripted reply; optionally hangs up after each one."""

    def __init__(self, replies, *, close_after_each=False, delay_s=0.0):
        self.replies = list(replies)
        self.close_after_each = close_after_each
        self.delay_s = delay_s
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader, writer):
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                await asyncio.sleep(self.delay_s)
                writer.write(self.replies.pop(0))
                await writer.drain()
                if self.close_after_each:
                    break
        writer.close()


def _json_reply(body, extra=b""):
    data = json.dumps(body).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(data), extra, data)


async def _serve(server, test):
    port = free_port()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port)
    client = LeanClient(f"http://127.0.0.1:{port}/base", timeout_s=2)
    try:
        return await test(client)
    finally:
        await client.aclose()
        listener.close()
        await listener.wait_closed()


def test_requests_reuse_one_keep_alive_connection_and_carry_body_and_query():
    server = RawServer([_json_reply({"n": 1}), _json_reply({"n": 2})])

    async def test(client):
        first = await client.request("POST", "/v1/x", json={"a": 1}, headers={"X-Player-Id": "p1"})
        second = await client.request("GET", "/v1/y", params={"wait": "1.0"})
        return first, second

    first, second = asyncio.run(_serve(server, test))
    assert (first.status_code, first.json(), second.json()) == (200, {"n": 1}, {"n": 2})
    assert first.headers["content-type"] == "application/json"
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /base/v1/x HTTP/1.1\r\n")
    assert b"X-Player-Id: p1\r\n" in server.requests[0]
    assert server.requests[0].endswith(b'{"a":1}')
    assert server.requests[1].startswith(b"GET /base/v1/y?wait=1.0 HTTP/1.1\r\n")


def test_chunked_bodies_and_form_data():
    chunked = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n4\r\n: 1}\r\n0\r\n\r\n"
    server = RawServer([chunked])

    async def test(client):
        return await client.request("POST", "/token", data={"grant_type": "client_credentials", "x": "a b"})

    response = asyncio.run(_serve(server, test))
    assert (response.status_code, response.json()) == (202, {"a": 1})
    assert b"Content-Type: application/x-www-form-urlencoded" in server.requests[0]
    assert server.requests[0].endswith(b"grant_type=client_credentials&x=a+b")


def test_a_connection_the_server_closed_while_idle_is_replaced_once():
    server = RawServer([_json_reply({"n": 1}), _json_reply({"n": 2})], close_after_each=True)

    async def test(client):
        first = await client.request("GET", "/a")
        await asyncio.sleep(0.05)  # the server has hung up the idle connection by now
        second = await client.request("GET", "/b")
        return first, second

    first, second = asyncio.run(_serve(server, test))
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert server.connections == 2


def test_connections_idle_too_long_are_not_reused():
    server = RawServer([_json_reply({"n": 1}), _json_reply({"n": 2})])

    async def test(client):
        client.max_idle_s = 0.01
        await client.request("GET", "/a")
        await asyncio.sleep(0.05)
        return await client.request("GET", "/b")

    assert asyncio.run(_serve(server, test)).json() == {"n": 2}
    assert server.connections == 2


def test_connection_close_is_honoured():
    server = RawServer([_json_reply({"n": 1}, b"Connection: close\r\n"), _json_reply({"n": 2})])

    async def test(client):
        await client.request("GET", "/a")
        return await client.request("GET", "/b")

    assert asyncio.run(_serve(server, test)).json() == {"n": 2}
    assert server.connections == 2


def test_timeouts_and_refused_connections_raise_their_own_errors():
    server = RawServer([_json_reply({})], delay_s=5)

    async def slow(client):
        await client.request("GET", "/slow")

    with pytest.raises(HttpTimeout):
        asyncio.run(_serve(server, slow))

    async def refused():
        client = LeanClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
        await client.request("GET", "/")

    with pytest.raises(HttpTransportError):
        asyncio.run(refused())
    with pytest.raises(ValueError):
        LeanClient("https://example.org")
