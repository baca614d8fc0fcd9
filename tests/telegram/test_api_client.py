"""HttpGameApi against a real HTTP server over a real socket: a scripted Starlette app run by uvicorn.

The client's loop runs in a thread of the test, as PTB's does; calls are made from the test's thread (a shard's,
in the telebot). Retries go through a fake timer service that fires at once and moves a virtual clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateways.api.store import request_view, settled_view
from gateways.telegram.api_client import HttpGameApi
from schema.events import (
    AnswerEvaluated,
    Envelope,
    GameCreated,
    QuestionView,
    RequestFailed,
    result_event_id,
    to_dict,
)
from schema.models import RequestStatus
from trivia_actors.session import ApiAccepted, ApiRefused, GameApi
from trivia_actors.session.messages import ApiSettled
from trivia_actors.session.ports import ApiReplySink

TOKEN = "service-token-do-not-log-0123456789"
WAIT_S = 10.0


# --- a scripted API server ------------------------------------------------------------------------------


@attrs.frozen
class Seen:
    """A request as the server got it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]

    @property
    def game_id(self) -> str:
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 else "game-new"


Handler = Callable[[Seen], Awaitable[Response]]


def accepted(seen: Seen, status: str = "pending") -> JSONResponse:
    return JSONResponse({"request_id": f"req-{seen.key}", "game_id": seen.game_id, "status": status,
                         "links": {}}, status_code=202)


async def accept(seen: Seen) -> Response:
    return accepted(seen)


class ScriptedApi:
    """Records what it receives (and when it answered), and answers with the test's ``handler``."""

    def __init__(self) -> None:
        self.handler: Handler = accept
        self.log: list[tuple[str, Seen]] = []  # ("in", request) on arrival, ("out", request) once answered
        self._cond = threading.Condition()

    @property
    def seen(self) -> list[Seen]:
        with self._cond:
            return [seen for event, seen in self.log if event == "in"]

    def _record(self, event: str, seen: Seen) -> None:
        with self._cond:
            self.log.append((event, seen))
            self._cond.notify_all()

    def wait_seen(self, count: int, timeout: float = WAIT_S) -> list[Seen]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.seen) >= count, timeout), \
                f"the server got {len(self.seen)} requests, expected {count}"
            return self.seen

    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        seen = Seen(path=request.url.path, query=dict(request.query_params), headers=dict(request.headers),
                    body=json.loads(raw) if raw else None)
        self._record("in", seen)
        try:
            return await self.handler(seen)
        finally:
            self._record("out", seen)


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def api_server() -> Iterator[tuple[ScriptedApi, str]]:
    script = ScriptedApi()
    app = Starlette(routes=[Route("/{path:path}", script.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    sock = free_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the API server to start")
    yield script, f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(WAIT_S)
    sock.close()
    assert not thread.is_alive(), "the API server did not stop"


# --- the client's side ----------------------------------------------------------------------------------


class FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTimers:
    """``TimerService.call_later`` that fires at once, moving a virtual clock by the delay asked."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.delays: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> FakeHandle:
        with self._lock:
            self.delays.append(delay_s)
            self.now += delay_s
        callback()
        return FakeHandle()


class Replies:
    """A reply sink that records what it is told."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, reply: Any) -> None:
        with self._cond:
            self.items.append(reply)
            self._cond.notify_all()

    def wait(self, count: int = 1, timeout: float = WAIT_S) -> list[Any]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.items) >= count, timeout), \
                f"got {len(self.items)} replies, expected {count}: {self.items}"
            return list(self.items)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bot-loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT_S)
    loop.close()


