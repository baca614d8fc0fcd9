"""The stand-in's in-memory world: users, chats, messages, the update queue, polls and flood accounting.

Everything lives in one :class:`World` guarded by a re-entrant lock, so the ASGI handlers (event-loop thread)
and tests or tools in other threads may use it at the same time. Every change is announced to listeners; the
server turns that into asyncio wake-ups for long polls and webhook delivery.

Objects are built as Telegram's JSON (``to_api`` dicts), with dates in unix seconds and every field
python-telegram-bot 22.8 requires (``User.is_bot``, ``Chat.type``, ``CallbackQuery.chat_instance``,
``PollOption.persistent_id``, ``Poll.allows_revoting``/``members_only``, ``PollAnswer.option_persistent_ids``,
``ChatFullInfo.accepted_gift_types`` ...). The parts it is built from live beside it: :mod:`.entities` (text
and Telegram's HTML), :mod:`.limits` (flood limits and injected faults), :mod:`.markup` (reply_markup checks)
and :mod:`.records`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateways.telegram_standin.entities import MAX_TEXT_LENGTH, command_entities, message_text, utf16_len
from gateways.telegram_standin.errors import ApiError, JSONDict, bad_request, not_modified, too_many_requests
from gateways.telegram_standin.limits import FaultPlan, FloodLimits, FloodMeter
from gateways.telegram_standin.markup import flatten_buttons, inline_only, validate_reply_markup
from gateways.telegram_standin.records import (
    BOT_SENDER,
    CallbackRecord,
    ChatRecord,
    MessageRecord,
    PollRecord,
    UserRecord,
    WebhookConfig,
)

logger = logging.getLogger(__name__)

MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
MIN_POLL_OPTIONS = 1  # Bot API 10.0 lowered it from 2 (PTB 22.8's PollLimit.MIN_OPTION_NUMBER)
MAX_POLL_OPTIONS = 12
MAX_EXPLANATION = 200
MIN_OPEN_PERIOD = 5
MAX_OPEN_PERIOD = 2_628_000
DEFAULT_BOT_ID = 1_000_000
DEFAULT_BOT_USERNAME = "standin_bot"
DEFAULT_BOT_NAME = "Stand-in Bot"

ALL_UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
)
# Telegram's default when allowed_updates was never set, or set to []: all but these three.
DEFAULT_ALLOWED_UPDATES = frozenset(ALL_UPDATE_TYPES) - {"chat_member", "message_reaction",
                                                          "message_reaction_count"}

_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class _ChatStats:
    sent: int = 0
    edits: int = 0
    deletes: int = 0
    rate_limited: int = 0
    breaches: int = 0


class World:
    """Users, chats, messages, polls, the bot's update queue and webhook, and the statistics; thread-safe."""

    def __init__(self, *, limits: FloodLimits | None = None, bot_id: int = DEFAULT_BOT_ID,
                 bot_username: str = DEFAULT_BOT_USERNAME, bot_first_name: str = DEFAULT_BOT_NAME,
                 privacy_mode: bool = False, max_events_per_chat: int = 10_000) -> None:
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self.limits = limits if limits is not None else FloodLimits.monitor()
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        # In privacy mode group messages reach the bot only when they are commands, replies to it or mentions.
        self.privacy_mode = privacy_mode
        self.max_events_per_chat = max_events_per_chat
        # Counters survive reset(): a bot holding an old getUpdates offset or message ids must keep working.
        self._update_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._user_ids = itertools.count(100_001)
        self._group_ids = itertools.count(1)
        self._poll_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._message_ids: dict[int, int] = {}
        self._last_seq = 0
        # Bot-side configuration also survives reset(): it belongs to the bot, not to the users' world.
        self._webhook: WebhookConfig | None = None
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._clear()

    def _clear(self) -> None:
        self._users: dict[int, UserRecord] = {}
        self._chats: dict[int, ChatRecord] = {}
        self._messages: dict[tuple[int, int], MessageRecord] = {}
        self._chat_messages: dict[int, list[int]] = {}
        self._polls: dict[str, PollRecord] = {}
        self._callbacks: dict[str, CallbackRecord] = {}
        self._updates: deque[JSONDict] = deque()
        self._events: dict[int, list[JSONDict]] = {}
        self._meter = FloodMeter()
        self._faults = FaultPlan()
        self._chat_stats: dict[int, _ChatStats] = {}
        self._methods: dict[str, int] = {}
        self._sent = 0
        self._edits = 0
        self._deletes = 0
        self._rate_limited = 0
        self._faults_injected = 0
        self._breaches: dict[str, int] = {"global": 0, "chat": 0, "group": 0, "edit": 0}
        self._updates_created = 0

    # -- listeners ------------------------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread, without the lock) after every change."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def notify(self) -> None:
        """Tell the listeners something changed."""
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback()
            except Exception:  # a dead listener must not break the world
                logger.exception("stand-in listener failed")

    # -- helpers ---------------------------------------------------------------------------------------------

    @staticmethod
    def _now() -> int:
        return int(time.time())

    def adopt_token(self, token: str) -> None:
        """Real bot ids are the token's numeric prefix; take it over so getMe matches the token."""
        prefix = token.split(":", 1)[0]
        if prefix.isdigit() and int(prefix) != self.bot_id and int(prefix) > 0:
            with self._lock:
                self.bot_id = int(prefix)

    def bot_user(self) -> JSONDict:
        """The bot as a User object (what getMe returns, minus the capability flags)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}

    def _user(self, user_id: int) -> UserRecord:
        user = self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return user

    def _chat(self, chat_id: int | str) -> ChatRecord:
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _chat_api(self, chat: ChatRecord) -> JSONDict:
        if chat.type == "private":
            user = self._users[chat.id]
            data: JSONDict = {"id": chat.id, "type": "private", "first_name": user.first_name}
            if user.last_name:
                data["last_name"] = user.last_name
            if user.username:
                data["username"] = user.username
            return data
        return {"id": chat.id, "type": chat.type, "title": chat.title or ""}

    def _from_api(self, from_id: int) -> JSONDict:
        if from_id == BOT_SENDER:
            return self.bot_user()
        user = self._users.get(from_id)
        return user.to_api() if user else {"id": from_id, "is_bot": False, "first_name": "Deleted Account"}

    def _message_api(self, message: MessageRecord, *, with_reply: bool = True) -> JSONDict:
        chat = self._chats[message.chat_id]
        data: JSONDict = {"message_id": message.message_id, "from": self._from_api(message.from_id),
                          "chat": self._chat_api(chat), "date": message.date}
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.poll_id is not None:
            data["poll"] = self._polls[message.poll_id].to_api()
        markup = inline_only(message.reply_markup)
        if markup:
            data["reply_markup"] = markup
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if with_reply and message.reply_to_message_id is not None:
            replied = self._messages.get((message.chat_id, message.reply_to_message_id))
            if replied is not None and not replied.deleted:
                data["reply_to_message"] = self._message_api(replied, with_reply=False)
        return data

    def _next_message_id(self, chat_id: int) -> int:
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    def _store_message(self, message: MessageRecord) -> None:
        self._messages[(message.chat_id, message.message_id)] = message
        self._chat_messages.setdefault(message.chat_id, []).append(message.message_id)

    def _enqueue(self, kind: str, payload: JSONDict) -> JSONDict:
        update = {"update_id": next(self._update_ids), kind: payload}
        self._updates_created += 1
        # Filtering at creation is what Telegram does: allowed_updates does not affect queued updates.
        if kind in self._allowed_updates:
            self._updates.append(update)
        return update

    def _emit(self, chat_id: int, kind: str, **fields: Any) -> JSONDict:
        seq = next(self._seq)
        self._last_seq = seq
        event: JSONDict = {"seq": seq, "kind": kind, "chat_id": chat_id, "date": self._now(), **fields}
        events = self._events.setdefault(chat_id, [])
        events.append(event)
        if len(events) > 2 * self.max_events_per_chat:
            del events[: len(events) - self.max_events_per_chat]
        return event

    def _message_event_fields(self, message: MessageRecord) -> JSONDict:
        buttons = flatten_buttons(message.reply_markup)
        fields: JSONDict = {
            "message_id": message.message_id, "text": message.raw_text, "plain": message.text,
            "parse_mode": message.parse_mode, "buttons": buttons, "reply_markup": buttons,
            "reply_to_message_id": message.reply_to_message_id, "poll": None, "poll_id": message.poll_id,
            "edit_date": message.edit_date,
        }
        if message.poll_id is not None:
            poll = self._polls[message.poll_id]
            fields["poll"] = poll.summary()
            fields["text"] = fields["plain"] = poll.question
        return fields

    def _stats_for(self, chat_id: int) -> _ChatStats:
        return self._chat_stats.setdefault(chat_id, _ChatStats())

    def _flood_check(self, chat: ChatRecord, kind: str) -> None:
        now = time.monotonic()
        limits = self.limits
        found = self._meter.breaches(limits, chat.id, chat.is_group, kind, now)
        if found:
            stats = self._stats_for(chat.id)
            for name, _wait in found:
                self._breaches[name] += 1
                stats.breaches += 1
            if limits.enforce:
                retry_after = max(wait for _name, wait in found)
                self._rate_limited += 1
                stats.rate_limited += 1
                logger.info("stand-in: flood limit %s in chat %s, retry after %ss",
                            ",".join(name for name, _ in found), chat.id, retry_after)
                raise too_many_requests(retry_after)
        self._meter.record(chat.id, chat.is_group, kind, now)

    # -- user side -------------------------------------------------------------------------------------------

    def create_user(self, first_name: str, *, user_id: int | None = None, last_name: str | None = None,
                    username: str | None = None, language_code: str | None = None) -> JSONDict:
        """Create a user and their private chat with the bot, or update an existing one's names."""
        if not first_name:
            raise bad_request("first_name is required")
        with self._lock:
            if user_id is None:
                user_id = next(self._user_ids)
                while user_id in self._users or user_id == self.bot_id:
                    user_id = next(self._user_ids)
            if user_id <= 0 or user_id == self.bot_id:
                raise bad_request("user_id must be a positive id other than the bot's")
            user = UserRecord(user_id, first_name, last_name, username, language_code)
            self._users[user_id] = user
            self._chats.setdefault(user_id, ChatRecord(id=user_id, type="private"))
            result = user.to_api()
        self.notify()
        return result

    def create_group(self, title: str, member_ids: Sequence[int], admin_ids: Sequence[int] = (), *,
                     supergroup: bool = False, chat_id: int | None = None, bot_is_admin: bool = False
                     ) -> JSONDict:
        """A group with the bot and these users; the first of ``admin_ids`` is its owner ("creator")."""
        if not title:
            raise bad_request("title is required")
        with self._lock:
            members = list(dict.fromkeys([*member_ids, *admin_ids]))
            for user_id in members:
                self._user(user_id)
            if chat_id is None:
                n = next(self._group_ids)
                chat_id = -(1_001_000_000_000 + n) if supergroup else -(4_000_000_000 + n)
                while chat_id in self._chats:
                    n = next(self._group_ids)
                    chat_id = -(1_001_000_000_000 + n) if supergroup else -(4_000_000_000 + n)
            if chat_id >= 0:
                raise bad_request("group chat ids are negative")
            if chat_id in self._chats:
                raise bad_request("chat already exists")
            # Exactly admin_ids are admins: the first is the owner; without admins the owner is nobody here.
            creator = admin_ids[0] if admin_ids else None
            adder = creator if creator is not None else (members[0] if members else None)
            chat = ChatRecord(id=chat_id, type="supergroup" if supergroup else "group", title=title,
                              members=members, admins=set(admin_ids), creator_id=creator,
                              bot_is_admin=bot_is_admin)
            self._chats[chat_id] = chat
            # Telegram tells the bot it was added to the group.
            self._enqueue("my_chat_member", {
                "chat": self._chat_api(chat), "from": self._from_api(adder) if adder else self.bot_user(),
                "date": self._now(), "old_chat_member": {"user": self.bot_user(), "status": "left"},
                "new_chat_member": self._member_api(chat, self.bot_id),
            })
            result = {**self._chat_api(chat), "member_ids": members, "admin_ids": list(admin_ids),
                      "creator_id": creator}
        self.notify()
        return result

    def _resolve_user_chat(self, user: UserRecord, chat_id: int | None) -> ChatRecord:
        chat = self._chat(user.id if chat_id is None else chat_id)
        if chat.type == "private" and chat.id != user.id:
            raise bad_request("a user can only write in their own private chat")
        if chat.is_group and user.id not in chat.members:
            raise bad_request("user is not a member of the chat")
        return chat

    def user_send(self, user_id: int, text: str, *, chat_id: int | None = None,
                  reply_to_message_id: int | None = None) -> JSONDict:
        """A user writes ``text``; returns the message update (with bot_command entities for /commands)."""
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        with self._lock:
            user = self._user(user_id)
            chat = self._resolve_user_chat(user, chat_id)
            if reply_to_message_id is not None and (chat.id, reply_to_message_id) not in self._messages:
                raise bad_request("message to be replied not found")
            message = MessageRecord(chat_id=chat.id, message_id=self._next_message_id(chat.id),
                                    from_id=user.id, date=self._now(), raw_text=text, text=text,
                                    entities=command_entities(text), reply_to_message_id=reply_to_message_id)
            self._store_message(message)
            if chat.type == "private":
                chat.started = True
            payload = self._message_api(message)
            if chat.is_group and self.privacy_mode and not self._visible_in_privacy_mode(message):
                update: JSONDict = {"message": payload}  # the bot does not see it; no update id is used
            else:
                update = self._enqueue("message", payload)
        self.notify()
        return update

    def _visible_in_privacy_mode(self, message: MessageRecord) -> bool:
        text = message.text or ""
        if text.startswith("/") or f"@{self.bot_username}".lower() in text.lower():
            return True
        if message.reply_to_message_id is not None:
            replied = self._messages.get((message.chat_id, message.reply_to_message_id))
            return replied is not None and replied.from_id == BOT_SENDER
        return False

    @staticmethod
    def chat_instance(chat_id: int) -> str:
        """Telegram's chat_instance: a stable opaque id per chat."""
        digest = hashlib.sha256(f"standin-chat-{chat_id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big") >> 1)

    def user_click(self, user_id: int, chat_id: int, message_id: int, data: str) -> JSONDict:
        """A user presses the inline button with ``data`` on a message; returns the callback_query update."""
        with self._lock:
            user = self._user(user_id)
            chat = self._resolve_user_chat(user, chat_id)
            message = self._messages.get((chat.id, message_id))
            if message is None or message.deleted:
                raise bad_request("message not found")
            buttons = [button for row in flatten_buttons(message.reply_markup) for button in row]
            if not any(button.get("callback_data") == data for button in buttons):
                raise bad_request("no button with that callback_data on the message")
            query_id = str(4_000_000_000_000_000_000 + next(self._callback_ids))
            self._callbacks[query_id] = CallbackRecord(query_id, user.id, chat.id, message_id)
            update = self._enqueue("callback_query", {
                "id": query_id, "from": user.to_api(), "message": self._message_api(message),
                "chat_instance": self.chat_instance(chat.id), "data": data,
            })
        self.notify()
        return update

    def user_poll_answer(self, user_id: int, poll_id: str, option_ids: Sequence[int]) -> JSONDict:
        """A user votes; returns the poll_answer update (the poll update for anonymous polls)."""
        with self._lock:
            user = self._user(user_id)
            poll = self._polls.get(poll_id)
            if poll is None:
                raise bad_request("poll not found")
            if poll.closed(time.time()):
                raise bad_request("poll is closed")
            chat = self._chats[poll.chat_id]
            if chat.type == "private" and chat.id != user.id:
                raise bad_request("user cannot see this poll")
            if chat.is_group and user.id not in chat.members:
                raise bad_request("user is not a member of the chat")
            chosen = list(dict.fromkeys(option_ids))
            if any(not 0 <= option < len(poll.options) for option in chosen):
                raise bad_request("wrong option id")
            if len(chosen) > 1 and not poll.allows_multiple_answers:
                raise bad_request("the poll allows only one answer")
            previous = poll.votes.get(user.id)
            if previous and not poll.allows_revoting:
                raise bad_request("the answer was already given and the poll does not allow revoting")
            if not chosen and not previous:
                raise bad_request("option_ids is empty")
            poll.votes[user.id] = chosen
            result: JSONDict | None = None
            if not poll.is_anonymous:
                result = self._enqueue("poll_answer", {
                    "poll_id": poll.id, "user": user.to_api(), "option_ids": chosen,
                    "option_persistent_ids": [poll.persistent_id(i) for i in chosen],
                })
            poll_update = self._enqueue("poll", poll.to_api())
        self.notify()
        return result if result is not None else poll_update

    # -- bot side: messages ----------------------------------------------------------------------------------

    def _writable_chat(self, chat_id: int | str) -> ChatRecord:
        chat = self._chat(chat_id)
        if chat.type == "private" and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _reply_target(self, chat: ChatRecord, reply_to: int | None, allow_without_reply: bool) -> int | None:
        if reply_to is None:
            return None
        replied = self._messages.get((chat.id, reply_to))
        if replied is None or replied.deleted:
            if allow_without_reply:
                return None
            raise bad_request("message to be replied not found")
        return reply_to

    def send_message(self, chat_id: int | str, text: str | None, *, parse_mode: str | None = None,
                     entities: Sequence[JSONDict] | None = None, reply_markup: JSONDict | None = None,
                     reply_to_message_id: int | None = None, allow_sending_without_reply: bool = False
                     ) -> JSONDict:
        """sendMessage: returns the Message."""
        with self._lock:
            chat = self._writable_chat(chat_id)
            if not text:
                raise bad_request("message text is empty")
            plain, rendered = message_text(text, parse_mode, entities)
            markup = validate_reply_markup(reply_markup)
            reply_to = self._reply_target(chat, reply_to_message_id, allow_sending_without_reply)
            self._flood_check(chat, "send")
            message = MessageRecord(chat_id=chat.id, message_id=self._next_message_id(chat.id),
                                    from_id=BOT_SENDER, date=self._now(), raw_text=text, text=plain,
                                    parse_mode=parse_mode, entities=rendered, reply_markup=markup,
                                    reply_to_message_id=reply_to)
            result = self._apply_send(chat, message, "message")
        self.notify()
        return result

    def _apply_send(self, chat: ChatRecord, message: MessageRecord, kind: str) -> JSONDict:
        self._store_message(message)
        self._sent += 1
        self._stats_for(chat.id).sent += 1
        self._emit(chat.id, kind, **self._message_event_fields(message))
        return self._message_api(message)

    def _editable(self, chat_id: int | str | None, message_id: int | None, inline_message_id: str | None,
                  action: str) -> tuple[ChatRecord, MessageRecord]:
        if chat_id is None or message_id is None:
            if inline_message_id is not None:
                raise bad_request(f"message to {action} not found")  # no inline mode in the stand-in
            if chat_id is None:
                raise bad_request("chat_id is empty")
            raise bad_request("message identifier is not specified")
        chat = self._chat(chat_id)
        message = self._messages.get((chat.id, message_id))
        if message is None or message.deleted:
            raise bad_request(f"message to {action} not found")
        if message.from_id != BOT_SENDER:
            raise bad_request("message can't be edited")
        return chat, message

    def _apply_edit(self, chat: ChatRecord, message: MessageRecord) -> JSONDict:
        message.edit_date = self._now()
        self._edits += 1
        self._stats_for(chat.id).edits += 1
        self._emit(chat.id, "edit", **self._message_event_fields(message))
        return self._message_api(message)

    def edit_message_text(self, chat_id: int | str | None, message_id: int | None, text: str | None, *,
                          inline_message_id: str | None = None, parse_mode: str | None = None,
                          entities: Sequence[JSONDict] | None = None, reply_markup: JSONDict | None = None
                          ) -> JSONDict:
        """editMessageText: returns the edited Message; leaving out reply_markup removes the keyboard."""
        with self._lock:
            chat, message = self._editable(chat_id, message_id, inline_message_id, "edit")
            if not text:
                raise bad_request("message text is empty")
            if message.poll_id is not None:
                raise bad_request("there is no text in the message to edit")
            plain, rendered = message_text(text, parse_mode, entities)
            markup = validate_reply_markup(reply_markup)
            same_markup = inline_only(markup) == inline_only(message.reply_markup)
            if plain == message.text and rendered == message.entities and same_markup:
                raise not_modified()
            self._flood_check(chat, "edit")
            message.raw_text, message.text, message.parse_mode = text, plain, parse_mode
            message.entities, message.reply_markup = rendered, markup
            result = self._apply_edit(chat, message)
        self.notify()
        return result

    def edit_message_reply_markup(self, chat_id: int | str | None, message_id: int | None, *,
                                  inline_message_id: str | None = None, reply_markup: JSONDict | None = None
                                  ) -> JSONDict:
        """editMessageReplyMarkup: returns the edited Message."""
        with self._lock:
            chat, message = self._editable(chat_id, message_id, inline_message_id, "edit")
            markup = validate_reply_markup(reply_markup)
            if inline_only(markup) == inline_only(message.reply_markup):
                raise not_modified()
            self._flood_check(chat, "edit")
            message.reply_markup = markup
            result = self._apply_edit(chat, message)
        self.notify()
        return result

    def delete_message(self, chat_id: int | str, message_id: int | None) -> bool:
        """deleteMessage."""
        with self._lock:
            chat = self._chat(chat_id)
            if message_id is None:
                raise bad_request("message identifier is not specified")
            message = self._messages.get((chat.id, message_id))
            if message is None or message.deleted:
                raise bad_request("message to delete not found")
            if message.from_id != BOT_SENDER and chat.is_group and not chat.bot_is_admin:
                raise bad_request("message can't be deleted")
            message.deleted = True
            self._deletes += 1
            self._stats_for(chat.id).deletes += 1
            self._emit(chat.id, "delete", message_id=message_id, text=message.raw_text, plain=message.text)
        self.notify()
        return True

    def answer_callback_query(self, callback_query_id: str | None, *, text: str | None = None,
                              show_alert: bool = False, url: str | None = None) -> bool:
        """answerCallbackQuery: records the answer in the event log of the query's chat."""
        with self._lock:
            record = self._callbacks.get(callback_query_id or "")
            if record is None or record.answered:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
                raise bad_request("MESSAGE_TOO_LONG")
            record.answered = True
            self._emit(record.chat_id, "callback_answer", message_id=record.message_id,
                       callback_query_id=record.id, user_id=record.user_id, text=text or "",
                       show_alert=show_alert, url=url)
        self.notify()
        return True

    def pin_message(self, chat_id: int | str, message_id: int | None) -> bool:
        """pinChatMessage / unpinChatMessage: only checks the message exists."""
        with self._lock:
            chat = self._chat(chat_id)
            if message_id is not None and (chat.id, message_id) not in self._messages:
                raise bad_request("message to pin not found")
        return True

    # -- bot side: polls -------------------------------------------------------------------------------------

    def send_poll(self, chat_id: int | str, question: str | None, options: Sequence[str], *,
                  poll_type: str = "regular", is_anonymous: bool = True,
                  allows_multiple_answers: bool = False, allows_revoting: bool | None = None,
                  correct_option_ids: Sequence[int] = (), explanation: str | None = None,
                  open_period: int | None = None, close_date: int | None = None, is_closed: bool = False,
                  reply_markup: JSONDict | None = None, reply_to_message_id: int | None = None,
                  allow_sending_without_reply: bool = False) -> JSONDict:
        """sendPoll: returns the Message with its Poll."""
        with self._lock:
            chat = self._writable_chat(chat_id)
            if not question:
                raise bad_request("poll question must be non-empty")
            if len(question) > MAX_POLL_QUESTION:
                raise bad_request("poll question is too long")
            if len(options) < MIN_POLL_OPTIONS:
                raise bad_request("poll must have at least 1 option")
            if len(options) > MAX_POLL_OPTIONS:
                raise bad_request(f"poll can't have more than {MAX_POLL_OPTIONS} options")
            if any(not option or len(option) > MAX_POLL_OPTION for option in options):
                raise bad_request("poll options length must be between 1 and 100")
            if poll_type not in ("regular", "quiz"):
                raise bad_request("wrong poll type specified")
            correct = list(dict.fromkeys(correct_option_ids))
            if poll_type == "quiz":
                if not correct or any(not 0 <= i < len(options) for i in correct):
                    raise bad_request("wrong correct option ids specified")
                if len(correct) > 1 and not allows_multiple_answers:
                    raise bad_request("quiz poll with one answer must have exactly one correct option")
            elif correct:
                raise bad_request("correct option ids can be specified only for quiz polls")
            if explanation is not None and len(explanation) > MAX_EXPLANATION:
                raise bad_request("explanation is too long")
            if open_period is not None and not MIN_OPEN_PERIOD <= open_period <= MAX_OPEN_PERIOD:
                raise bad_request("wrong open period specified")
            markup = validate_reply_markup(reply_markup)
            reply_to = self._reply_target(chat, reply_to_message_id, allow_sending_without_reply)
            self._flood_check(chat, "send")
            now = self._now()
            poll = PollRecord(
                id=str(5_000_000_000_000_000_000 + next(self._poll_ids)), chat_id=chat.id,
                message_id=self._next_message_id(chat.id), question=question, options=list(options),
                type=poll_type, is_anonymous=is_anonymous, allows_multiple_answers=allows_multiple_answers,
                # Quiz answers are final; regular polls have always allowed retracting a vote.
                allows_revoting=allows_revoting if allows_revoting is not None else poll_type == "regular",
                correct_option_ids=correct, explanation=explanation, open_period=open_period,
                close_date=now + open_period if open_period is not None else close_date, is_closed=is_closed,
            )
            self._polls[poll.id] = poll
            message = MessageRecord(chat_id=chat.id, message_id=poll.message_id, from_id=BOT_SENDER,
                                    date=now, poll_id=poll.id, reply_markup=markup,
                                    reply_to_message_id=reply_to)
            result = self._apply_send(chat, message, "poll")
        self.notify()
        return result

    def stop_poll(self, chat_id: int | str, message_id: int | None, *, reply_markup: JSONDict | None = None
                  ) -> JSONDict:
        """stopPoll: closes the poll, tells the bot with a poll update, returns the Poll."""
        with self._lock:
            chat = self._chat(chat_id)
            message = self._messages.get((chat.id, message_id)) if message_id is not None else None
            if message is None or message.deleted or message.poll_id is None:
                raise bad_request("message with poll to stop not found")
            poll = self._polls[message.poll_id]
            if poll.is_closed:
                raise bad_request("poll has already been closed")
            self._flood_check(chat, "edit")
            poll.is_closed = True
            message.reply_markup = validate_reply_markup(reply_markup)
            self._enqueue("poll", poll.to_api())
            self._apply_edit(chat, message)
            result = poll.to_api()
        self.notify()
        return result

    def expire_polls(self) -> int:
        """Close polls whose open period ran out, with a poll update each (as Telegram); returns how many."""
        closed = 0
        with self._lock:
            now = time.time()
            for poll in self._polls.values():
                if not poll.is_closed and poll.close_date is not None and now >= poll.close_date:
                    poll.is_closed = True
                    closed += 1
                    self._enqueue("poll", poll.to_api())
                    message = self._messages.get((poll.chat_id, poll.message_id))
                    if message is not None:
                        self._emit(poll.chat_id, "edit", **self._message_event_fields(message))
        if closed:
            self.notify()
        return closed

    # -- bot side: chats, members, commands ------------------------------------------------------------------

    def get_me(self) -> JSONDict:
        """getMe."""
        return {**self.bot_user(), "can_join_groups": True,
                "can_read_all_group_messages": not self.privacy_mode, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}

    def get_chat(self, chat_id: int | str) -> JSONDict:
        """getChat: a ChatFullInfo with the fields PTB 22.8 requires."""
        with self._lock:
            chat = self._chat(chat_id)
            return {**self._chat_api(chat), "accent_color_id": 0, "max_reaction_count": 11,
                    "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                            "unique_gifts": False, "premium_subscription": False,
                                            "gifts_from_channels": False}}

    def _member_api(self, chat: ChatRecord, user_id: int) -> JSONDict:
        user = self.bot_user() if user_id == self.bot_id else self._user(user_id).to_api()
        if chat.type == "private":
            return {"user": user, "status": "member"}
        if user_id == chat.creator_id:
            return {"user": user, "status": "creator", "is_anonymous": False}
        if user_id in chat.admins or (user_id == self.bot_id and chat.bot_is_admin):
            rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                      "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
                      "can_post_stories", "can_edit_stories", "can_delete_stories", "can_pin_messages")
            return {"user": user, "status": "administrator", "can_be_edited": user_id == self.bot_id,
                    "is_anonymous": False, **dict.fromkeys(rights, True)}
        if user_id == self.bot_id or user_id in chat.members:
            return {"user": user, "status": "member"}
        return {"user": user, "status": "left"}

    def get_chat_member(self, chat_id: int | str, user_id: int | None) -> JSONDict:
        """getChatMember."""
        with self._lock:
            chat = self._chat(chat_id)
            if user_id is None:
                raise bad_request("user_id is empty")
            if user_id != self.bot_id and user_id not in self._users:
                raise bad_request("user not found")
            if chat.type == "private" and user_id not in (chat.id, self.bot_id):
                raise bad_request("user not found")
            return self._member_api(chat, user_id)

    def get_chat_administrators(self, chat_id: int | str) -> list[JSONDict]:
        """getChatAdministrators: creator first, then admins (the bot too when it is one)."""
        with self._lock:
            chat = self._chat(chat_id)
            if chat.type == "private":
                raise bad_request("there are no administrators in the private chat")
            ids = [user_id for user_id in chat.members
                   if user_id == chat.creator_id or user_id in chat.admins]
            ids.sort(key=lambda user_id: user_id != chat.creator_id)
            if chat.bot_is_admin:
                ids.append(self.bot_id)
            return [self._member_api(chat, user_id) for user_id in ids]

    def get_chat_member_count(self, chat_id: int | str) -> int:
        """getChatMemberCount (the bot included)."""
        with self._lock:
            chat = self._chat(chat_id)
            return 2 if chat.type == "private" else len(chat.members) + 1

    @staticmethod
    def _command_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        scope_key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return scope_key, language_code or ""

    def set_commands(self, commands: Any, scope: Any = None, language_code: str | None = None) -> bool:
        """setMyCommands."""
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": description})
        with self._lock:
            self._commands[self._command_key(scope, language_code)] = cleaned
        return True

    def get_commands(self, scope: Any = None, language_code: str | None = None) -> list[JSONDict]:
        """getMyCommands."""
        with self._lock:
            return [dict(c) for c in self._commands.get(self._command_key(scope, language_code), [])]

    def delete_commands(self, scope: Any = None, language_code: str | None = None) -> bool:
        """deleteMyCommands."""
        with self._lock:
            self._commands.pop(self._command_key(scope, language_code), None)
        return True

    # -- bot side: updates and webhook -----------------------------------------------------------------------

    def set_allowed_updates(self, allowed: Iterable[str] | None) -> None:
        """Store the allowed_updates setting (None keeps it, empty means Telegram's default)."""
        if allowed is None:
            return
        wanted = frozenset(allowed)
        with self._lock:
            self._allowed_updates = wanted or DEFAULT_ALLOWED_UPDATES

    def resolve_offset(self, offset: int | None) -> int | None:
        """Turn a negative offset ("the last N updates") into an absolute one, forgetting older updates."""
        if offset is None or offset >= 0:
            return offset
        with self._lock:
            keep = list(self._updates)[offset:]
            return int(keep[0]["update_id"]) if keep else next(self._update_ids)

    def take_updates(self, offset: int | None, limit: int) -> list[JSONDict]:
        """getUpdates' core: confirm (drop) updates below ``offset``, return up to ``limit`` pending ones."""
        with self._lock:
            if self._webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                    "deleteWebhook to delete the webhook first")
            if offset is not None:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            return [json.loads(json.dumps(u)) for u in itertools.islice(self._updates, limit)]

    def set_webhook(self, url: str, *, secret_token: str | None = None, max_connections: int | None = None,
                    allowed_updates: Iterable[str] | None = None, drop_pending_updates: bool = False) -> bool:
        """setWebhook (an empty url removes it)."""
        if secret_token is not None and not _SECRET_RE.match(secret_token):
            raise bad_request("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        with self._lock:
            self.set_allowed_updates(allowed_updates)
            if drop_pending_updates:
                self._updates.clear()
            self._webhook = WebhookConfig(url, secret_token, max_connections or 40) if url else None
        self.notify()
        return True

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        """deleteWebhook."""
        with self._lock:
            self._webhook = None
            if drop_pending_updates:
                self._updates.clear()
        self.notify()
        return True

    def webhook(self) -> WebhookConfig | None:
        """A copy of the current webhook, if one is set."""
        with self._lock:
            hook = self._webhook
            return None if hook is None else WebhookConfig(**vars(hook))

    def webhook_info(self) -> JSONDict:
        """getWebhookInfo."""
        with self._lock:
            hook = self._webhook
            info: JSONDict = {"url": hook.url if hook else "", "has_custom_certificate": False,
                              "pending_update_count": len(self._updates)}
            if hook is not None:
                info["max_connections"] = hook.max_connections
                info["allowed_updates"] = sorted(self._allowed_updates)
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message or ""
            return info

    def next_webhook_delivery(self) -> tuple[WebhookConfig, JSONDict] | None:
        """The webhook and the oldest pending update for it, or None."""
        with self._lock:
            if self._webhook is None or not self._updates:
                return None
            return WebhookConfig(**vars(self._webhook)), json.loads(json.dumps(self._updates[0]))

    def webhook_delivered(self, update_id: int) -> None:
        """Drop a delivered update."""
        with self._lock:
            if self._updates and self._updates[0]["update_id"] == update_id:
                self._updates.popleft()
        self.notify()

    def webhook_failed(self, message: str) -> None:
        """Record a failed delivery, as getWebhookInfo reports it."""
        with self._lock:
            if self._webhook is not None:
                self._webhook.last_error_date = self._now()
                self._webhook.last_error_message = message

    def pending_update_count(self) -> int:
        """Updates not yet confirmed or delivered."""
        with self._lock:
            return len(self._updates)

    # -- faults, limits and statistics ---------------------------------------------------------------------

    def set_faults(self, plan: FaultPlan) -> JSONDict:
        """Install a storm plan (count 0 and fraction 0 switch it off)."""
        if plan.status not in (429, 500, 502, 503):
            raise bad_request("fault status must be 429, 500, 502 or 503")
        with self._lock:
            self._faults = plan
            return plan.to_api()

    def take_fault(self, method: str) -> ApiError | None:
        """The injected failure for this call of ``method`` (lower-case), if the storm hits it."""
        with self._lock:
            plan = self._faults
            if not plan.hits(method):
                return None
            self._faults_injected += 1
            if plan.status == 429:
                self._rate_limited += 1
            return plan.error()

    def set_limits(self, limits: FloodLimits) -> None:
        """Replace the flood limits (the windows keep their history)."""
        with self._lock:
            self.limits = limits

    def count_method(self, name: str) -> None:
        """Count one bot API call."""
        with self._lock:
            self._methods[name] = self._methods.get(name, 0) + 1

    def stats(self) -> JSONDict:
        """Counters for tests and the load simulator."""
        with self._lock:
            return {
                "sent": self._sent, "edits": self._edits, "deletes": self._deletes,
                "rate_limited_429": self._rate_limited, "limit_breaches": sum(self._breaches.values()),
                "breaches": dict(self._breaches), "faults_injected": self._faults_injected,
                "updates_created": self._updates_created, "pending_updates": len(self._updates),
                "per_chat": {str(chat_id): vars(stats).copy() for chat_id, stats in self._chat_stats.items()},
                "methods": dict(self._methods),
                "limits": vars(self.limits).copy(),
            }

    # -- user-side views -------------------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The newest event's sequence number."""
        with self._lock:
            return self._last_seq

    def events(self, chat_id: int, after_seq: int = 0) -> list[JSONDict]:
        """The chat's event log after ``after_seq``, oldest first."""
        with self._lock:
            return [dict(event) for event in self._events.get(chat_id, []) if event["seq"] > after_seq]

    def view(self, chat_id: int) -> JSONDict:
        """The chat as it looks now: every message's latest text and buttons, deleted ones flagged."""
        with self._lock:
            chat = self._chat(chat_id)
            messages = []
            for message_id in self._chat_messages.get(chat.id, []):
                message = self._messages[(chat.id, message_id)]
                item = self._message_event_fields(message)
                item.update(from_bot=message.from_id == BOT_SENDER,
                            from_id=self.bot_id if message.from_id == BOT_SENDER else message.from_id,
                            date=message.date, deleted=message.deleted, edited=message.edit_date is not None)
                messages.append(item)
            members = list(chat.members) if chat.is_group else [chat.id]
            chat_info = {**self._chat_api(chat), "member_ids": members, "admin_ids": sorted(chat.admins),
                         "creator_id": chat.creator_id}
            return {"chat": chat_info, "messages": messages, "last_seq": self._last_seq}

    def reset(self) -> None:
        """Forget users, chats, messages, polls, pending updates, statistics and faults.

        Id counters, the webhook, commands and allowed_updates stay: they belong to the running bot.
        """
        with self._lock:
            self._clear()
        self.notify()
