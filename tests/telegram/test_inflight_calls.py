"""A game that ends while its API call is in flight; 50 other games keep playing through the same client.

Real parts: one session shard, the process's timer service, ``HttpGameApi`` on an asyncio loop thread (as PTB's),
and a Starlette app on uvicorn over a real socket standing in for the API. The server holds one game's finish
reply until the test releases it; meanwhile that game ends and leaves its shard, and the other games' calls go
through the same client. The late reply for the ended game must be dropped, harming nobody.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateways.telegram.api_client import HttpGameApi
from schema import events as ev
from tests.session.dummies import DummyCommands, DummyOutbox, RecordingCompletion
from trivia_actors.rules import CallKind, Phase
from trivia_actors.runtime import TimerService
from trivia_actors.session import (
    AnswerGiven,
    GameOptions,
    GetState,
    ListChats,
    Player,
    ResultArrived,
    SessionShardActor,
    SessionState,
    StartGame,
    StopGame,
    keys,
)

WAIT_S = 8.0
HELD_CHAT = 1000
OTHER_CHATS = tuple(range(1001, 1051))
ALL_CHATS = (HELD_CHAT, *OTHER_CHATS)


def game_id_of(chat_id: int) -> str:
    """The id the server gives the chat's game (a UUID whose tag, its first 8 hex digits, is the chat's)."""
    return f"{chat_id:08x}-0000-4000-8000-000000000000"


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


# --- the API stand-in -----------------------------------------------------------------------------------


class GamesApi:
    """Accepts every call with a 202 and counts them per game and kind; the finish of ``held_game`` is answered
    only once ``release`` is set."""

    def __init__(self, held_game: str) -> None:
        self.held_game = held_game
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()  # (game, kind) -> requests
        self.answers: dict[str, list[int]] = collections.defaultdict(list)  # game -> question_no of each answer
        self.lock = threading.Lock()
        self.held_arrived = threading.Event()
        self.release = threading.Event()
        self.held_answered = threading.Event()

    def count(self, game_id: str, kind: str) -> int:
        with self.lock:
            return self.counts[(game_id, kind)]

    def _record(self, game_id: str, kind: str) -> None:
        with self.lock:
            self.counts[(game_id, kind)] += 1

    @staticmethod
    def _accepted(request: Request, game_id: str) -> JSONResponse:
        key = request.headers["idempotency-key"]
        return JSONResponse({"request_id": f"req-{key}", "game_id": game_id, "status": "pending", "links": {}},
                            status_code=202)

    async def create(self, request: Request) -> Response:
        body = await request.json()
        game_id = game_id_of(body["chat_id"])
        self._record(game_id, "create")
        return self._accepted(request, game_id)

    async def answer(self, request: Request) -> Response:
        game_id = request.path_params["game_id"]
        body = await request.json()
        with self.lock:
            self.answers[game_id].append(body["question_no"])
        self._record(game_id, "answer")
        return self._accepted(request, game_id)

    async def finish(self, request: Request) -> Response:
        game_id = request.path_params["game_id"]
        self._record(game_id, "finish")
        if game_id == self.held_game:
            self.held_arrived.set()
            # Off the server's loop: the other games' requests are served meanwhile.
            released = await asyncio.to_thread(self.release.wait, WAIT_S)
            assert released, "the test never released the held finish"
        response = self._accepted(request, game_id)
        if game_id == self.held_game:
            self.held_answered.set()
        return response

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/games", self.create, methods=["POST"]),
            Route("/v1/games/{game_id}/answers", self.answer, methods=["POST"]),
            Route("/v1/games/{game_id}/finish", self.finish, methods=["POST"]),
        ])


@pytest.fixture
def server() -> Iterator[tuple[GamesApi, str]]:
    games = GamesApi(held_game=game_id_of(HELD_CHAT))
    uv = uvicorn.Server(uvicorn.Config(games.app(), log_config=None, access_log=False, lifespan="off"))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True)
    thread.start()
    wait_until(lambda: uv.started, "the API server to start")
    yield games, f"http://127.0.0.1:{sock.getsockname()[1]}"
    games.release.set()  # a failed test must not leave the held request hanging
    uv.should_exit = True
    thread.join(WAIT_S)
    sock.close()
    assert not thread.is_alive(), "the API server did not stop"


# --- the telebot's side ---------------------------------------------------------------------------------


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
def engine(server: tuple[GamesApi, str], loop: asyncio.AbstractEventLoop
           ) -> Iterator[tuple[Any, HttpGameApi, DummyOutbox, DummyCommands]]:
    _games, base_url = server
    timers = TimerService().start()
    api = HttpGameApi(base_url, "service-token-0123456789", loop=loop, timers=timers)
    outbox, commands = DummyOutbox(), DummyCommands()
    shard = SessionShardActor.start(0, outbox=outbox, api=api, timers=timers, commands=commands)
    yield shard, api, outbox, commands
    if shard.is_alive():
        shard.stop(timeout=WAIT_S)
    api.stop(WAIT_S)
    timers.stop()


def player(chat_id: int) -> Player:
    return Player(telegram_id=chat_id, name=f"P{chat_id}")


def result(chat_id: int, payload: Any, request_id: str) -> tuple[ResultArrived, RecordingCompletion]:
    completion = RecordingCompletion()
    envelope = ev.Envelope(request_id=request_id, game_id=game_id_of(chat_id), chat_id=chat_id,
                           user_id=player(chat_id).subject, payload=payload)
    return ResultArrived(event=envelope, completion=completion), completion


def questions(n: int) -> tuple[ev.QuestionView, ...]:
    return tuple(ev.QuestionView(no=i, text=f"Q{i}?", options=("A", "B", "C", "D"), category="science",
                                 difficulty="easy") for i in range(n))


def evaluated(no: int, next_no: int) -> ev.AnswerEvaluated:
    return ev.AnswerEvaluated(question_no=no, verdict="incorrect", correct_answer="A", correct_option=0, given="B",
                              points=0, score=0, streak=0, latency_ms=500, explanation="", judged_by="local",
                              next_question_no=next_no)


def states(shard: Any, chats: tuple[int, ...]) -> dict[int, SessionState | None]:
    return {chat_id: shard.ask(GetState(chat_id=chat_id), timeout=WAIT_S) for chat_id in chats}


def wait_states(shard: Any, chats: tuple[int, ...], ok: Callable[[SessionState | None], bool], what: str) -> None:
    def all_ok() -> bool:
        return all(ok(state) for state in states(shard, chats).values())
    wait_until(all_ok, what)


def settle(shard: Any, messages: list[tuple[ResultArrived, RecordingCompletion]]) -> None:
    for message, _completion in messages:
        shard.tell(message)
    for _message, completion in messages:
        assert completion.wait(WAIT_S) == [("done",)]


def accepted_answer(question_no: int) -> Callable[[SessionState | None], bool]:
    """The session's answer to ``question_no`` was accepted by the API: no call pending, its result awaited."""
    def ok(state: SessionState | None) -> bool:
        return (state is not None and not state.pending_calls and state.awaiting is not None
                and state.awaiting.call.kind == CallKind.ANSWER and state.awaiting.call.question_no == question_no)
    return ok


