"""Messages of the telebot's actors: Telegram input routed to sessions, and results from the worker."""

from __future__ import annotations

import attrs

from schema.events import Envelope
from trivia_actors.kafka import Completion


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


@attrs.frozen(kw_only=True)
class StartGame:
    """/play in a chat, with the chat's settings resolved."""

    chat_id: int
    player: Player
    category: str | None
    question_count: int
    update_id: int
    mode: str = "solo"
    question_type: str = "buttons"
    difficulty: str | None = None
    time_limit_s: float | None = None
    answer_mode: str = "first"
    streak_enabled: bool = True
    speed_points: bool = True
    difficulty_weighted: bool = True
    hint_penalty_pct: int = 25
    topic: str | None = None
    idle_limit: int = 3


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


@attrs.frozen(kw_only=True)
class QuestionTimedOut:
    """The session's own timer for question ``question_no`` of ``game_id`` ran out (stale ones are ignored)."""

    game_id: str
    question_no: int


@attrs.frozen(kw_only=True)
class ResultOverdue:
    """The session's watchdog: no result came for the accepted call ``key`` in time (stale ones are ignored)."""

    key: str


@attrs.frozen(kw_only=True)
class StopGame:
    """/stop in a chat (in groups: the starter or a chat admin)."""

    chat_id: int
    player: Player
    update_id: int
    is_admin: bool = False


@attrs.frozen(kw_only=True)
class ResultArrived:
    """A result event from ``trivia.results``; ``completion`` is settled once it has been handled."""

    event: Envelope
    completion: Completion


@attrs.frozen(kw_only=True)
class SessionEnded:
    """A session finished its game and may be stopped."""

    chat_id: int
    game_id: str | None