@pytest.fixture
def timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture
def make_api(loop, timers) -> Iterator[Callable[..., HttpGameApi]]:
    made: list[HttpGameApi] = []

    def make(base_url: str, **kwargs: Any) -> HttpGameApi:
        api = HttpGameApi(base_url, TOKEN, loop=loop, timers=timers, clock=timers.clock, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        api.stop()


@pytest.fixture
def api(api_server: tuple[ScriptedApi, str], make_api: Callable[..., HttpGameApi]) -> HttpGameApi:
    return make_api(api_server[1])


@pytest.fixture
def script(api_server: tuple[ScriptedApi, str]) -> ScriptedApi:
    return api_server[0]


def on_loop(loop: asyncio.AbstractEventLoop, read: Callable[[], Any]) -> Any:
    """Read client state on its loop, after everything scheduled before."""
    async def run() -> Any:
        return read()
    return asyncio.run_coroutine_threadsafe(run(), loop).result(WAIT_S)


def answer(api: GameApi, reply: ApiReplySink, *, game_id: str = "game-1", key: str = "",
           question_no: int = 0, wait_s: float = 0.0) -> str:
    key = key or f"key-{uuid.uuid4().hex[:8]}"
    api.submit_answer(game_id=game_id, subject="tg:7", name="Ann", question_no=question_no, option=2, text=None,
                      idempotency_key=key, reply=reply, wait_s=wait_s)
    return key


# --- accepted, retried, refused -------------------------------------------------------------------------


def test_each_call_posts_today_s_body_with_the_token_the_key_and_the_subject(api, script):
    replies = Replies()
    api.create_game(chat_id=-100, subject="tg:7", name="A" * 80, telegram_id=7,
                    options={"question_count": 5, "mode": "group"}, idempotency_key="k-create", reply=replies)
    api.submit_answer(game_id="g1", subject="tg:7", name="Ann", question_no=1, option=3, text=None,
                      idempotency_key="k-option", reply=replies)
    api.submit_answer(game_id="g2", subject="tg:8", name="Bob", question_no=0, option=None, text="Paris",
                      idempotency_key="k-text", reply=replies)
    api.request_hint(game_id="g3", subject="tg:7", question_no=2, idempotency_key="k-hint", reply=replies)
    api.finish_game(game_id="g4", subject="tg:7", idempotency_key="k-finish", reply=replies)

    got = {reply.key: reply for reply in replies.wait(5)}
    assert got["k-create"] == ApiAccepted(kind="game.create", request_id="req-k-create", game_id="game-new",
                                          key="k-create")
    assert got["k-option"] == ApiAccepted(kind="answer.submit", request_id="req-k-option", game_id="g1", key="k-option")
    assert got["k-hint"].kind == "hint.request"
    assert got["k-finish"].kind == "game.finish"
    seen = {request.key: request for request in script.wait_seen(5)}
    assert {key: (request.path, request.body) for key, request in seen.items()} == {
        "k-create": ("/v1/games", {"question_count": 5, "mode": "group", "chat_id": -100,
                                   "player": {"subject": "tg:7", "name": "A" * 64, "telegram_id": 7}}),
        "k-option": ("/v1/games/g1/answers", {"question_no": 1, "player_name": "Ann", "option": 3}),
        "k-text": ("/v1/games/g2/answers", {"question_no": 0, "player_name": "Bob", "text": "Paris"}),
        "k-hint": ("/v1/games/g3/hints", {"question_no": 2}),
        "k-finish": ("/v1/games/g4/finish", None),
    }
    for request in seen.values():
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.query == {}, "no ?wait= unless asked"
    assert seen["k-text"].headers["x-player-subject"] == "tg:8"


def test_a_503_with_retry_after_is_retried_with_the_same_key_through_the_timers(api, script, timers):
    async def unavailable_once(seen: Seen) -> Response:
        if len(script.seen) == 1:
            return JSONResponse({"error": {"code": "unavailable", "message": "broker down"}}, status_code=503,
                                headers={"Retry-After": "2"})
        return accepted(seen)

    script.handler = unavailable_once
    replies = Replies()
    key = answer(api, replies)

    assert replies.wait() == [ApiAccepted(kind="answer.submit", request_id=f"req-{key}", game_id="game-1", key=key)]
    assert [request.key for request in script.wait_seen(2)] == [key, key]
    assert len(timers.delays) == 1
    assert timers.delays[0] >= 2.0, "Retry-After is honoured"


def test_a_409_is_refused_at_once(api, script, timers):
    async def conflict(seen: Seen) -> Response:
        return JSONResponse({"error": {"code": "idempotency_conflict", "message": "key reused"}}, status_code=409)

    script.handler = conflict
    replies = Replies()
    key = answer(api, replies)

    assert replies.wait() == [ApiRefused(kind="answer.submit", status=409, code="idempotency_conflict",
                                         message="key reused", key=key)]
    assert len(script.seen) == 1
    assert timers.delays == []


def test_an_unreachable_api_is_refused_with_status_0_after_giving_up(make_api, timers, caplog):
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused
    api = make_api(f"http://127.0.0.1:{port}", give_up_after_s=2.0)
    replies = Replies()
    with caplog.at_level(logging.DEBUG):
        key = answer(api, replies)
        [reply] = replies.wait()

    assert reply == ApiRefused(kind="answer.submit", status=0, code="unreachable",
                               message="the game service is unreachable", key=key)
    assert len(timers.delays) >= 2, "retried with backoff before giving up"
    assert timers.delays[1] > timers.delays[0]
    assert sum(timers.delays) <= 2.0, "no attempt after the deadline"
    assert TOKEN not in caplog.text


# --- ?wait=: the settled result -------------------------------------------------------------------------


def _row(request_id: str, kind: str, game_id: str) -> RequestStatus:
    return RequestStatus(id=request_id, client_id="telebot", subject="tg:7", kind=kind, game_id=game_id)


def test_a_settled_reply_comes_back_as_the_worker_s_result_event(api, script):
    evaluated = AnswerEvaluated(question_no=0, verdict="correct", correct_answer="Paris", correct_option=2,
                                given="Paris", points=100, score=100, streak=1, latency_ms=900, explanation="",
                                judged_by="exact", next_question_no=1)
    created = GameCreated(question_count=1, time_limit_s=30.0,
                          questions=(QuestionView(no=0, text="Capital of France?", options=("A", "B", "Paris"),
                                                  category="geo", difficulty="easy"),))
    results: dict[str, AnswerEvaluated | GameCreated] = {"answer.submit": evaluated, "game.create": created}

    async def settled(seen: Seen) -> Response:
        kind = "game.create" if seen.path == "/v1/games" else "answer.submit"
        request_id = f"req-{seen.key}"
        event = Envelope(event_id=result_event_id(request_id, results[kind].TYPE), request_id=request_id,
                         game_id="g1", payload=results[kind])
        return JSONResponse(settled_view(_row(request_id, kind, "g1"), to_dict(event)))

    script.handler = settled
    replies = Replies()
    key = answer(api, replies, game_id="g1", wait_s=5)
    api.create_game(chat_id=-42, subject="tg:7", name="Ann", telegram_id=7, options={}, idempotency_key="k-create",
                    reply=replies, wait_s=2.5)

    got = {reply.key: reply for reply in replies.wait(2)}
    reply = got[key]
    assert isinstance(reply, ApiSettled)
    assert (reply.kind, reply.request_id) == ("answer.submit", f"req-{key}")
    assert reply.event.event_id == result_event_id(f"req-{key}", "answer.evaluated")
    assert reply.event.payload == evaluated
    assert (reply.event.game_id, reply.event.chat_id, reply.event.user_id) == ("g1", None, "tg:7")
    create = got["k-create"]
    assert isinstance(create, ApiSettled)
    assert create.event.payload == created
    assert create.event.chat_id == -42, "the chat of the call"
    assert sorted(request.query["wait"] for request in script.wait_seen(2)) == ["2.5", "5"]


def test_a_failed_settled_reply_is_a_request_failed_event(api, script):
    async def failed(seen: Seen) -> Response:
        request_id = f"req-{seen.key}"
        error = Envelope(event_id=result_event_id(request_id, "request.failed"), request_id=request_id,
                         game_id="g1", payload=RequestFailed(code="already_answered", message="you already answered"))
        return JSONResponse(settled_view(_row(request_id, "answer.submit", "g1"), to_dict(error)))

    script.handler = failed
    replies = Replies()
    key = answer(api, replies, game_id="g1", question_no=3, wait_s=5)

    [reply] = replies.wait()
    assert isinstance(reply, ApiSettled)
    assert reply.event.event_id == result_event_id(f"req-{key}", "request.failed")
    assert reply.event.payload == RequestFailed(code="already_answered", message="you already answered",
                                                question_no=3)


def test_an_unreadable_settled_reply_is_taken_as_accepted(api, script, caplog):
    async def odd(seen: Seen) -> Response:
        row = _row(f"req-{seen.key}", "answer.submit", "g1")
        row.status, row.result = "done", {"type": "answer.evaluated", "payload": {"verdict": "correct"}}
        return JSONResponse(request_view(row))

    script.handler = odd
    replies = Replies()
    with caplog.at_level(logging.WARNING):
        key = answer(api, replies, game_id="g1", wait_s=5)
        [reply] = replies.wait()

    assert reply == ApiAccepted(kind="answer.submit", request_id=f"req-{key}", game_id="g1", key=key)
    assert "unreadable settled reply" in caplog.text


def test_a_202_that_says_settled_is_still_accepted(api, script):
    async def done(seen: Seen) -> Response:
        return accepted(seen, status="done")

    script.handler = done
    replies = Replies()
    key = answer(api, replies, wait_s=5)

    assert replies.wait() == [ApiAccepted(kind="answer.submit", request_id=f"req-{key}", game_id="game-1", key=key)]


# --- order, isolation, concurrency ----------------------------------------------------------------------


def test_a_game_s_second_call_reaches_the_api_only_after_its_first_is_answered(api, script, loop):
    release = threading.Event()

    async def hold_first(seen: Seen) -> Response:
        if seen.key == "a1":
            await asyncio.to_thread(release.wait, WAIT_S)
        return accepted(seen)

    script.handler = hold_first
    replies = Replies()
    answer(api, replies, game_id="ga", key="a1")
    answer(api, replies, game_id="ga", key="a2")
    answer(api, replies, game_id="gb", key="b1")  # another game is not held up
    assert [reply.key for reply in replies.wait(1)] == ["b1"]
    assert {request.key for request in script.wait_seen(2)} == {"a1", "b1"}, "a2 waits for a1's answer"

    release.set()
    assert [reply.key for reply in replies.wait(3)] == ["b1", "a1", "a2"]
    log = [(event, seen.key) for event, seen in script.log]
    assert log.index(("out", "a1")) < log.index(("in", "a2"))
    assert on_loop(loop, lambda: api.open_lanes) == 0, "no per-game state left once drained"


def test_a_reply_sink_that_raises_does_not_stop_later_calls(api, script, caplog):
    def gone(reply: Any) -> None:
        raise RuntimeError("the shard is gone")

    replies = Replies()
    with caplog.at_level(logging.DEBUG, logger="gateways.telegram.api_client"):
        answer(api, gone, game_id="g1", key="lost")
        answer(api, replies, game_id="g1", key="same-game")
        answer(api, replies, game_id="g2", key="other-game")
        assert sorted(reply.key for reply in replies.wait(2)) == ["other-game", "same-game"]

    assert script.wait_seen(3)[0].key == "lost"
    dropped = [record for record in caplog.records if "reply dropped" in record.getMessage()]
    assert [record.levelno for record in dropped] == [logging.DEBUG], "the failed reply is dropped at debug"


def test_fifty_games_call_at_once_and_all_are_answered(api, script, loop):
    in_flight = 0
    all_in: asyncio.Event | None = None

    async def hold_until_all_arrived(seen: Seen) -> Response:
        nonlocal in_flight, all_in
        all_in = all_in or asyncio.Event()  # made on the server's loop
        in_flight += 1
        if in_flight == 50:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), WAIT_S)
        return accepted(seen)

    script.handler = hold_until_all_arrived
    replies = Replies()
    with ThreadPoolExecutor(5) as shards:
        list(shards.map(lambda n: answer(api, replies, game_id=f"g{n}", key=f"k{n}"), range(50)))

    got = replies.wait(50)
    assert sorted((reply.game_id, reply.key) for reply in got) == sorted((f"g{n}", f"k{n}") for n in range(50))
    assert all(isinstance(reply, ApiAccepted) for reply in got)
    assert on_loop(loop, lambda: api.open_lanes) == 0


def test_stop_from_another_thread_drops_calls_in_flight_and_later_ones(api, script, loop):
    release = threading.Event()

    async def hold(seen: Seen) -> Response:
        await asyncio.to_thread(release.wait, WAIT_S)
        return accepted(seen)

    script.handler = hold
    replies = Replies()
    answer(api, replies, key="in-flight")
    script.wait_seen(1)
    stopper = threading.Thread(target=api.stop)
    stopper.start()
    stopper.join(WAIT_S)
    assert not stopper.is_alive(), "stop() returned"
    answer(api, replies, key="after-stop")
    api.stop()  # twice is fine
    release.set()
    on_loop(loop, lambda: None)  # the call after the stop has been handled
    assert replies.items == []
