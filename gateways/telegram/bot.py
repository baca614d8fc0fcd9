"""python-telegram-bot handlers: thin, they parse the update and ``tell`` the session router."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

import attrs
import pykka
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from gateways.telegram.reads import GameReads, ReadsUnavailable
from schema.bank import category_titles
from trivia_actors.rules import MAX_QUESTIONS, MIN_QUESTIONS, GameMode
from trivia_actors.runtime import TELEGRAM_UPDATES
from trivia_actors.session import (
    AnswerCallback,
    AnswerGiven,
    Button,
    ChatSettings,
    Claim,
    GameOptions,
    HintAsked,
    Keyboard,
    LeaderboardCallback,
    LoadChatSettings,
    OpKind,
    OutboundOp,
    Player,
    PollAnswered,
    SaveChatSettings,
    ScoreAsked,
    SessionRouter,
    SettingError,
    SkipAsked,
    StartGame,
    StopGame,
    TelegramOutbox,
    TextGiven,
    keys,
    texts,
)

logger = logging.getLogger(__name__)


def parse_play_args(
    args: list[str], categories: dict[str, str], default_count: int
) -> tuple[str | None, int, str | None]:
    """(category slug, question count, unknown category) from ``/play [category] [n]``."""
    count = default_count
    words: list[str] = []
    for arg in args:
        if arg.isascii() and arg.isdigit():
            count = max(MIN_QUESTIONS, min(int(arg), MAX_QUESTIONS))
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
    return _player_of(user)


def _player_of(user: User) -> Player:
    return Player(telegram_id=user.id, name=user.full_name or user.username or str(user.id),
                  language=(user.language_code or "en")[:2])


class BotHandlers:
    """Registers the handlers on an application and forwards updates to the chat's session shard."""

    def __init__(self, sessions: SessionRouter, *, default_question_count: int, outbox: TelegramOutbox,
                 store: pykka.ActorRef[Any] | None = None, default_timer_s: float = 30.0,
                 reads: GameReads | None = None) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.reads = reads
        self.store = store
        self.defaults = ChatSettings(questions=default_question_count, timer=round(default_timer_s))
        self.default_question_count = default_question_count
        self.categories = category_titles()

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add every handler and the error handler."""
        application.add_handler(CommandHandler("start", self.start))
        application.add_handler(CommandHandler("help", self.help))
        application.add_handler(CommandHandler("categories", self.list_categories))
        application.add_handler(CommandHandler("play", self.play))
        application.add_handler(CommandHandler("stop", self.stop))
        application.add_handler(CommandHandler("hint", self.hint))
        application.add_handler(CommandHandler("skip", self.skip))
        application.add_handler(CommandHandler("score", self.score))
        application.add_handler(CommandHandler("settings", self.settings))
        application.add_handler(CommandHandler("leaderboard", self.leaderboard))
        application.add_handler(CommandHandler("stats", self.stats))
        application.add_handler(CallbackQueryHandler(self.leaderboard_page,
                                                     pattern=f"^{re.escape(LeaderboardCallback.PREFIX)}"))
        application.add_handler(CallbackQueryHandler(self.answer, pattern=f"^{re.escape(AnswerCallback.PREFIX)}"))
        application.add_handler(CallbackQueryHandler(self.unknown_button))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.text))
        application.add_handler(PollAnswerHandler(self.poll_answer))
        application.add_error_handler(self.on_error)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("start").inc()
        if update.effective_message is not None:
            await self._reply(update, texts.render("welcome"))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("help").inc()
        if update.effective_message is not None:
            await self._reply(update, texts.render("help"))

    async def list_categories(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("categories").inc()
        lines = "\n".join(f"• {title} — <code>/play {slug}</code>" for slug, title in sorted(self.categories.items()))
        if update.effective_message is not None:
            await self._reply(update, texts.raw("categories", lines=lines))

    async def _reply(self, update: Update, text: str) -> None:
        """Answer a command through the outbox (the chat's order and Telegram's limits kept), once per update:
        Telegram redelivers updates a crashed bot did not confirm, and a replayed command is not answered again."""
        if update.effective_chat is None or not await self._first_reply(update.update_id):
            return
        self.outbox.deliver([OutboundOp(kind=OpKind.SEND, chat_id=update.effective_chat.id,
                                        key=keys.reply_key(keys.Reply.COMMAND, update.update_id), text=text)])

    async def _first_reply(self, update_id: int) -> bool:
        if self.store is None:
            return True
        store = self.store
        try:
            return bool(await asyncio.to_thread(lambda: store.ask(Claim(key=keys.reply_claim(update_id)), timeout=10)))
        except Exception as exc:  # noqa: BLE001 - the store is down: answering twice beats not answering
            logger.warning("update %d: could not check for a replay (%s); answering it", update_id,
                           type(exc).__name__)
            return True

    async def _chat_settings(self, chat_id: int) -> ChatSettings:
        if self.store is None:
            return self.defaults
        store = self.store
        document = cast(dict[str, Any] | None, await asyncio.to_thread(
            lambda: store.ask(LoadChatSettings(chat_id=chat_id), timeout=10)
        ))
        return ChatSettings.from_dict({**self.defaults.to_dict(), **(document or {})})

    async def _settings_or_apology(self, update: Update, chat_id: int) -> ChatSettings | None:
        """The chat's settings; None, after telling the chat to try again, while the store cannot be read."""
        try:
            return await self._chat_settings(chat_id)
        except Exception as exc:  # noqa: BLE001 - the store (database) is down: say so, start nothing
            logger.warning("chat %s: settings unreadable (%s); asked to retry", chat_id, type(exc).__name__)
            await self._reply(update, texts.render("unavailable"))
            return None

    async def _is_admin(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.type == ChatType.PRIVATE:
            return True
        member = await context.bot.get_chat_member(chat.id, user.id)
        return member.status in {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}

    async def play(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("play").inc()
        chat = update.effective_chat
        if chat is None or update.effective_user is None or update.effective_message is None:
            return
        chat_settings = await self._settings_or_apology(update, chat.id)
        if chat_settings is None:
            return
        raw_args = list(context.args or [])
        topic = None
        if raw_args and raw_args[0].lower().startswith("topic:"):
            # "/play topic: volcanoes of Iceland": any topic, generated when DeepSeek is configured.
            topic = " ".join(raw_args)[len("topic:"):].strip()[:100] or None
            raw_args = []
        category, count, unknown = parse_play_args(raw_args, self.categories, chat_settings.questions)
        if unknown is not None:
            await self._reply(update, texts.render("unknown_category", category=unknown))
            return
        group = chat.type in {ChatType.GROUP, ChatType.SUPERGROUP}
        options = GameOptions(
            category=category or chat_settings.category, question_count=count,
            mode=GameMode.GROUP if group else GameMode.SOLO, difficulty=chat_settings.difficulty,
            time_limit_s=float(chat_settings.timer), answer_mode=chat_settings.mode,
            streak_enabled=chat_settings.streak, speed_points=chat_settings.speed,
            difficulty_weighted=chat_settings.weighted, hint_penalty_pct=chat_settings.hint_penalty, topic=topic,
            question_type=chat_settings.qtype,
        )
        self.sessions.tell(StartGame(chat_id=chat.id, player=_player(update), update_id=update.update_id,
                                    options=options, idle_limit=chat_settings.idle_stop))

    async def settings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("settings").inc()
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        current = await self._settings_or_apology(update, chat.id)
        if current is None:
            return
        args = list(context.args or [])
        if not args:
            await self._reply(update, texts.render("settings", lines=current.describe()))
            return
        if not await self._is_admin(update, context):
            await self._reply(update, texts.render("settings_admins_only"))
            return
        if len(args) < 2:
            await self._reply(update, texts.render("settings_usage"))
            return
        try:
            changed = current.change(args[0].lower(), " ".join(args[1:]), self.categories)
        except SettingError as exc:
            await self._reply(update, texts.render("settings_invalid", reason=str(exc)))
            return
        if self.store is not None:
            store = self.store
            await asyncio.to_thread(
                lambda: store.ask(SaveChatSettings(chat_id=chat.id, settings=changed.to_dict()), timeout=10)
            )
        await self._reply(update, texts.render("settings_saved", lines=changed.describe()))

    async def hint(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("hint").inc()
        if update.effective_chat is not None and update.effective_user is not None:
            self.sessions.tell(HintAsked(chat_id=update.effective_chat.id, player=_player(update),
                                        update_id=update.update_id))

    async def skip(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("skip").inc()
        if update.effective_chat is not None and update.effective_user is not None:
            self.sessions.tell(SkipAsked(chat_id=update.effective_chat.id, player=_player(update),
                                        update_id=update.update_id, is_admin=await self._is_admin(update, context)))

    async def score(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("score").inc()
        if update.effective_chat is not None and update.effective_user is not None:
            self.sessions.tell(ScoreAsked(chat_id=update.effective_chat.id, player=_player(update),
                                         update_id=update.update_id))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("stop").inc()
        if update.effective_chat is None or update.effective_user is None:
            return
        chat_id = update.effective_chat.id
        self.sessions.tell(StopGame(chat_id=chat_id, player=_player(update), update_id=update.update_id,
                                   is_admin=await self._is_admin(update, context)))

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("answer").inc()
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        button = AnswerCallback.parse(query.data or "")
        if button is None:
            await query.answer("This button is not valid any more.")
            return
        self.sessions.tell(AnswerGiven(chat_id=update.effective_chat.id, player=_player(update),
                                      game_tag=button.game_tag, question_no=button.question_no, option=button.option,
                                      update_id=update.update_id))
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
        self.sessions.tell(TextGiven(chat_id=update.effective_chat.id, player=_player(update), text=message.text,
                                    update_id=update.update_id))

    async def _board(self, chat_id: int, board: LeaderboardCallback) -> tuple[str, Keyboard]:
        assert self.reads is not None
        scope = f"chat:{chat_id}" if board.chat_only else "global"
        period = "week" if board.weekly else "all"
        entries, more = await self.reads.leaderboard_page(scope=scope, period=period, page=board.page)
        title = texts.render("leaderboard_title", where="this chat" if board.chat_only else "everyone",
                             period="this week" if board.weekly else "all time", page=board.page)
        lines = "\n".join(texts.render("leaderboard_line", rank=e["rank"], name=e["display_name"] or "?",
                                        points=e["points"]) for e in entries) or texts.render("leaderboard_empty")
        buttons = []
        if board.page > 1:
            buttons.append(Button(text="◀ Previous", data=attrs.evolve(board, page=board.page - 1).build()))
        if more:
            buttons.append(Button(text="Next ▶", data=attrs.evolve(board, page=board.page + 1).build()))
        return f"{title}\n{lines}", (tuple(buttons),) if buttons else ()

    async def leaderboard(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("leaderboard").inc()
        chat = update.effective_chat
        if chat is None or self.reads is None:
            return
        args = [a.lower() for a in (context.args or [])]
        board = LeaderboardCallback(chat_only=not ("global" in args or chat.type == ChatType.PRIVATE),
                                    weekly="week" in args, page=1)
        try:
            text, keyboard = await self._board(chat.id, board)
        except ReadsUnavailable as exc:
            await self._reply(update, texts.render("reads_failed", reason=str(exc)))
            return
        self.outbox.deliver([OutboundOp(kind=OpKind.SEND, chat_id=chat.id,
                                        key=keys.reply_key(keys.Reply.COMMAND, update.update_id), text=text,
                                        keyboard=keyboard)])

    async def leaderboard_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("leaderboard_page").inc()
        query, chat = update.callback_query, update.effective_chat
        board = LeaderboardCallback.parse(query.data or "") if query else None
        if query is None or chat is None or board is None or self.reads is None:
            if query is not None:
                await query.answer("This button is not valid any more.")
            return
        try:
            text, keyboard = await self._board(chat.id, board)
        except ReadsUnavailable as exc:
            await query.answer(str(exc)[:200])
            return
        await query.answer()
        if query.message is not None:
            await context.bot.edit_message_text(
                text, chat_id=chat.id, message_id=query.message.message_id, parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                                    for b in row] for row in keyboard]) if keyboard else None)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("stats").inc()
        user = update.effective_user
        if user is None or self.reads is None:
            return
        try:
            stats = await self.reads.player_stats(user.id)
        except ReadsUnavailable as exc:
            await self._reply(update, texts.render("reads_failed", reason=str(exc)))
            return
        if not stats:
            await self._reply(update, texts.render("stats_none"))
            return
        average = stats.get("average_response_ms")
        await self._reply(update, texts.render(
            "stats", name=user.full_name, games=stats["games"], answers=stats["answers"],
            accuracy=round(100 * float(stats["accuracy"])), streak=stats["best_streak"],
            speed="—" if average is None else f"{average / 1000:.1f} s", points=stats["total_points"]))

    async def poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        TELEGRAM_UPDATES.labels("poll_answer").inc()
        answer = update.poll_answer
        if answer is None or answer.user is None:
            return
        self.sessions.tell(PollAnswered(poll_id=answer.poll_id, player=_player_of(answer.user),
                                       option_ids=tuple(answer.option_ids),
                                       update_id=update.update_id))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update %s failed: %s", update_id, type(context.error).__name__, exc_info=context.error)
