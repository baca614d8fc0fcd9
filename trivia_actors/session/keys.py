"""Every key format of the telebot, built and parsed here only.

- Callback data of buttons (Telegram allows 64 bytes): ``a:<tag>:<question>:<option>`` answers a question,
  ``lb:<g|c>:<a|w>:<page>`` turns a leaderboard page.
- Message keys, which name a message within its chat so it can be edited (and sent once): a game's messages
  start with its tag (``<tag>:q:<n>`` a question, ``<tag>:p:<n>`` its quiz poll, ``<tag>:summary``, ...),
  replies to an update carry the update id (``prep:<update>``, ``cmd:<update>``, ...).
- Idempotency keys of API calls (``tg-play:``, ``tg-answer:``, ``tg-text:``, ``tg-hint:``, ``tg-stop:``,
  ``tg-idle:``) and of the timeout command (``timeout:``): the same decision always makes the same key, so a
  call made again can never apply twice.
- Claims of processed updates (``tg-update:``, ``tg-reply:``) and the outbound ledger's de-duplication key.
"""

from __future__ import annotations

import enum
import hashlib
import re
from typing import ClassVar

import attrs

from trivia_actors.session.ports import OpKind, OutboundOp

# A game's messages before the API named the game (only the "preparing" reply and a refusal go out then).
NO_TAG = "new"


def game_tag(game_id: str) -> str:
    """The short tag of a game in its buttons and message keys (8 hex digits)."""
    return game_id.replace("-", "")[:8]


# --- callback data -----------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AnswerCallback:
    """An answer button: option ``option`` of question ``question_no`` of game ``game_tag``."""

    PREFIX: ClassVar[str] = "a:"
    _PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"a:([0-9a-f]{8}):(\d{1,3}):(\d)")

    game_tag: str
    question_no: int
    option: int

    def build(self) -> str:
        """The callback data (well under 64 bytes)."""
        return f"{self.PREFIX}{self.game_tag}:{self.question_no}:{self.option}"

    @classmethod
    def parse(cls, data: str) -> AnswerCallback | None:
        """The button behind ``data``, or None when it is not (or no longer) one of ours."""
        match = cls._PATTERN.fullmatch(data)
        if match is None:
            return None
        return cls(game_tag=match[1], question_no=int(match[2]), option=int(match[3]))


@attrs.frozen(kw_only=True)
class LeaderboardCallback:
    """A leaderboard page button: this chat's board or everyone's, this week or all time."""

    PREFIX: ClassVar[str] = "lb:"
    _PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"lb:([gc]):([aw]):(\d{1,3})")

    chat_only: bool
    weekly: bool
    page: int

    def build(self) -> str:
        """The callback data."""
        return f"{self.PREFIX}{'c' if self.chat_only else 'g'}:{'w' if self.weekly else 'a'}:{self.page}"

    @classmethod
    def parse(cls, data: str) -> LeaderboardCallback | None:
        """The page behind ``data``, or None when it is not one of ours."""
        match = cls._PATTERN.fullmatch(data)
        if match is None:
            return None
        return cls(chat_only=match[1] == "c", weekly=match[2] == "w", page=int(match[3]))


# --- message keys ------------------------------------------------------------------------------------------


def question_key(tag: str, question_no: int) -> str:
    """A question's message, edited into its reveal when the question closes."""
    return f"{tag}:q:{question_no}"


@attrs.frozen(kw_only=True)
class PollKey:
    """A question's quiz poll; poll answers carry only the poll id, which maps back to this key."""

    _SEPARATOR: ClassVar[str] = ":p:"

    game_tag: str
    question_no: int

    def build(self) -> str:
        """The message key."""
        return f"{self.game_tag}{self._SEPARATOR}{self.question_no}"

    @classmethod
    def parse(cls, key: str) -> PollKey | None:
        """The poll behind a message key, or None when the key is not a poll's."""
        tag, _, number = key.partition(cls._SEPARATOR)
        if not (number.isascii() and number.isdigit()):
            return None
        return cls(game_tag=tag, question_no=int(number))


def reveal_key(tag: str, question_no: int) -> str:
    """A poll question's reveal (a poll cannot be edited into text, so it is a message of its own)."""
    return f"{tag}:r:{question_no}"


