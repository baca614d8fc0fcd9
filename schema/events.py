"""Kafka events: the versioned JSON envelope of DESIGN.md section 4 and one frozen payload class per type.

``encode`` and ``decode`` are the only (de)serialisers. ``decode`` is strict (unknown version, unknown type,
missing or ill-typed or unknown fields) and raises :class:`EventDecodeError` with a reason that the consumer
puts on the dead-letter topic; it never raises anything else, whatever the bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import types
import typing
import uuid
from typing import Any, ClassVar, Union

import attrs

ENVELOPE_VERSION = 1
MAX_EVENT_BYTES = 1_000_000


class EventDecodeError(ValueError):
    """Bytes that are not a valid event of a known version and type; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def now_rfc3339() -> str:
    """The current UTC time in RFC 3339 with milliseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str) -> dt.datetime:
    """An aware datetime from an RFC 3339 string (``Z`` or an offset)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a UTC offset")
    return parsed


# The namespace of result event ids: a result's id is derived from its request and type, so a replayed command
# yields the same event, and a client rebuilding a result from the API's settled reply gets the same id.
RESULT_NAMESPACE = uuid.UUID("6f2b0c1e-7d1a-4d0b-9a55-3c1f6e0b2a10")


def result_event_id(request_id: str, event_type: str) -> str:
    """The event id of the result of type ``event_type`` for request ``request_id``."""
    return str(uuid.uuid5(RESULT_NAMESPACE, f"{request_id}:{event_type}"))


def new_id() -> str:
    """A fresh random UUID as text."""
    return str(uuid.uuid4())


# --- payloads: commands (trivia.commands) -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class GameCreate:
    """Start a game for a player (``subject``) of an API client."""

    TYPE: ClassVar[str] = "game.create"
    client_id: str
    subject: str
    player_name: str
    telegram_id: int | None = None
    mode: str = "solo"
    category: str | None = None
    difficulty: str | None = None
    question_count: int = 5
    time_limit_s: float = 30.0
    topic: str | None = None
    answer_mode: str = "first"  # group games: "first" correct answer wins, or "all" correct answers score
    streak_enabled: bool = True
    speed_points: bool = True  # Kahoot-style speed points; off: every correct answer earns full marks
    difficulty_weighted: bool = True
    hint_penalty_pct: int = 25  # points lost per hint, in percent of the question's points
    question_type: str = "buttons"  # buttons | text | poll (a quiz poll needs the correct option up front)


@attrs.frozen(kw_only=True)
class AnswerSubmit:
    """A player's answer to question ``question_no`` (0-based): an option index or typed text."""

    TYPE: ClassVar[str] = "answer.submit"
    client_id: str
    subject: str
    question_no: int
    idempotency_key: str
    option: int | None = None
    text: str | None = None
    player_name: str = ""


@attrs.frozen(kw_only=True)
class HintRequest:
    """A player asks for a hint on ``question_no``."""

    TYPE: ClassVar[str] = "hint.request"
    client_id: str
    subject: str
    question_no: int
    idempotency_key: str


@attrs.frozen(kw_only=True)
class QuestionTimeout:
    """The time for ``question_no`` ran out (sent by the session that owns the timer)."""

    TYPE: ClassVar[str] = "question.timeout"
    client_id: str
    subject: str
    question_no: int


@attrs.frozen(kw_only=True)
class GameFinish:
    """End the game early (``reason``: stopped, idle, ...)."""

    TYPE: ClassVar[str] = "game.finish"
    client_id: str
    subject: str
    reason: str = "stopped"


# --- payloads: results (trivia.results) -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class QuestionView:
    """A question as a player sees it: no correct answer inside."""

    no: int
    text: str
    options: tuple[str, ...]
    category: str
    difficulty: str
    correct_option: int | None = None  # only for quiz-poll games, whose polls must carry it


@attrs.frozen(kw_only=True)
class GameCreated:
    """The game exists and its questions are chosen."""

    TYPE: ClassVar[str] = "game.created"
    question_count: int
    time_limit_s: float
    questions: tuple[QuestionView, ...]


