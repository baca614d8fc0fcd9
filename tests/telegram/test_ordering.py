"""Through a real PTB Application: a chat's updates are handled in arrival order, different chats concurrently."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from telegram import Chat, Message, PollAnswer, Update, User
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from gateways.telegram.ordering import ChatOrderedUpdateProcessor, chat_of_polls
from trivia_actors.session import PollIndex

WAIT_S = 5.0
PTBApp = Application[Any, Any, Any, Any, Any, Any]


class OfflineRequest(BaseRequest):
    """Answers getMe locally so the Application initializes without a network; any other call is a test bug."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        if url.endswith("/getMe"):
            me = {"id": 123, "is_bot": True, "first_name": "ordering", "username": "ordering_bot"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        return 400, json.dumps({"ok": False, "error_code": 400, "description": f"offline: {url}"}).encode()


class Journal:
    """Records handler starts and ends; an update whose id has a gate waits for it inside its handler."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.started: dict[int, asyncio.Event] = {}
        self.ended: dict[int, asyncio.Event] = {}

    def expect(self, *update_ids: int) -> None:
        for update_id in update_ids:
            self.started[update_id] = asyncio.Event()
            self.ended[update_id] = asyncio.Event()

    async def handle(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        self.events.append(("start", update.update_id))
        self.started[update.update_id].set()
        gate = self.gates.get(update.update_id)
        if gate is not None:
            await gate.wait()
        self.events.append(("end", update.update_id))
        self.ended[update.update_id].set()


@asynccontextmanager
async def running(journal: Journal, max_concurrent: int = 256) -> AsyncIterator[PTBApp]:
    application = (ApplicationBuilder().token("123:ordering-test").updater(None)
                   .request(OfflineRequest()).get_updates_request(OfflineRequest())
                   .concurrent_updates(ChatOrderedUpdateProcessor(max_concurrent)).build())
    application.add_handler(TypeHandler(Update, journal.handle))
    await application.initialize()
    await application.start()
    try:
        yield application
    finally:
        for gate in journal.gates.values():  # a failed assertion must not leave a handler waiting forever
            gate.set()
        await application.stop()
        await application.shutdown()


def message(update_id: int, chat_id: int, text: str = "hello") -> Update:
    user = User(id=chat_id, is_bot=False, first_name="player")
    chat = Chat(id=chat_id, type=Chat.PRIVATE)
    return Update(update_id=update_id, message=Message(message_id=update_id, date=dt.datetime.now(dt.UTC),
                                                       chat=chat, from_user=user, text=text))


def poll_answer(update_id: int, user_id: int) -> Update:
    user = User(id=user_id, is_bot=False, first_name="player")
    return Update(update_id=update_id, poll_answer=PollAnswer(poll_id="p1", option_ids=(0,), user=user,
                                                                  option_persistent_ids=("o0",)))


async def _until(predicate: Callable[[], bool]) -> None:
    """Yield to the loop until ``predicate`` holds (bounded by WAIT_S)."""
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0)
    await asyncio.wait_for(wait(), WAIT_S)


async def _settle() -> None:
    """Give every ready task many turns on the loop, so a handler that could start has started."""
    for _ in range(50):
        await asyncio.sleep(0)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def test_a_later_update_of_a_chat_waits_for_the_earlier_ones_handler() -> None:
    async def scenario() -> None:
        journal = Journal()
        journal.expect(1, 2)
        journal.gates[1] = asyncio.Event()
        async with running(journal) as application:
            processor = application.update_processor
            assert isinstance(processor, ChatOrderedUpdateProcessor)
            await application.update_queue.put(message(1, chat_id=10, text="/play"))
            await application.update_queue.put(message(2, chat_id=10, text="Paris"))
            await asyncio.wait_for(journal.started[1].wait(), WAIT_S)
            # The second update is admitted by the processor and is waiting its turn.
            await _until(lambda: processor.current_concurrent_updates == 2)
            await _settle()
            assert ("start", 2) not in journal.events, "the second update overtook the first one's handler"
            journal.gates[1].set()
            await asyncio.wait_for(journal.ended[2].wait(), WAIT_S)
            assert journal.events == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
            await _until(lambda: processor.busy_keys == 0)

    run(scenario)


def test_updates_of_different_chats_overlap() -> None:
    async def scenario() -> None:
        journal = Journal()
        journal.expect(1, 2)
        journal.gates[1] = asyncio.Event()
        async with running(journal) as application:
            await application.update_queue.put(message(1, chat_id=10))
            await application.update_queue.put(message(2, chat_id=20))
            await asyncio.wait_for(journal.ended[2].wait(), WAIT_S)
            assert ("end", 1) not in journal.events, "chat 20 ran only after chat 10 finished"
            journal.gates[1].set()
            await asyncio.wait_for(journal.ended[1].wait(), WAIT_S)

    run(scenario)


def test_poll_answers_are_ordered_by_user_and_order_survives_a_full_processor() -> None:
    async def scenario() -> None:
        journal = Journal()
        journal.expect(1, 2, 3)
        journal.gates[1] = asyncio.Event()
        # Two slots: the third answer queues in PTB's semaphore, behind the second waiting in its lane.
        async with running(journal, max_concurrent=2) as application:
            processor = application.update_processor
            assert isinstance(processor, ChatOrderedUpdateProcessor)
            for update_id in (1, 2, 3):
                await application.update_queue.put(poll_answer(update_id, user_id=7))
            await asyncio.wait_for(journal.started[1].wait(), WAIT_S)
            await _until(lambda: processor.current_concurrent_updates == 2)
            await _settle()
            assert journal.events == [("start", 1)]
            journal.gates[1].set()
            await asyncio.wait_for(journal.ended[3].wait(), WAIT_S)
            assert [update_id for kind, update_id in journal.events if kind == "start"] == [1, 2, 3]
            await _until(lambda: processor.busy_keys == 0)

    run(scenario)


def test_a_waiting_update_cancelled_leaves_no_lane_behind() -> None:
    async def scenario() -> None:
        processor = ChatOrderedUpdateProcessor(8)
        gate, first_running = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            first_running.set()
            await gate.wait()

        async def second() -> None:
            raise AssertionError("a cancelled update must not run")

        running_first = asyncio.create_task(processor.process_update(message(1, chat_id=10), first()))
        await asyncio.wait_for(first_running.wait(), WAIT_S)
        waiting = asyncio.create_task(processor.process_update(message(2, chat_id=10), second()))
        await _until(lambda: processor.current_concurrent_updates == 2)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert waiting.cancelled()
        assert processor.busy_keys == 1  # the first update still holds its chat
        gate.set()
        await asyncio.wait_for(running_first, WAIT_S)
        assert processor.busy_keys == 0

    run(scenario)


def test_an_answer_to_one_of_our_polls_is_ordered_with_the_polls_chat() -> None:
    polls = PollIndex()
    polls.add("poll-1", -100, "tag:p:0")
    key = chat_of_polls(polls)
    voter = User(id=7, first_name="Vi", is_bot=False)
    ours = Update(update_id=1, poll_answer=PollAnswer(poll_id="poll-1", option_ids=(0,), user=voter,
                                                         option_persistent_ids=("o0",)))
    other = Update(update_id=2, poll_answer=PollAnswer(poll_id="poll-2", option_ids=(0,), user=voter,
                                                          option_persistent_ids=("o0",)))
    assert key(ours) == -100, "with the group's messages"
    assert key(other) == 7, "a poll we do not know: by its voter"