def hint_key(tag: str, question_no: int, hints_used: int) -> str:
    """The ``hints_used``-th hint of a question."""
    return f"{tag}:hint:{question_no}:{hints_used}"


def close_key(tag: str, question_no: int, event_tag: str) -> str:
    """A "close, try again" reply, one per result event."""
    return f"{tag}:close:{question_no}:{event_tag}"


def failed_key(tag: str, question_no: int, event_tag: str) -> str:
    """An answer the worker could not take, one per result event."""
    return f"{tag}:failed:{question_no}:{event_tag}"


class Notice(enum.StrEnum):
    """A game's one-off messages, keyed ``<tag>:<notice>``."""

    IDLE = "idle"  # a game nobody answers was stopped
    STOPPED = "stopped"
    SUMMARY = "summary"


def notice_key(tag: str, notice: Notice) -> str:
    """A game's one-off message."""
    return f"{tag}:{notice}"


class Reply(enum.StrEnum):
    """Replies keyed by the update they answer, ``<reply>:<update>``: one reply per update, however often the
    update is delivered."""

    PREPARING = "prep"  # /play, while the game is created
    SCORE = "score"  # /score
    STOP_REFUSED = "stop-refused"  # /stop or /skip by someone who may not
    BUSY = "busy"  # /play while a game runs
    NO_GAME = "nogame"  # a game command with no game running
    COMMAND = "cmd"  # a command outside a game (/start, /help, /leaderboard, ...)


def reply_key(reply: Reply, update_id: int) -> str:
    """The reply to an update."""
    return f"{reply}:{update_id}"


def start_failed_key(cause: str) -> str:
    """A game that could not start, keyed by what refused it (the /play's call key, or the failure event), so
    that every refused /play of a chat is answered (the ledger sends a key once per chat)."""
    return f"start-failed:{cause}"


def answer_failed_key(question_no: int, call_key: str) -> str:
    """The API refused the answer whose idempotency key is ``call_key``."""
    return f"answer-failed:{question_no}:{call_key[-12:]}"


# --- idempotency keys --------------------------------------------------------------------------------------


def play_key(chat_id: int, update_id: int) -> str:
    """Creating the game of a /play."""
    return f"tg-play:{chat_id}:{update_id}"


def answer_key(game_id: str, question_no: int, telegram_id: int) -> str:
    """A button answer: one per player and question, however often they tap."""
    return f"tg-answer:{game_id}:{question_no}:{telegram_id}"


def text_key(chat_id: int, update_id: int) -> str:
    """A typed answer: one per message."""
    return f"tg-text:{chat_id}:{update_id}"


def hint_request_key(chat_id: int, update_id: int) -> str:
    """A /hint."""
    return f"tg-hint:{chat_id}:{update_id}"


def stop_key(game_id: str) -> str:
    """Finishing a game on /stop: once per game."""
    return f"tg-stop:{game_id}"


def idle_stop_key(game_id: str) -> str:
    """Finishing a game nobody answers: once per game."""
    return f"tg-idle:{game_id}"


def timeout_key(game_id: str, question_no: int) -> str:
    """The timeout command of a question (sent by the session itself, not through the API)."""
    return f"timeout:{game_id}:{question_no}"


# --- claims and the ledger ---------------------------------------------------------------------------------


def update_claim(update_id: int) -> str:
    """A game update (a /play, or a game command without a game) handled once."""
    return f"tg-update:{update_id}"


def reply_claim(update_id: int) -> str:
    """A command answered once."""
    return f"tg-reply:{update_id}"


def ledger_key(op: OutboundOp) -> str:
    """The outbound ledger's unique key: a send (or poll) per message key, an edit per key and content, so the
    same edit decided twice is made once."""
    if op.kind in {OpKind.SEND, OpKind.POLL}:
        return f"{op.chat_id}:{op.kind}:{op.key}"
    digest = hashlib.sha256(f"{op.text}\x1f{op.keyboard!r}".encode()).hexdigest()[:24]
    return f"{op.chat_id}:edit:{op.key}:{digest}"[:300]
