"""python-telegram-bot handlers: thin, they parse the update and ``tell`` the session manager."""

from __future__ import annotations

import logging
import re
from typing import Any

import pykka
from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from schema.bank import category_titles
from trivia_actors import texts
from trivia_actors.metrics import TELEGRAM_UPDATES
from trivia_actors.session_messages import AnswerGiven, Player, StartGame, StopGame, TextGiven

logger = logging.getLogger(__name__)

CALLBACK = re.compile(r"a:([0-9a-f]{8}):(\d{1,3}):(\d)")
MAX_QUESTIONS = 20


def parse_play_args(
    args: list[str], categories: dict[str, str], default_count: int
) -> tuple[str | None, int, str | None]:
    """(category slug, question count, unknown category) from ``/play [category] [n]``."""
    count = default_count
    words: list[str] = []
    for arg in args:
        if arg.isdigit():
            count = max(1, min(int(arg), MAX_QUESTIONS))
        else:
            words.append(arg)
    if not words:
        return None, count, None
    wanted = " ".join(words).casefold().replace("&", "and")
    for slug, title in categories.items():
        names = {slug.casefold(), slug.replace("_", " ").casefold(), title.casefold().replace("&", "and")}
        if wanted in names or any(name.startswith(wanted) for name in names):
            return slug, count, None
    return None, count, " ".join(words)


def _player(update: Update) -> Player:
    user = update.effective_user
    assert user is not None
    return Player(telegram_id=user.id, name=user.full_name or user.username or str(user.id),
                  language=(user.language_code or "en")[:2])


class BotHandlers:
    """Registers the handlers on an application and forwards updates to the session manager."""

    def __init__(self, manager: pykka.ActorRef[Any], *, default_question_count: int) -> None:
        self.manager = manager
        self.default_question_count = default_question_count
        self.categories = category_titles()

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add every handler and the error handler."""
        application.add_handler(CommandHandler("start", self.start))
        application.add_handler(CommandHandler("help", self.help))
        application.add_handler(CommandHandler("categories", self.list_categories))
        application.add_handler(CommandHandler("play", self.play))
        application.add_handler(CommandHandler("stop", self.stop))
        application.add_handler(CallbackQueryHandler(self.answer, pattern=r"^a:"))
        application.add_handler(CallbackQueryHandler(self.unknown_button))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.text))
        application.add_error_handler(self.on_error)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("start").inc()
        if update.effective_message is not None:
            await update.effective_message.reply_text(texts.render("welcome"),
                                                      parse_mode=ParseMode.HTML)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("help").inc()
        if update.effective_message is not None:
            await update.effective_message.reply_text(texts.render("help"), parse_mode=ParseMode.HTML)

    async def list_categories(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("categories").inc()
        lines = "\n".join(f"• {title} — <code>/play {slug}</code>" for slug, title in sorted(self.categories.items()))
        if update.effective_message is not None:
            await update.effective_message.reply_text(texts.raw("categories", lines=lines), parse_mode=ParseMode.HTML)

    async def play(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("play").inc()
        chat = update.effective_chat
        if chat is None or update.effective_user is None or update.effective_message is None:
            return
        category, count, unknown = parse_play_args(list(context.args or []), self.categories,
                                                   self.default_question_count)
        if unknown is not None:
            await update.effective_message.reply_text(texts.render("unknown_category", category=unknown),
                                                      parse_mode=ParseMode.HTML)
            return
        self.manager.tell(StartGame(chat_id=chat.id, player=_player(update), category=category,
                                    question_count=count, update_id=update.update_id))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("stop").inc()
        if update.effective_chat is None or update.effective_user is None:
            return
        chat_id = update.effective_chat.id
        self.manager.tell(StopGame(chat_id=chat_id, player=_player(update), update_id=update.update_id))

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("answer").inc()
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        match = CALLBACK.fullmatch(query.data or "")
        if match is None:
            await query.answer("This button is not valid any more.")
            return
        self.manager.tell(AnswerGiven(chat_id=update.effective_chat.id, player=_player(update), game_tag=match[1],
                                      question_no=int(match[2]), option=int(match[3]), update_id=update.update_id))
        await query.answer()

    async def unknown_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("unknown_button").inc()
        if update.callback_query is not None:
            await update.callback_query.answer("This button is not valid any more.")

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("text").inc()
        message = update.effective_message
        if message is None or message.text is None or update.effective_chat is None or update.effective_user is None:
            return
        self.manager.tell(TextGiven(chat_id=update.effective_chat.id, player=_player(update), text=message.text,
                                    update_id=update.update_id))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update %s failed: %s", update_id, type(context.error).__name__, exc_info=context.error)
