"""Small dummies for the session actors' ports: they record what the actors asked of the outside world."""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from trivia_actors.runtime import TimerService
from trivia_actors.session import ApiAccepted, GetState, SessionShardActor


class DummyOutbox:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str, str, tuple]] = []
        self.lock = threading.Lock()
        self.known: dict = {}

    def remember(self, message_ids) -> None:
        self.known = dict(message_ids)

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
    """Accepts every call at once, replying like the API's 202 (hints and finishes get no reply)."""

    def __init__(self, game_id: str) -> None:
        self.game_id = game_id
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def _record(self, name: str, kwargs: dict[str, Any]) -> int:
        with self.lock:
            self.calls.append((name, kwargs))
            return len(self.calls)

    def create_game(self, *, reply: Any, **kwargs: Any) -> None:
        self._record("create_game", kwargs)
        reply(ApiAccepted(kind="game.create", request_id="r-create", game_id=self.game_id,
                          key=kwargs["idempotency_key"]))

    def submit_answer(self, *, reply: Any, **kwargs: Any) -> None:
        count = self._record("submit_answer", kwargs)
        reply(ApiAccepted(kind="answer.submit", request_id=f"r-{count}", game_id=self.game_id,
                          key=kwargs["idempotency_key"]))

    def request_hint(self, *, reply: Any, **kwargs: Any) -> None:
        self._record("request_hint", kwargs)

    def finish_game(self, *, reply: Any, **kwargs: Any) -> None:
        self._record("finish_game", kwargs)

    def named(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [kwargs for call, kwargs in self.calls if call == name]


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


class ShardHarness:
    """One session shard with its own timer service, as the tests drive it: ``tell`` input, ``state`` of a chat
    (which also waits until everything told before is handled and committed)."""

    def __init__(self, *, outbox: Any, api: Any, commands: Any = None, store: Any = None, clock: Any = time.time,
                 passivate_after_s: float = 60.0, asleep: dict[int, float | None] | None = None) -> None:
        self.timers = TimerService(clock=clock).start()
        self.ref = SessionShardActor.start(0, outbox=outbox, api=api, timers=self.timers, commands=commands,
                                           store=store, clock=clock, passivate_after_s=passivate_after_s,
                                           asleep=asleep)

    def tell(self, message: Any) -> None:
        self.ref.tell(message)

    def is_alive(self) -> bool:
        return self.ref.is_alive()

    def ask(self, message: Any, timeout: float = 5) -> Any:
        return self.ref.ask(message, timeout=timeout)

    def state(self, chat_id: int) -> Any:
        return self.ref.ask(GetState(chat_id=chat_id), timeout=5)

    def stop(self) -> None:
        if self.ref.is_alive():
            self.ref.stop(timeout=5)
        self.timers.stop()


class SnapshotStore(pykka.ThreadingActor):
    """A session store in memory: loads the snapshots it holds, keeps what is saved (every op counts as new, with
    a ledger id), and claims each key once."""

    def __init__(self, snapshots: dict[int, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.snapshots = dict(snapshots or {})
        self.claims: set[str] = set()
        self.batches = 0
        self._ledger = 0

    def on_receive(self, message: Any) -> Any:
        import attrs

        from trivia_actors.session import Claim, LoadMessageIds, LoadSession, SaveSessions

        match message:
            case LoadSession():
                return self.snapshots.get(message.chat_id)
            case LoadMessageIds():
                return {}
            case Claim():
                first = message.key not in self.claims
                self.claims.add(message.key)
                return first
            case SaveSessions():
                self.batches += 1
                replies = []
                for write in message.writes:
                    self.snapshots[write.chat_id] = write.snapshot
                    ops = []
                    for op in write.ops:
                        self._ledger += 1
                        ops.append(attrs.evolve(op, ledger_id=self._ledger))
                    replies.append(tuple(ops))
                return tuple(replies)
        return None
