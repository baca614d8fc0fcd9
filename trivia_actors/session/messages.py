"""Every message of the telebot's actors: Telegram input routed to sessions, replies of the API, results from the
worker, the sessions' own timers, and the queries and commands of the manager and the store."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from schema.events import Envelope
from trivia_actors.rules import AnswerMode, Difficulty, GameMode, Phase, QuestionType
from trivia_actors.session.ports import OutboundOp, ResultCompletion


def optional_difficulty(value: str | None) -> Difficulty | None:
    """A difficulty from its name; None means any."""
    return None if value is None else Difficulty(value)


def _plain(value: str | None) -> str | None:
    """An enum's value as a plain string, for JSON documents."""
    return None if value is None else str(value)


@attrs.frozen(kw_only=True)
class Player:
    """A Telegram user as the session knows them."""

    telegram_id: int
    name: str
    language: str = "en"

    @property
    def subject(self) -> str:
        """The platform-wide identity of this player."""
        return f"tg:{self.telegram_id}"


# --- Telegram input, routed by the manager to the chat's session ------------------------------------------


@attrs.frozen(kw_only=True)
class GameOptions:
    """The options of a game asked of the API on /play."""

    question_count: int
    category: str | None = None
    mode: GameMode = attrs.field(default=GameMode.SOLO, converter=GameMode)
    difficulty: Difficulty | None = attrs.field(default=None, converter=optional_difficulty)
    time_limit_s: float | None = None
    answer_mode: AnswerMode = attrs.field(default=AnswerMode.FIRST, converter=AnswerMode)
    streak_enabled: bool = True
    speed_points: bool = True
    difficulty_weighted: bool = True
    hint_penalty_pct: int = 25
    topic: str | None = None
    question_type: QuestionType = attrs.field(default=QuestionType.BUTTONS, converter=QuestionType)

    def to_document(self) -> dict[str, Any]:
        """The API's game options (unset ones left out), also as snapshotted."""
        document = {
            "category": self.category, "question_count": self.question_count, "mode": _plain(self.mode),
            "difficulty": _plain(self.difficulty), "time_limit_s": self.time_limit_s,
            "answer_mode": _plain(self.answer_mode), "streak_enabled": self.streak_enabled,
            "speed_points": self.speed_points, "difficulty_weighted": self.difficulty_weighted,
            "hint_penalty_pct": self.hint_penalty_pct, "topic": self.topic,
            "question_type": _plain(self.question_type),
        }
        return {name: value for name, value in document.items() if value is not None}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> GameOptions:
        """Options from :meth:`to_document`."""
        return cls(**document)


@attrs.frozen(kw_only=True)
class StartGame:
    """/play in a chat, with the chat's settings resolved into the game's options."""

    chat_id: int
    player: Player
    update_id: int
    options: GameOptions
    idle_limit: int = 3  # stop after this many questions in a row that nobody answered (0: never)


@attrs.frozen(kw_only=True)
class HintAsked:
    """/hint during a game."""

    chat_id: int
    player: Player
    update_id: int


@attrs.frozen(kw_only=True)
class SkipAsked:
    """/skip: reveal the open question and move on (in groups: the starter or an admin)."""

    chat_id: int
    player: Player
    update_id: int
    is_admin: bool = False


@attrs.frozen(kw_only=True)
class ScoreAsked:
    """/score during a game."""

    chat_id: int
    player: Player
    update_id: int


@attrs.frozen(kw_only=True)
class StopGame:
    """/stop in a chat (in groups: the starter or a chat admin)."""

    chat_id: int
    player: Player
    update_id: int
    is_admin: bool = False


@attrs.frozen(kw_only=True)
class AnswerGiven:
    """A player tapped option ``option`` of question ``question_no`` (button of game ``game_tag``)."""

    chat_id: int
    player: Player
    game_tag: str
    question_no: int
    option: int
    update_id: int


@attrs.frozen(kw_only=True)
class TextGiven:
    """A player typed a message while a game runs in the chat: a typed answer to the open question."""

    chat_id: int
    player: Player
    text: str
    update_id: int


@attrs.frozen(kw_only=True)
class PollSent:
    """Telegram created quiz poll ``poll_id`` for the message ``key`` in ``chat_id``."""

    chat_id: int
    key: str
    poll_id: str


@attrs.frozen(kw_only=True)
class PollAnswered:
    """A player answered a quiz poll (poll answers carry no chat: the poll id says which game)."""

    poll_id: str
    player: Player
    option_ids: tuple[int, ...]
    update_id: int


# --- the API's replies and the worker's results -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ApiAccepted:
    """The API accepted a command (202); ``kind`` is the command's event type (``schema.events``)."""

    kind: str
    request_id: str
    game_id: str
    key: str = ""


@attrs.frozen(kw_only=True)
class ApiRefused:
    """The API refused a command or stayed unreachable after retries."""

    kind: str
    status: int
    code: str
    message: str
    key: str = ""


@attrs.frozen(kw_only=True)
class ApiSettled:
    """The API answered a call with its settled outcome (``?wait=``): ``event`` is the result the worker
    published for it, rebuilt from the reply (same event id, so a copy from the broker is recognised)."""

    kind: str
    request_id: str
    event: Envelope
    key: str = ""