def answer_all(shard: Any, question_no: int, update_base: int) -> None:
    for chat_id in OTHER_CHATS:
        shard.tell(AnswerGiven(chat_id=chat_id, player=player(chat_id), game_tag=keys.game_tag(game_id_of(chat_id)),
                               question_no=question_no, option=1, update_id=update_base + chat_id))


def test_a_reply_for_a_game_that_ended_meanwhile_is_dropped_and_50_other_games_play_on(
    server: tuple[GamesApi, str], engine: tuple[Any, HttpGameApi, DummyOutbox, DummyCommands],
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trivia_actors.session.shard")
    games, _url = server
    shard, api, _outbox, commands = engine
    held_game = game_id_of(HELD_CHAT)

    # Every chat starts a game; the API accepts each create, and the worker's GameCreated follows.
    for chat_id in ALL_CHATS:
        shard.tell(StartGame(chat_id=chat_id, player=player(chat_id), update_id=chat_id,
                             options=GameOptions(question_count=3, time_limit_s=60)))
    wait_states(shard, ALL_CHATS, lambda s: s is not None and s.game_id is not None and not s.pending_calls,
                "every create to be accepted")
    assert all(games.count(game_id_of(chat_id), "create") == 1 for chat_id in ALL_CHATS)
    settle(shard, [result(chat_id, ev.GameCreated(question_count=3, time_limit_s=60, questions=questions(3)),
                          f"r-create-{chat_id}") for chat_id in ALL_CHATS])
    wait_states(shard, ALL_CHATS, lambda s: s is not None and s.phase == Phase.ASKING, "every first question")

    # The held chat's player stops the game: its finish call reaches the server, which holds the reply.
    shard.tell(StopGame(chat_id=HELD_CHAT, player=player(HELD_CHAT), update_id=50_000))
    assert games.held_arrived.wait(WAIT_S), "the finish call never reached the server"

    # While it is in flight, the other games answer through the same client and get their replies.
    answer_all(shard, 0, 100_000)
    wait_until(lambda: all(games.count(game_id_of(c), "answer") == 1 for c in OTHER_CHATS),
               "every answer to question 0 to reach the server")
    wait_states(shard, OTHER_CHATS, accepted_answer(0), "every answer to question 0 to be accepted")

    # The held game ends meanwhile (its game-over event beat the finish's 202) and leaves the shard.
    message, completion = result(HELD_CHAT, ev.GameFinished(summary=ev.GameSummary(
        status="stopped", score=0, correct_count=0, question_count=3, best_streak=0)), "r-finish")
    shard.tell(message)
    assert completion.wait(WAIT_S) == [("done",)]
    assert shard.ask(GetState(chat_id=HELD_CHAT), timeout=WAIT_S) is None, "the ended game must leave its shard"

    # The late 202 for the ended game arrives: dropped at debug, the shard unharmed.
    games.release.set()
    assert games.held_answered.wait(WAIT_S), "the server never answered the held finish"
    dropped = f"chat {HELD_CHAT}: ApiAccepted for a game that has ended; dropped"
    wait_until(lambda: any(r.getMessage() == dropped and r.levelno == logging.DEBUG for r in caplog.records),
               "the late reply to be dropped")
    assert shard.is_alive()
    assert shard.ask(GetState(chat_id=HELD_CHAT), timeout=WAIT_S) is None, "a late reply must not revive a game"
    assert shard.ask(ListChats(), timeout=WAIT_S) == sorted(OTHER_CHATS)

    # The other 50 play on: each question 0 is revealed, question 1 asked and answered, every answer accepted.
    settle(shard, [result(chat_id, evaluated(0, 1), f"r-a0-{chat_id}") for chat_id in OTHER_CHATS])
    wait_states(shard, OTHER_CHATS, lambda s: s is not None and s.phase == Phase.ASKING and s.current_no == 1,
                "every second question")
    answer_all(shard, 1, 200_000)
    wait_until(lambda: all(games.count(game_id_of(c), "answer") == 2 for c in OTHER_CHATS),
               "every answer to question 1 to reach the server")
    wait_states(shard, OTHER_CHATS, accepted_answer(1), "every answer to question 1 to be accepted")

    with games.lock:
        assert {game_id_of(c): games.answers[game_id_of(c)] for c in OTHER_CHATS} == {
            game_id_of(c): [0, 1] for c in OTHER_CHATS}, "each answer reaches the API once, in order"
        assert games.counts[(held_game, "finish")] == 1 and games.counts[(held_game, "answer")] == 0
        assert sum(n for (game, kind), n in games.counts.items() if kind == "finish") == 1
    assert shard.is_alive()
    assert commands.timeouts == []
    wait_until(lambda: asyncio.run_coroutine_threadsafe(_lanes(api), loop).result(WAIT_S) == 0,
               "the client's lanes to drain")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def _lanes(api: HttpGameApi) -> int:
    return api.open_lanes
