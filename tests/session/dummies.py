"""Small dummies for the session actors' ports: they record what the actors asked of the outside world."""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from trivia_actors.session import ApiAccepted


class DummyOutbox:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str, str, tuple]] = []
        self.lock = threading.Lock()

    def deliver(self, ops) -> None:
        with self.lock:
            self.calls.extend((op.kind, op.chat_id, op.key, op.text, op.keyboard) for op in ops)

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} outbox calls, got {self.calls}")


class DummyApi:
    """Accepts every call at once, replying like the API's 202."""

    def __init__(self, game_id: str) -> None:
        self.game_id = game_id
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_game(self, *, reply_to: pykka.ActorRef[Any], **kwargs: Any) -> None:
        self.calls.append(("create_game", kwargs))
        reply_to.tell(ApiAccepted(kind="game.create", request_id="r-create", game_id=self.game_id,
                                  key=kwargs["idempotency_key"]))

    def submit_answer(self, *, reply_to: pykka.ActorRef[Any], **kwargs: Any) -> None:
        self.calls.append(("submit_answer", kwargs))
        reply_to.tell(ApiAccepted(kind="answer.submit", request_id=f"r-{len(self.calls)}", game_id=self.game_id,
                                  key=kwargs["idempotency_key"]))

    def request_hint(self, *, reply_to: pykka.ActorRef[Any], **kwargs: Any) -> None:
        self.calls.append(("request_hint", kwargs))

    def finish_game(self, *, reply_to: pykka.ActorRef[Any], **kwargs: Any) -> None:
        self.calls.append(("finish_game", kwargs))


class DummyCommands:
    def __init__(self) -> None:
        self.timeouts: list[dict[str, Any]] = []

    def question_timed_out(self, **kwargs: Any) -> None:
        self.timeouts.append(kwargs)


class DummyCompletion:
    def __init__(self) -> None:
        self.done_count = 0

    def done(self) -> None:
        self.done_count += 1

    def fail(self, reason: str, *, retryable: bool = True) -> None:
        raise AssertionError(f"completion failed: {reason}")


class RecordingCompletion:
    """Records how a result event was settled: ("done",) or ("fail", reason, retryable)."""

    def __init__(self) -> None:
        self.settled: list[tuple] = []
        self.event = threading.Event()

    def done(self) -> None:
        self.settled.append(("done",))
        self.event.set()

    def fail(self, reason: str, *, retryable: bool = True) -> None:
        self.settled.append(("fail", reason, retryable))
        self.event.set()

    def wait(self, timeout: float = 5.0) -> list[tuple]:
        if not self.event.wait(timeout):
            raise AssertionError("the result event was never settled")
        return self.settled


class RaisingStore(pykka.ThreadingActor):
    """A session store whose saves raise ``error`` (as the real store raises a database error to an ask)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.saves = 0

    def on_receive(self, message: Any) -> Any:
        self.saves += 1
        raise self.error
