"""Faults a session shard must survive, each of which cost a chat its game before the shards (issue 15)."""

from __future__ import annotations

import time
from typing import Any

import peewee as pw
import pytest

from schema import events as ev
from tests.session.dummies import (
    DummyApi,
    DummyCommands,
    DummyCompletion,
    DummyOutbox,
    RecordingCompletion,
    ShardHarness,
    SnapshotStore,
)
from trivia_actors.rules import Phase
from trivia_actors.session import (
    AnswerGiven,
    GameOptions,
    GetState,
    ListChats,
    LoadSession,
    Player,
    ResultArrived,
    SessionKind,
    SessionState,
    StartGame,
    keys,
)

ANN = Player(telegram_id=42, name="Ann")
GAME_1 = "3f2b8c1e-0000-4000-8000-000000000001"
GAME_2 = "9a7d6e5f-0000-4000-8000-000000000002"


def _questions(n: int) -> tuple[ev.QuestionView, ...]:
    return tuple(ev.QuestionView(no=i, text=f"Q{i}?", options=("a", "b", "c", "d"), category="art",
                                 difficulty="easy") for i in range(n))


def _result(game_id: str, payload: Any, request_id: str, completion: Any = None) -> ResultArrived:
    envelope = ev.Envelope(event_id=ev.result_event_id(request_id, payload.TYPE), request_id=request_id,
                           game_id=game_id, chat_id=42, user_id=ANN.subject, payload=payload)
    return ResultArrived(event=envelope, completion=completion or DummyCompletion())


def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def _asking(game_id: str) -> dict[str, Any]:
    state = SessionState(chat_id=42, player=ANN, phase=Phase.ASKING, game_id=game_id, game_tag=keys.game_tag(game_id),
                         questions=list(_questions(2)), current_no=0, time_limit_s=300.0, deadline=time.time() + 300)
    return state.to_snapshot()


class FlakyStore(SnapshotStore):
    """Refuses the first ``outages`` loads as a database that is away would."""

    def __init__(self, snapshots: dict[int, dict[str, Any]], outages: int) -> None:
        super().__init__(snapshots)
        self.outages = outages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, LoadSession) and self.outages > 0:
            self.outages -= 1
            raise pw.OperationalError("connection refused")
        return super().on_receive(message)


class GamesApi(DummyApi):
    """Creates a new game (the next id) for each /play."""

    def __init__(self, game_ids: list[str]) -> None:
        super().__init__(game_ids[0])
        self.game_ids = game_ids

    def create_game(self, *, reply: Any, **kwargs: Any) -> None:
        self.game_id = self.game_ids.pop(0)
        super().create_game(reply=reply, **kwargs)


@pytest.fixture
def stopping():
    started: list[Any] = []
    yield started.append
    for thing in reversed(started):
        thing.stop()


def test_a_sleeping_chat_whose_session_cannot_be_loaded_keeps_its_input_until_it_can(stopping) -> None:
    """Before: the wake-up forgot the sleeping chat before the load failed, so a database outage lost its game."""
    store = FlakyStore.start({42: _asking(GAME_1)}, outages=2)
    stopping(store)
    api = DummyApi(GAME_1)
    shard = ShardHarness(outbox=DummyOutbox(), api=api, commands=DummyCommands(), store=store,
                         asleep={42: time.time() + 300})
    stopping(shard)
    tag = keys.game_tag(GAME_1)
    shard.tell(AnswerGiven(chat_id=42, player=ANN, game_tag=tag, question_no=0, option=2, update_id=5))
    during = RecordingCompletion()
    shard.tell(_result(GAME_1, ev.HintCreated(question_no=0, hint="a", hints_used=1), "r-hint", during))
    assert during.wait() == [("fail", "session not loaded", True)], "a result is handed back to be redelivered"
    assert shard.ask(ListChats(kind=SessionKind.PASSIVE)) == [42], "the chat is not forgotten"
    _until(lambda: api.named("submit_answer"))
    assert [call["option"] for call in api.named("submit_answer")] == [2], "the held answer is handled once loaded"
    assert shard.state(42).phase == Phase.JUDGING


def test_a_session_put_to_sleep_while_it_waits_for_a_result_still_asks_again(stopping, monkeypatch) -> None:
    """Before: passivating a session in the judging (or creating) phase dropped its result watchdog."""
    import trivia_actors.session.machine as machine

    monkeypatch.setattr(machine, "RESULT_WATCHDOG_S", 0.4)
    store = SnapshotStore.start()
    stopping(store)
    api = DummyApi(GAME_1)
    shard = ShardHarness(outbox=DummyOutbox(), api=api, commands=DummyCommands(), store=store,
                         passivate_after_s=0.05)
    stopping(shard)
    shard.tell(StartGame(chat_id=42, player=ANN, update_id=1, options=GameOptions(category="art", question_count=2)))
    shard.tell(_result(GAME_1, ev.GameCreated(question_count=2, time_limit_s=300, questions=_questions(2)), "r-c"))
    shard.tell(AnswerGiven(chat_id=42, player=ANN, game_tag=keys.game_tag(GAME_1), question_no=0, option=1,
                           update_id=2))
    _until(lambda: shard.ask(ListChats(kind=SessionKind.PASSIVE)) == [42])
    _until(lambda: len(api.named("submit_answer")) >= 2)
    first, again = api.named("submit_answer")[:2]
    assert again["idempotency_key"] == first["idempotency_key"]
    assert (first["wait_s"], again["wait_s"]) == (0.0, machine.SETTLED_WAIT_S), \
        "the repeat asks the API for the settled outcome"


def test_a_late_result_of_the_last_game_leaves_the_next_game_alone(stopping) -> None:
    """Before: the end of a game was a message to the manager that ignored the game id, so a second end could stop
    the chat's next game."""
    outbox = DummyOutbox()
    shard = ShardHarness(outbox=outbox, api=GamesApi([GAME_1, GAME_2]), commands=DummyCommands())
    stopping(shard)
    shard.tell(StartGame(chat_id=42, player=ANN, update_id=1, options=GameOptions(category="art", question_count=1)))
    shard.tell(_result(GAME_1, ev.GameCreated(question_count=1, time_limit_s=300, questions=_questions(1)), "r-1"))
    summary = ev.GameSummary(status="stopped", score=0, correct_count=0, question_count=1, best_streak=0)
    shard.tell(_result(GAME_1, ev.GameFinished(summary=summary), "r-stop"))
    assert shard.ask(GetState(chat_id=42)) is None, "the finished game left the shard"
    shard.tell(StartGame(chat_id=42, player=ANN, update_id=2, options=GameOptions(category="art", question_count=1)))
    shard.tell(_result(GAME_2, ev.GameCreated(question_count=1, time_limit_s=300, questions=_questions(1)), "r-2"))
    _until(lambda: shard.state(42) is not None and shard.state(42).game_id == GAME_2
           and shard.state(42).phase == Phase.ASKING)
    sent = len(outbox.calls)
    # The first game's end, delivered again (a redelivery, or a second stop's result).
    shard.tell(_result(GAME_1, ev.GameFinished(summary=summary), "r-stop-again"))
    state = shard.state(42)
    assert (state.game_id, state.phase) == (GAME_2, Phase.ASKING)
    assert len(outbox.calls) == sent, "nothing is shown for the old game"
