"""A real python-telegram-bot 22.8 application wired to a stand-in, and a tiny demo bot for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Poll, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    PollHandler,
    filters,
)

from gateways.telegram_standin import StandinServer

TOKEN = "123456:standin-test-token"
PTBApp = Application[Any, Any, Any, Any, Any, Any]


def build_application(server: StandinServer, token: str = TOKEN) -> PTBApp:
    """A PTB Application pointed at the stand-in exactly as the production bot is pointed at Telegram."""
    return (ApplicationBuilder().token(token).base_url(f"{server.url}/bot")
            .base_file_url(f"{server.url}/file/bot").build())


def make_bot(server: StandinServer, token: str = TOKEN) -> Bot:
    """A bare PTB Bot on the stand-in."""
    return Bot(token, base_url=f"{server.url}/bot", base_file_url=f"{server.url}/file/bot")


@contextlib.asynccontextmanager
async def polling(app: PTBApp) -> AsyncIterator[PTBApp]:
    """initialize/start/start_polling, then a clean stop."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@dataclass
class DemoRecord:
    """What the demo bot saw."""

    poll_answers: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def install_demo_bot(app: PTBApp, record: DemoRecord) -> None:
    """/start with a keyboard, clicks answered and edited, /quiz, poll answers, /admins, an echo."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Science", callback_data="cat:science"),
                                          InlineKeyboardButton("History", callback_data="cat:history")]])
        payload = " ".join(context.args or [])
        await update.effective_message.reply_text(f"<b>Welcome</b> {payload}".strip() + "\nPick a category:",
                                                  parse_mode="HTML", reply_markup=keyboard)

    async def clicked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer(f"chose {query.data}")
        category = query.data.split(":")[1]
        edited = await query.edit_message_text(f"You chose <i>{category}</i>", parse_mode="HTML")
        assert not isinstance(edited, bool)
        record.edited.append(edited.text or "")

    async def quiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_poll(update.effective_chat.id, "2 + 2 = ?", ["3", "4", "5"], type=Poll.QUIZ,
                                    correct_option_ids=[1], is_anonymous=False, open_period=30,
                                    explanation="basic arithmetic")

    async def poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        assert answer is not None and answer.user is not None
        record.poll_answers.append((answer.poll_id, answer.user.id, tuple(answer.option_ids)))
        text = f"{answer.user.first_name} answered {answer.option_ids[0]}"
        await context.bot.send_message(answer.user.id, text)

    async def poll_state(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.poll is not None
        record.polls.append(update.poll)

    async def admins(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        assert chat is not None and user is not None and message is not None
        names = [member.user.first_name for member in await context.bot.get_chat_administrators(chat.id)]
        member = await context.bot.get_chat_member(chat.id, user.id)
        await message.reply_text(f"admins: {', '.join(names)}; you are {member.status}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            record.errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("quiz", quiz))
    app.add_handler(CommandHandler("admins", admins))
    app.add_handler(CallbackQueryHandler(clicked))
    app.add_handler(PollAnswerHandler(poll_answer))
    app.add_handler(PollHandler(poll_state))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_error_handler(on_error)


@contextlib.asynccontextmanager
async def serve_asgi(app: Starlette) -> AsyncIterator[str]:
    """Serve a small ASGI app on a free loopback port inside the running loop; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