@attrs.frozen(kw_only=True)
class ScoreLine:
    """One player's standing in a game."""

    subject: str
    name: str
    score: int


@attrs.frozen(kw_only=True)
class GameSummary:
    """The final account of a game."""

    status: str
    score: int
    correct_count: int
    question_count: int
    best_streak: int
    scoreboard: tuple[ScoreLine, ...] = ()


@attrs.frozen(kw_only=True)
class AnswerEvaluated:
    """The authoritative verdict and points for one answer, and what comes next."""

    TYPE: ClassVar[str] = "answer.evaluated"
    question_no: int
    verdict: str
    correct_answer: str
    correct_option: int | None
    given: str
    points: int
    score: int
    streak: int
    latency_ms: int | None
    explanation: str
    judged_by: str
    next_question_no: int | None
    summary: GameSummary | None = None
    player: str | None = None
    player_name: str = ""
    closed: bool = True  # False in a group game while the question stays open for other players
    scoreboard: tuple[ScoreLine, ...] = ()
    reason: str = ""  # why the judge decided so ("typo (1 edit)", DeepSeek's one-line reason, ...)


@attrs.frozen(kw_only=True)
class HintCreated:
    """A hint for the open question; each hint used lowers that question's points."""

    TYPE: ClassVar[str] = "hint.created"
    question_no: int
    hint: str
    hints_used: int


@attrs.frozen(kw_only=True)
class GameFinished:
    """The game ended (finished, stopped or timed out)."""

    TYPE: ClassVar[str] = "game.finished"
    summary: GameSummary


@attrs.frozen(kw_only=True)
class RequestFailed:
    """A command could not be carried out; ``code`` is machine-readable, ``message`` for people."""

    TYPE: ClassVar[str] = "request.failed"
    code: str
    message: str
    question_no: int | None = None


Payload = Union[  # noqa: UP007 - a runtime union of classes, used for isinstance and typing alike
    GameCreate,
    AnswerSubmit,
    HintRequest,
    QuestionTimeout,
    GameFinish,
    GameCreated,
    AnswerEvaluated,
    HintCreated,
    GameFinished,
    RequestFailed,
]
PAYLOAD_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (
        GameCreate,
        AnswerSubmit,
        HintRequest,
        QuestionTimeout,
        GameFinish,
        GameCreated,
        AnswerEvaluated,
        HintCreated,
        GameFinished,
        RequestFailed,
    )
}
COMMAND_TYPES = frozenset({"game.create", "answer.submit", "hint.request", "question.timeout", "game.finish"})
RESULT_TYPES = frozenset(PAYLOAD_TYPES) - COMMAND_TYPES


@attrs.frozen(kw_only=True)
class Envelope:
    """One event on the wire: the version-1 envelope around a typed payload."""

    event_id: str = attrs.field(factory=new_id)
    request_id: str
    game_id: str
    chat_id: int | None = None
    user_id: str | None = None
    occurred_at: str = attrs.field(factory=now_rfc3339)
    payload: Payload

    @property
    def type(self) -> str:
        """The event type, taken from the payload class."""
        return str(self.payload.TYPE)


# --- codec ------------------------------------------------------------------------------------------


def _to_jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, tuple | list):
        return [_to_jsonable(v) for v in value]
    return value


def to_dict(envelope: Envelope) -> dict[str, Any]:
    """The envelope as the JSON object of DESIGN.md section 4."""
    return {
        "v": ENVELOPE_VERSION,
        "type": envelope.type,
        "event_id": envelope.event_id,
        "request_id": envelope.request_id,
        "game_id": envelope.game_id,
        "chat_id": envelope.chat_id,
        "user_id": envelope.user_id,
        "occurred_at": envelope.occurred_at,
        "payload": _to_jsonable(envelope.payload),
    }


