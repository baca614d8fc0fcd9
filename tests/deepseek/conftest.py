"""Fixtures for the DeepSeek tests: clients and pools pointed at llmock, a real OpenAI-compatible server on a
local port (the ``llmock`` fixture of its pytest plugin, reset for every test). No test reaches DeepSeek."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pykka
import pytest
import requests

from gateways.deepseek_client import DeepSeekClient
from trivia_actors.deepseek import DeepSeekPool, DeepSeekTuning, RetryPolicy

# A fake key: tests assert that it never reaches a log line, an error text or a repr.
SECRET_KEY = "sk-test-5f0c1e2d3b4a-never-logged"


def verdict_json(verdict: str, reason: str = "same person") -> str:
    """The judge reply the model is asked for."""
    return json.dumps({"verdict": verdict, "reason": reason})


def question_item(n: int, *, topic: str = "volcanoes", **overrides: Any) -> dict[str, Any]:
    """A valid generated item, numbered so that each is distinct."""
    answer = f"Answer {n} of {topic}"
    item: dict[str, Any] = {
        "text": f"Which is the right answer to {topic} question number {n}?",
        "options": [f"Wrong {n}a", answer, f"Wrong {n}b", f"Wrong {n}c"],
        "answer": answer,
        "aliases": [],
        "explanation": f"Because {n} is the number of the question.",
        "difficulty": "easy",
    }
    item.update(overrides)
    return item


def generation_json(*items: dict[str, Any]) -> str:
    return json.dumps({"questions": list(items)})


def chat_requests(llmock: Any) -> list[Any]:
    """Every chat completion request the stand-in received in this test."""
    return [r for r in llmock.requests if r.path.endswith("/chat/completions")]


class Inbox(pykka.ThreadingActor):
    """Puts every message it receives on a queue: stands in for the evaluator or the question master."""

    def __init__(self, out: queue.Queue[Any]) -> None:
        super().__init__()
        self.out = out

    def on_receive(self, message: Any) -> None:
        self.out.put(message)


@pytest.fixture
def inbox() -> Iterator[tuple[pykka.ActorRef[Any], queue.Queue[Any]]]:
    out: queue.Queue[Any] = queue.Queue()
    ref = Inbox.start(out)
    yield ref, out
    ref.stop()


@pytest.fixture
def client(llmock) -> Iterator[DeepSeekClient]:
    made = DeepSeekClient(api_key=SECRET_KEY, base_url=llmock.base_url("openai"), model="deepseek-chat")
    yield made
    made.close()


FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.02, max_delay_s=0.1)


@pytest.fixture
def make_pool(llmock) -> Iterator[Callable[..., DeepSeekPool]]:
    """Starts pools of real DeepSeek actors against the stand-in; stops them after the test."""
    pools: list[DeepSeekPool] = []

    def make(*, concurrency: int = 2, daily_quota: int = 5, timeout_s: float = 5.0, **tuning: Any) -> DeepSeekPool:
        tuning.setdefault("retry", FAST_RETRY)
        pool = DeepSeekPool(
            lambda: DeepSeekClient(api_key=SECRET_KEY, base_url=llmock.base_url("openai"), model="deepseek-chat"),
            concurrency=concurrency, timeout_s=timeout_s, daily_quota=daily_quota, tuning=DeepSeekTuning(**tuning),
        )
        pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.stop()


class HeldDeepSeek:
    """llmock behind a gate: every request reaches llmock only once the test calls :meth:`release`, so a reply
    is "slow" (later than a deadline) because the test says so, not because a sleep outlasted the machine."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.arrived = threading.Event()  # a request is being held
        self._open = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                held.arrived.set()
                held._open.wait()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
                reply = requests.post(held.upstream + self.path, data=body, headers=headers, timeout=30)
                self.send_response(reply.status_code)
                for name, value in reply.headers.items():
                    if name.lower() not in {"content-length", "content-encoding", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="held-deepseek", daemon=True)

    def base_url(self) -> str:
        """The OpenAI-compatible base URL (as ``llmock.base_url("openai")``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def release(self) -> None:
        """Let every held request (and every later one) through to llmock."""
        self._open.set()

    def start(self) -> HeldDeepSeek:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def held_deepseek(llmock) -> Iterator[HeldDeepSeek]:
    """llmock, answering only once the test releases it."""
    held = HeldDeepSeek(llmock.url).start()
    yield held
    held.stop()
