"""The telebot's engine: a session per chat game, its manager and store, and what it needs from the outside."""

from trivia_actors.session import texts
from trivia_actors.session.actor import GameSessionActor, SessionState
from trivia_actors.session.chat_settings import ChatSettings, SettingError
from trivia_actors.session.manager import SessionManagerActor
from trivia_actors.session.messages import (
    AnswerGiven,
    HintAsked,
    Player,
    PollAnswered,
    PollSent,
    ResultArrived,
    ScoreAsked,
    SkipAsked,
    StartGame,
    StopGame,
    TextGiven,
)
from trivia_actors.session.ports import (
    ApiAccepted,
    ApiRefused,
    Button,
    CommandSink,
    GameApi,
    Keyboard,
    OutboundOp,
    TelegramOutbox,
)
from trivia_actors.session.store import Claim, MarkSent, PurgeLedger, SaveChatSettings, SaveSession, SessionStoreActor

__all__ = [
    "AnswerGiven",
    "ApiAccepted",
    "ApiRefused",
    "Button",
    "ChatSettings",
    "Claim",
    "CommandSink",
    "GameApi",
    "GameSessionActor",
    "HintAsked",
    "Keyboard",
    "MarkSent",
    "OutboundOp",
    "Player",
    "PollAnswered",
    "PollSent",
    "PurgeLedger",
    "ResultArrived",
    "SaveChatSettings",
    "SaveSession",
    "ScoreAsked",
    "SessionManagerActor",
    "SessionState",
    "SessionStoreActor",
    "SettingError",
    "SkipAsked",
    "StartGame",
    "StopGame",
    "TelegramOutbox",
    "TextGiven",
    "texts",
]