def encode(envelope: Envelope) -> bytes:
    """UTF-8 JSON bytes of the envelope."""
    return json.dumps(to_dict(envelope), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_HINTS_CACHE: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS_CACHE.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS_CACHE[cls] = hints
    return hints


def _check(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        errors = []
        for option in typing.get_args(hint):
            try:
                return _check(value, option, path)
            except EventDecodeError as exc:
                errors.append(exc.reason)
        raise EventDecodeError(f"{path}: {errors[-1].split(': ', 1)[-1]}")
    if hint is type(None):
        if value is not None:
            raise EventDecodeError(f"{path}: expected null")
        return None
    if origin is tuple:
        if not isinstance(value, list):
            raise EventDecodeError(f"{path}: expected a list")
        item_hint = typing.get_args(hint)[0]
        return tuple(_check(v, item_hint, f"{path}[{i}]") for i, v in enumerate(value))
    if attrs.has(hint):
        return _build(hint, value, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise EventDecodeError(f"{path}: expected a boolean")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EventDecodeError(f"{path}: expected an integer")
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise EventDecodeError(f"{path}: expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise EventDecodeError(f"{path}: expected a string")
        return value
    raise EventDecodeError(f"{path}: unsupported field type")  # pragma: no cover - a programming error


def _build(cls: type[Any], data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise EventDecodeError(f"{path}: expected an object")
    hints = _hints(cls)
    names = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise EventDecodeError(f"{path}: unknown field {unknown[0]!r}")
    kwargs: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name not in data:
            if field.default is attrs.NOTHING:
                raise EventDecodeError(f"{path}.{field.name}: missing")
            continue
        kwargs[field.name] = _check(data[field.name], hints[field.name], f"{path}.{field.name}")
    return cls(**kwargs)


_ENVELOPE_FIELDS = ("v", "type", "event_id", "request_id", "game_id", "chat_id", "user_id", "occurred_at", "payload")


def from_dict(document: Any) -> Envelope:
    """Validate a decoded JSON document and build the :class:`Envelope`."""
    if not isinstance(document, dict):
        raise EventDecodeError("envelope: expected a JSON object")
    version = document.get("v")
    if version != ENVELOPE_VERSION:
        raise EventDecodeError(f"envelope: unsupported version {version!r}")
    event_type = document.get("type")
    payload_cls = PAYLOAD_TYPES.get(event_type) if isinstance(event_type, str) else None
    if payload_cls is None:
        raise EventDecodeError(f"envelope: unknown type {event_type!r}")
    unknown = sorted(set(document) - set(_ENVELOPE_FIELDS))
    if unknown:
        raise EventDecodeError(f"envelope: unknown field {unknown[0]!r}")
    for name in ("event_id", "request_id", "game_id", "occurred_at"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise EventDecodeError(f"envelope.{name}: expected a non-empty string")
    try:
        parse_rfc3339(document["occurred_at"])
    except ValueError:
        raise EventDecodeError("envelope.occurred_at: not an RFC 3339 timestamp") from None
    chat_id = document.get("chat_id")
    if chat_id is not None and (not isinstance(chat_id, int) or isinstance(chat_id, bool)):
        raise EventDecodeError("envelope.chat_id: expected an integer or null")
    user_id = document.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise EventDecodeError("envelope.user_id: expected a string or null")
    payload = _build(payload_cls, document.get("payload"), "payload")
    return Envelope(
        event_id=document["event_id"],
        request_id=document["request_id"],
        game_id=document["game_id"],
        chat_id=chat_id,
        user_id=user_id,
        occurred_at=document["occurred_at"],
        payload=payload,
    )


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def decode(raw: bytes | None) -> Envelope:
    """Parse event bytes; raise :class:`EventDecodeError` (and only that) when they are not valid."""
    if raw is None:
        raise EventDecodeError("empty message (tombstone)")
    if len(raw) > MAX_EVENT_BYTES:
        raise EventDecodeError(f"event of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EventDecodeError("not valid UTF-8") from None
    try:
        # Strict JSON: NaN, Infinity and numbers that overflow a float are refused, not turned into inf/nan.
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # incl. integers over Python's 4,300-digit limit
        raise EventDecodeError(f"not valid JSON: {type(exc).__name__}") from None
    try:
        return from_dict(document)
    except EventDecodeError:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise EventDecodeError(f"invalid event: {type(exc).__name__}") from None
