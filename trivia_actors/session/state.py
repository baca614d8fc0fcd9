"""What a session knows about its game, and its snapshot: a versioned JSON document saved after every message.

A snapshot is what a restarted (or woken) session resumes from, so its format is durable: version 2 is the one
written since group play; a change of shape gets a new version and a reader for each older one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from schema.events import QuestionView
from trivia_actors.rules import CallKind, GameMode, Phase, QuestionType, Turn
from trivia_actors.session.messages import GameOptions, Player

SNAPSHOT_VERSION = 2


class SnapshotError(ValueError):
    """A snapshot this code cannot read (a version it does not know)."""


@attrs.frozen(kw_only=True)
class PendingCall:
    """A call the session made and that must survive a restart: an API call until the API accepted it, and the
    call (or timeout command) whose result the session then awaits. The same key makes it again safely."""

    kind: CallKind = attrs.field(converter=CallKind)
    key: str
    options: GameOptions | None = None  # CREATE
    game_id: str | None = None  # every kind but CREATE
    question_no: int | None = None  # ANSWER, HINT and TIMEOUT
    subject: str | None = None  # the player it is for: ANSWER's, or the starter for HINT and FINISH
    name: str = ""  # ANSWER: the player's name
    option: int | None = None  # ANSWER by button
    text: str | None = None  # ANSWER typed

    def to_document(self) -> dict[str, Any]:
        """The call as snapshotted (version 2: only the fields of its kind)."""
        match self.kind:
            case CallKind.CREATE:
                options = self.options.to_document() if self.options is not None else {}
                return {"kind": str(self.kind), "options": options, "key": self.key}
            case CallKind.ANSWER:
                return {"kind": str(self.kind), "game_id": self.game_id, "question_no": self.question_no,
                        "option": self.option, "text": self.text, "key": self.key, "subject": self.subject,
                        "name": self.name}
            case CallKind.HINT:
                return {"kind": str(self.kind), "game_id": self.game_id, "question_no": self.question_no,
                        "key": self.key, "subject": self.subject}
            case CallKind.FINISH:
                return {"kind": str(self.kind), "game_id": self.game_id, "key": self.key, "subject": self.subject}
            case CallKind.TIMEOUT:
                return {"kind": str(self.kind), "key": self.key, "game_id": self.game_id,
                        "question_no": self.question_no}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PendingCall:
        """A call from :meth:`to_document` (extra fields, such as an awaited call's ``since``, are not its)."""
        names = {field.name for field in attrs.fields(cls)}
        values = {name: value for name, value in document.items() if name in names}
        if values.get("options") is not None:
            values["options"] = GameOptions.from_document(values["options"])
        return cls(**values)


@attrs.frozen(kw_only=True)
class Awaiting:
    """The accepted call whose result the session waits for, and since when (epoch seconds): its watchdog makes
    the call again when no result comes."""

    call: PendingCall
    since: float

    def to_document(self) -> dict[str, Any]:
        """Version 2 keeps the call's fields and ``since`` side by side."""
        return {**self.call.to_document(), "since": self.since}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Awaiting:
        """An awaited call from :meth:`to_document`."""
        return cls(call=PendingCall.from_document(document), since=float(document["since"]))


def _board(lines: Iterable[Sequence[Any]]) -> list[tuple[str, int]]:
    """Scoreboard lines as (name, score) pairs (a snapshot holds them as JSON arrays)."""
    return [(str(name), int(score)) for name, score in lines]


@attrs.define
class SessionState:
    """What a session knows about its game; plain data, so it can be snapshotted and restored."""

    chat_id: int
    player: Player  # who started the game (the only player of a solo game)
    phase: Phase = attrs.field(default=Phase.CREATING, converter=Phase)
    mode: GameMode = attrs.field(default=GameMode.SOLO, converter=GameMode)
    question_type: QuestionType = attrs.field(default=QuestionType.BUTTONS, converter=QuestionType)
    game_id: str | None = None
    game_tag: str = ""
    category: str | None = None
    questions: list[QuestionView] = attrs.field(factory=list)
    current_no: int = 0
    score: int = 0
    time_limit_s: float = 30.0
    deadline: float | None = None  # wall-clock (epoch seconds) end of the open question
    answered: list[int] = attrs.field(factory=list)  # group: who answered the open question
    idle_timeouts: int = 0  # questions in a row that nobody answered
    idle_limit: int = 3
    scoreboard: list[tuple[str, int]] = attrs.field(factory=list, converter=_board)  # group: best first
    handled_events: list[str] = attrs.field(factory=list)
    pending_calls: dict[str, PendingCall] = attrs.field(factory=dict)  # by key; re-made after a restart
    awaiting: Awaiting | None = None

    @property
    def is_group(self) -> bool:
        """True for a game that every member of a group chat can play."""
        return self.mode == GameMode.GROUP

    def turn(self) -> Turn:
        """Where the game stands, for the flow decisions."""
        return Turn(phase=self.phase, game_id=self.game_id, game_tag=self.game_tag, question_no=self.current_no,
                    group=self.is_group, starter=self.player.telegram_id, answered=tuple(self.answered))

    def to_snapshot(self) -> dict[str, Any]:
        """The state as a JSON-ready document (the current version)."""
        return {
            "chat_id": self.chat_id,
            "player": attrs.asdict(self.player),
            "phase": str(self.phase),
            "mode": str(self.mode),
            "question_type": str(self.question_type),
            "game_id": self.game_id,
            "game_tag": self.game_tag,
            "category": self.category,
            "questions": [{**attrs.asdict(q), "options": list(q.options)} for q in self.questions],
            "current_no": self.current_no,
            "score": self.score,
            "time_limit_s": self.time_limit_s,
            "deadline": self.deadline,
            "answered": list(self.answered),
            "idle_timeouts": self.idle_timeouts,
            "idle_limit": self.idle_limit,
            "scoreboard": [[name, score] for name, score in self.scoreboard],
            "handled_events": list(self.handled_events),
            "pending_calls": {key: call.to_document() for key, call in self.pending_calls.items()},
            "awaiting": None if self.awaiting is None else self.awaiting.to_document(),
            "v": SNAPSHOT_VERSION,
        }

    @classmethod
    def from_snapshot(cls, document: dict[str, Any]) -> SessionState:
        """Rebuild the state saved by :meth:`to_snapshot`, of this version or an older one it can read."""
        version = document.get("v")
        if version != SNAPSHOT_VERSION:
            raise SnapshotError(f"session snapshot version {version!r} is not readable (this code reads "
                                f"version {SNAPSHOT_VERSION})")
        values = {name: value for name, value in document.items() if name != "v"}
        values["player"] = Player(**document["player"])
        values["questions"] = [QuestionView(**{**q, "options": tuple(q["options"])}) for q in document["questions"]]
        values["pending_calls"] = {key: PendingCall.from_document(call)
                                   for key, call in document.get("pending_calls", {}).items()}
        awaiting = document.get("awaiting")
        values["awaiting"] = None if awaiting is None else Awaiting.from_document(awaiting)
        return cls(**values)
