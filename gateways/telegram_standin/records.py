"""The world's records: users, chats, messages, polls, callback queries and the webhook."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateways.telegram_standin.errors import JSONDict

# from_id of the bot's own messages: the bot's id follows the token in use, so it is resolved when rendered.
BOT_SENDER = 0


@dataclass
class UserRecord:
    """A Telegram user (never a bot: the bot is the world's own)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> JSONDict:
        """Telegram's User object."""
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


@dataclass
class ChatRecord:
    """A private chat (id == user id) or a group/supergroup (negative id) with members and admins."""

    id: int
    type: str
    title: str | None = None
    members: list[int] = field(default_factory=list)
    admins: set[int] = field(default_factory=set)
    creator_id: int | None = None
    bot_is_admin: bool = False
    started: bool = False  # private chats: the user has written to the bot, so the bot may write back

    @property
    def is_group(self) -> bool:
        """Group or supergroup."""
        return self.type in ("group", "supergroup")


@dataclass
class MessageRecord:
    """One message as the world keeps it, with the raw text the bot sent and its rendered form."""

    chat_id: int
    message_id: int
    from_id: int
    date: int
    raw_text: str | None = None
    text: str | None = None
    parse_mode: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    poll_id: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False


@dataclass
class PollRecord:
    """A poll sent by the bot, with every user's current vote."""

    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    type: str
    is_anonymous: bool
    allows_multiple_answers: bool
    allows_revoting: bool
    correct_option_ids: list[int]
    explanation: str | None
    open_period: int | None
    close_date: int | None
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)

    def persistent_id(self, index: int) -> str:
        """The option's persistent id (Bot API 9.6)."""
        return f"{self.id}-{index}"

    def closed(self, now: float) -> bool:
        """Closed by stopPoll or by its close date."""
        return self.is_closed or (self.close_date is not None and now >= self.close_date)

    def to_api(self) -> JSONDict:
        """Telegram's Poll object with the fields PTB 22.8 requires."""
        counts = [0] * len(self.options)
        for chosen in self.votes.values():
            for option in chosen:
                counts[option] += 1
        data: JSONDict = {
            "id": self.id, "question": self.question,
            "options": [{"text": text, "voter_count": counts[i], "persistent_id": self.persistent_id(i)}
                        for i, text in enumerate(self.options)],
            "total_voter_count": sum(1 for chosen in self.votes.values() if chosen),
            "is_closed": self.is_closed, "is_anonymous": self.is_anonymous, "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers, "allows_revoting": self.allows_revoting,
            "members_only": False,
        }
        if self.type == "quiz":
            # correct_option_ids, not the deprecated correct_option_id (PTB 22.8 warns on the latter).
            data["correct_option_ids"] = list(self.correct_option_ids)
        if self.explanation:
            data["explanation"] = self.explanation
        if self.open_period is not None:
            data["open_period"] = self.open_period
        if self.close_date is not None:
            data["close_date"] = self.close_date
        return data

    def summary(self) -> JSONDict:
        """The poll as the user-side event log shows it."""
        data = self.to_api()
        return {"id": self.id, "question": self.question, "options": list(self.options),
                "voter_counts": [option["voter_count"] for option in data["options"]], "type": self.type,
                "correct_option_ids": list(self.correct_option_ids), "is_closed": self.is_closed,
                "is_anonymous": self.is_anonymous, "allows_multiple_answers": self.allows_multiple_answers,
                "open_period": self.open_period, "close_date": self.close_date,
                "explanation": self.explanation}


@dataclass
class WebhookConfig:
    """The webhook set with setWebhook, plus its delivery health."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class CallbackRecord:
    """A callback query the bot has yet to answer (or has answered)."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    answered: bool = False