ApiReply = ApiAccepted | ApiRefused | ApiSettled


@attrs.frozen(kw_only=True)
class ResultArrived:
    """A result event from ``trivia.results``; ``completion`` is settled once it has been handled."""

    event: Envelope
    completion: ResultCompletion


# --- a session shard's own messages -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ApiReplied:
    """The API's reply to a call a session of chat ``chat_id`` made (told to the chat's shard by the client)."""

    chat_id: int
    reply: ApiReply


@attrs.frozen(kw_only=True)
class TimersDue:
    """The timer service's batch for a shard: these chats' sessions are due (their deadline, their result
    watchdog, or a retry of waking them)."""

    chat_ids: tuple[int, ...]


@attrs.frozen(kw_only=True)
class Sweep:
    """Time for a shard's housekeeping: put idle sessions to sleep, purge the ledger now and then."""


@attrs.frozen(kw_only=True)
class GetState:
    """The reply is a copy of the live session's :class:`~trivia_actors.session.state.SessionState` in chat
    ``chat_id``, or None when the chat has no live session."""

    chat_id: int


class SessionKind(enum.StrEnum):
    """A chat's session is live (in its shard's memory) or passive (asleep: only its snapshot and wake time)."""

    LIVE = "live"
    PASSIVE = "passive"


@attrs.frozen(kw_only=True)
class ListChats:
    """The reply is the sorted ids of the chats whose session is ``kind``."""

    kind: SessionKind = SessionKind.LIVE


# --- the store: commands -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MarkSent:
    """Telegram accepted ledger op ``ledger_id`` (a send returns the message id)."""

    ledger_id: int
    message_id: int | None
    poll_id: str | None = None


@attrs.frozen(kw_only=True)
class SaveChatSettings:
    """Store a chat's settings document."""

    chat_id: int
    settings: dict[str, Any]


@attrs.frozen(kw_only=True)
class Claim:
    """Claim a processed-message key (a Telegram update id); the reply is True only the first time."""

    key: str


@attrs.frozen(kw_only=True)
class PurgeLedger:
    """Forget what is older than ``older_than``: calls Telegram accepted, and claimed update and event ids.

    Pending calls are never purged. Telegram keeps an unconfirmed update for 24 hours and our topics keep
    events for days, so a week-old claim can no longer meet its update or event again. The reply is the
    number of rows deleted; at most ``batch`` of each kind go per message, so the ledger is never locked long.
    """

    older_than: dt.timedelta
    batch: int = 5000


# --- the store: queries --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LoadSessions:
    """The reply is the snapshot of every unfinished session, by chat id."""


@attrs.frozen(kw_only=True)
class LoadSession:
    """The reply is the snapshot of the chat's session, or None when it has none or its game is over."""

    chat_id: int


@attrs.frozen(kw_only=True)
class LoadPending:
    """The reply is every op decided but not yet confirmed sent, in the order decided."""


@attrs.frozen(kw_only=True)
class LoadMessageIds:
    """The reply maps (chat, message key) to Telegram's message id, for the messages sent in these chats."""

    chat_ids: tuple[int, ...]


@attrs.frozen(kw_only=True)
class LoadPolls:
    """The reply maps poll id to (chat, message key) for the polls sent in these chats: poll answers carry no
    chat."""

    chat_ids: tuple[int, ...]


@attrs.frozen(kw_only=True)
class LoadChatSettings:
    """The reply is the chat's settings document, or None."""

    chat_id: int


# --- the session store's batched writes (group commit) -------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionWrite:
    """One chat's new snapshot and the Telegram calls it decided, within a shard's group commit.

    ``wake_at`` is when the session must be woken if nothing else comes (its question's deadline or its result
    watchdog; None when nothing is due): a restart schedules dormant sessions from it without reading snapshots.
    """

    chat_id: int
    game_id: str | None
    phase: Phase
    snapshot: dict[str, Any]
    wake_at: float | None
    ops: tuple[OutboundOp, ...] = ()


@attrs.frozen(kw_only=True)
class SaveSessions:
    """Write every ``SessionWrite`` in one transaction with multi-row statements. The reply is a tuple aligned
    with ``writes``: for each, the ops that were new to the ledger, with their ``ledger_id`` (an op already in
    the ledger, by its dedupe key, is not returned: it was decided, and sent or queued, before)."""

    writes: tuple[SessionWrite, ...]


@attrs.frozen(kw_only=True)
class LoadSchedule:
    """Every unfinished session as ``(chat_id, wake_at)``, without its snapshot: what a restart needs to
    schedule dormant sessions."""


@attrs.frozen(kw_only=True)
class SentMark:
    """Telegram accepted ledger row ``ledger_id`` as message ``message_id`` (and poll ``poll_id``)."""

    ledger_id: int
    message_id: int | None
    poll_id: str | None = None


@attrs.frozen(kw_only=True)
class MarkSentMany:
    """Mark several ledger rows sent in one statement (told; the outbox batches its marks)."""

    marks: tuple[SentMark, ...]
