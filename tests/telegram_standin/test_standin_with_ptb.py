"""The stand-in against an unmodified python-telegram-bot 22.8: real sockets, real PTB, no mocks."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from gateways.telegram_standin import FloodLimits, StandinClient, StandinServer
from tests.telegram_standin.ptb_harness import (
    DemoRecord,
    build_application,
    install_demo_bot,
    make_bot,
    polling,
    serve_asgi,
)

# RetryAfter.retry_after warns about its future timedelta type; both types are handled below.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def _retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def test_start_click_edit_and_echo_in_a_private_chat() -> None:
    async def scenario() -> None:
        record = DemoRecord()
        with StandinServer() as server:
            app = build_application(server)
            install_demo_bot(app, record)
            async with polling(app):
                assert app.bot.username == "standin_bot" and app.bot.id == 123456

                def user() -> None:
                    client = StandinClient(server.url)
                    alice = client.create_user("Alice", username="alice")
                    chat = alice["id"]
                    update = client.send_text(chat, "/start@standin_bot quiz-night")
                    assert update["message"]["entities"] == [
                        {"type": "bot_command", "offset": 0, "length": len("/start@standin_bot")}]
                    welcome = client.wait_for(chat, lambda i: i["kind"] == "message")
                    assert welcome["text"] == "<b>Welcome</b> quiz-night\nPick a category:"
                    assert welcome["plain"] == "Welcome quiz-night\nPick a category:"
                    assert welcome["buttons"] == [[{"text": "Science", "callback_data": "cat:science"},
                                                   {"text": "History", "callback_data": "cat:history"}]]
                    click = client.click(chat, chat, welcome["message_id"], "cat:history")
                    assert click["callback_query"]["chat_instance"]
                    answer = client.wait_for(chat, lambda i: i["kind"] == "callback_answer")
                    assert answer["text"] == "chose cat:history" and answer["show_alert"] is False
                    edit = client.wait_for(chat, lambda i: i["kind"] == "edit")
                    assert edit["message_id"] == welcome["message_id"]
                    assert edit["plain"] == "You chose history" and edit["buttons"] == []
                    view = client.view(chat)["messages"]
                    bot_messages = [m for m in view if m["from_bot"]]
                    assert [m["plain"] for m in bot_messages] == ["You chose history"]
                    assert bot_messages[0]["edited"] is True
                    client.send_text(chat, "hello there")
                    echo = client.wait_for(chat, lambda i: i.get("plain") == "echo: hello there")
                    assert echo["date"] < 10_000_000_000  # seconds, not milliseconds
                    with pytest.raises(Exception, match="no button"):
                        client.click(chat, chat, welcome["message_id"], "cat:science")  # keyboard is gone

                await asyncio.to_thread(user)
                assert record.edited == ["You chose history"]
                assert record.errors == []

    asyncio.run(scenario())


def test_quiz_poll_is_sent_and_the_answer_reaches_the_bot() -> None:
    async def scenario() -> None:
        record = DemoRecord()
        with StandinServer() as server:
            app = build_application(server)
            install_demo_bot(app, record)
            async with polling(app):

                def user() -> None:
                    client = StandinClient(server.url)
                    bob = client.create_user("Bob")["id"]
                    client.send_text(bob, "/quiz")
                    item = client.wait_for(bob, lambda i: i["kind"] == "poll")
                    poll = item["poll"]
                    assert poll["question"] == "2 + 2 = ?" and poll["options"] == ["3", "4", "5"]
                    assert poll["type"] == "quiz" and poll["correct_option_ids"] == [1]
                    assert poll["open_period"] == 30 and poll["close_date"] > time.time()
                    update = client.answer_poll(bob, poll["id"], [1])
                    assert update["poll_answer"]["option_persistent_ids"] == [f"{poll['id']}-1"]
                    client.wait_for(bob, lambda i: i.get("plain") == "Bob answered 1")
                    with pytest.raises(Exception, match="revoting"):
                        client.answer_poll(bob, poll["id"], [2])  # quiz answers are final

                await asyncio.to_thread(user)
                assert len(record.poll_answers) == 1
                poll_id, user_id, options = record.poll_answers[0]
                assert options == (1,) and user_id > 0 and poll_id
                # The bot also got the poll's new state with the counts.
                deadline = time.monotonic() + 5
                while not record.polls and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert record.polls[-1].options[1].voter_count == 1
                assert record.polls[-1].total_voter_count == 1
                assert record.errors == []

    asyncio.run(scenario())


def test_group_chat_with_three_users_and_admin_checks() -> None:
    async def scenario() -> None:
        record = DemoRecord()
        with StandinServer() as server:
            app = build_application(server)
            install_demo_bot(app, record)
            async with polling(app):

                def users() -> int:
                    client = StandinClient(server.url)
                    ids = [client.create_user(name)["id"] for name in ("Ann", "Ben", "Cid")]
                    group = client.create_group("Quiz night", member_ids=ids, admin_ids=[ids[0]])
                    assert group["id"] < 0 and group["type"] == "group"
                    client.send_text(ids[1], "/admins", chat_id=group["id"])
                    reply = client.wait_for(group["id"], lambda i: i["kind"] == "message")
                    assert reply["plain"] == "admins: Ann; you are member"
                    # PTB quotes the command in groups: the reply points at Ben's message.
                    assert reply["reply_to_message_id"] is not None
                    client.send_text(ids[0], "/admins", chat_id=group["id"])
                    reply = client.wait_for(group["id"], lambda i: i["kind"] == "message",
                                            after_seq=reply["seq"])
                    assert reply["plain"] == "admins: Ann; you are creator"
                    client.send_text(ids[2], "/start", chat_id=group["id"])
                    menu = client.wait_for(group["id"], lambda i: bool(i["buttons"]), after_seq=reply["seq"])
                    client.click(ids[2], group["id"], menu["message_id"], "cat:science")
                    client.wait_for(group["id"], lambda i: i["kind"] == "edit", after_seq=menu["seq"])
                    outsider = client.create_user("Dan")["id"]
                    with pytest.raises(Exception, match="not a member"):
                        client.send_text(outsider, "hi", chat_id=group["id"])
                    return int(group["id"])

                group_id = await asyncio.to_thread(users)
                info = await app.bot.get_chat(group_id)
                assert info.type == "group" and info.title == "Quiz night"
                assert record.errors == []

    asyncio.run(scenario())


def test_flood_limits_answer_429_and_ptb_raises_retry_after() -> None:
    async def scenario() -> None:
        limits = FloodLimits(chat_messages=2, chat_window_s=5.0, group_messages=3, group_window_s=30.0,
                             global_per_second=5)
        with StandinServer(limits=limits) as server:
            client = StandinClient(server.url)
            users = [client.create_user(f"U{i}")["id"] for i in range(12)]
            for user_id in users:
                client.send_text(user_id, "/start")  # lets the bot write to them
            group = client.create_group("Flooded", member_ids=users[:3])["id"]
            async with make_bot(server) as bot:
                # Per chat: the third message within the window is refused and not performed.
                await bot.send_message(users[0], "one")
                await bot.send_message(users[0], "two")
                with pytest.raises(RetryAfter) as caught:
                    await bot.send_message(users[0], "three")
                assert 1 <= _retry_seconds(caught.value) <= 5
                shown = [m["plain"] for m in client.view(users[0])["messages"] if m["from_bot"]]
                assert shown == ["one", "two"]
                # Edits have their own budget, so editing still works.
                sent = await bot.send_message(users[1], "edit me",
                                              reply_markup=InlineKeyboardMarkup(
                                                  [[InlineKeyboardButton("x", callback_data="x")]]))
                await bot.edit_message_text("edited", chat_id=users[1], message_id=sent.message_id)
                # Globally: 5 per second over all chats (3 sends and 1 edit so far; 10 more chats to go).
                with pytest.raises(RetryAfter):
                    for user_id in users[2:]:
                        await bot.send_message(user_id, "broadcast")
                stats = client.stats()
                assert stats["rate_limited_429"] == 2
                assert stats["breaches"]["chat"] == 1 and stats["breaches"]["global"] == 1
                assert stats["per_chat"][str(users[0])]["rate_limited"] == 1
                # Per group: 3 per 30 s.
                await asyncio.sleep(1.05)  # let the global window drain
                client.set_limits(chat_messages=10)  # so only the group limit is in play
                for n in range(3):
                    await bot.send_message(group, f"group {n}")
                with pytest.raises(RetryAfter) as caught:
                    await bot.send_message(group, "group 3")
                assert _retry_seconds(caught.value) > 5
                stats = client.stats()
                assert stats["breaches"]["group"] == 1 and stats["rate_limited_429"] == 3
                assert stats["limit_breaches"] == 3

    asyncio.run(scenario())


def test_storm_faults_surface_as_ptb_errors() -> None:
    async def scenario() -> None:
        with StandinServer() as server:
            client = StandinClient(server.url)
            user = client.create_user("Eve")["id"]
            client.send_text(user, "/start")
            async with make_bot(server) as bot:
                client.set_faults(status=500, count=2)
                for _ in range(2):
                    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
                        await bot.send_message(user, "storm")
                await bot.send_message(user, "calm")
                client.set_faults(status=429, count=1, retry_after=3)
                with pytest.raises(RetryAfter) as caught:
                    await bot.send_message(user, "storm")
                assert _retry_seconds(caught.value) == 3
                stats = client.stats()
                assert stats["faults_injected"] == 3 and stats["rate_limited_429"] == 1
                assert stats["methods"]["sendMessage"] == 4 and stats["sent"] == 1

    asyncio.run(scenario())


def test_webhook_mode_delivers_with_secret_retries_and_blocks_get_updates() -> None:
    async def scenario() -> None:
        received: list[tuple[str | None, dict[str, object]]] = []
        first_failure = asyncio.Event()

        async def hook(request: Request) -> Response:
            body = await request.json()
            if not first_failure.is_set():
                first_failure.set()
                return JSONResponse({"error": "not yet"}, status_code=500)  # the stand-in must retry
            received.append((request.headers.get("x-telegram-bot-api-secret-token"), body))
            return Response(status_code=200)

        receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        with StandinServer(webhook_retry_s=1.0) as server:
            async with serve_asgi(receiver) as receiver_url, make_bot(server) as bot:
                assert await bot.set_webhook(f"{receiver_url}/hook", secret_token="s3cr3t-token",
                                             allowed_updates=["message", "callback_query"])
                with pytest.raises(Conflict, match=r"(?i)webhook is active"):
                    await bot.get_updates()
                client = StandinClient(server.url)
                user = client.create_user("Wendy")["id"]
                await asyncio.to_thread(client.send_text, user, "via webhook")
                await asyncio.wait_for(first_failure.wait(), 5)
                info = await bot.get_webhook_info()
                deadline = time.monotonic() + 5
                while not info.last_error_message and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)  # recorded once the 500 is back at the stand-in
                    info = await bot.get_webhook_info()
                assert info.url == f"{receiver_url}/hook" and info.pending_update_count == 1
                assert info.last_error_message and "500" in info.last_error_message
                deadline = time.monotonic() + 5
                while not received and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                secret, body = received[0]
                assert secret == "s3cr3t-token"
                update = Update.de_json(body, bot)
                assert update.message is not None and update.message.text == "via webhook"
                # Dropped once the 200 is back at the stand-in, a moment after the receiver saw it.
                while (await bot.get_webhook_info()).pending_update_count and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert (await bot.get_webhook_info()).pending_update_count == 0
                assert await bot.delete_webhook()
                assert (await bot.get_webhook_info()).url == ""
                assert await bot.get_updates(timeout=0) == ()

    asyncio.run(scenario())


def test_wrong_token_is_unauthorized_and_right_token_works() -> None:
    async def scenario() -> None:
        with StandinServer(bot_token="4242:right-token") as server:
            with pytest.raises(InvalidToken, match="rejected by the server"):
                async with make_bot(server, token="4242:wrong-token"):
                    pass
            async with make_bot(server, token="4242:right-token") as bot:
                assert bot.id == 4242 and bot.username == "standin_bot"
                me = await bot.get_me()
                assert me.is_bot and me.first_name

    asyncio.run(scenario())


def test_telegram_errors_reach_ptb_as_its_exceptions() -> None:
    async def scenario() -> None:
        with StandinServer() as server:
            client = StandinClient(server.url)
            user = client.create_user("Fay")["id"]
            stranger = client.create_user("Gil")["id"]
            client.send_text(user, "/start")
            async with make_bot(server) as bot:
                with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
                    await bot.send_message(stranger, "hi")
                with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                    await bot.send_message(-999, "hi")
                with pytest.raises(BadRequest, match=r"(?i)message is too long"):
                    await bot.send_message(user, "x" * 4097)
                with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
                    await bot.send_message(user, "hi", reply_markup=InlineKeyboardMarkup(
                        [[InlineKeyboardButton("long", callback_data="d" * 65)]]))
                with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                    await bot.send_message(user, "<b>open", parse_mode="HTML")
                message = await bot.send_message(user, "<b>same</b>", parse_mode="HTML")
                assert message.text == "same" and message.entities[0].type == "bold"
                assert message.text_html == "<b>same</b>"
                with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
                    await bot.edit_message_text("<b>same</b>", chat_id=user, message_id=message.message_id,
                                                parse_mode="HTML")
                with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
                    await bot.edit_message_text("gone", chat_id=user, message_id=9999)
                poll = await bot.send_poll(user, "Best?", ["a", "b"])
                assert poll.poll is not None and poll.poll.is_anonymous and poll.poll.type == "regular"
                stopped = await bot.stop_poll(user, poll.message_id)
                assert stopped.is_closed
                with pytest.raises(Exception, match="poll is closed"):
                    await asyncio.to_thread(client.answer_poll, user, poll.poll.id, [0])
                assert await bot.delete_message(user, message.message_id)
                with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
                    await bot.delete_message(user, message.message_id)
                commands = [("play", "Start a game"), ("help", "How to play")]
                assert await bot.set_my_commands(commands)
                assert [(c.command, c.description) for c in await bot.get_my_commands()] == commands
                assert await bot.delete_my_commands() and await bot.get_my_commands() == ()
                assert await bot.send_chat_action(user, "typing")
                member = await bot.get_chat_member(user, user)
                assert member.status == "member"

    asyncio.run(scenario())


def test_many_users_at_once_all_get_their_replies() -> None:
    async def scenario() -> None:
        record = DemoRecord()
        with StandinServer() as server:
            app = build_application(server)
            install_demo_bot(app, record)
            async with polling(app):

                def one_user(n: int) -> list[str]:
                    client = StandinClient(server.url)
                    user = client.create_user(f"Player{n}")["id"]
                    for k in range(3):
                        client.send_text(user, f"m{n}-{k}")
                    seen: list[str] = []
                    cursor = 0
                    while len(seen) < 3:
                        item = client.wait_for(user, lambda i: i["kind"] == "message", after_seq=cursor)
                        seen.append(item["plain"])
                        cursor = item["seq"]
                    return seen

                replies = await asyncio.gather(*(asyncio.to_thread(one_user, n) for n in range(20)))
                for n, seen in enumerate(replies):
                    assert sorted(seen) == [f"echo: m{n}-{k}" for k in range(3)]
                stats = await asyncio.to_thread(StandinClient(server.url).stats)
                assert stats["sent"] == 60 and stats["rate_limited_429"] == 0
                assert record.errors == []

    asyncio.run(scenario())
