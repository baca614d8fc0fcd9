"""The small interfaces the session actors need from the outside world; gateways implement them."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs


@attrs.frozen(kw_only=True)
class Button:
    """An inline keyboard button: a label and its callback data (at most 64 bytes)."""

    text: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


class OpKind(enum.StrEnum):
    """What a Telegram call does."""

    SEND = "send"
    EDIT = "edit"
    POLL = "poll"  # a native quiz poll


@attrs.frozen(kw_only=True)
class OutboundOp:
    """One Telegram call: send a message, or edit the message sent earlier under the same ``key``.

    ``key`` names a message within its chat so a session can edit it without knowing Telegram's message id;
    ``ledger_id`` is the op's row in the durable outbound ledger (None when there is no ledger).
    """

    kind: OpKind = attrs.field(converter=OpKind)
    chat_id: int
    key: str
    text: str
    keyboard: Keyboard = ()
    ledger_id: int | None = None
    options: tuple[str, ...] = ()  # poll: the options
    correct_option: int | None = None  # poll: a quiz poll's correct option
    open_period: int | None = None  # poll: seconds it stays open


class TelegramOutbox(Protocol):
    """Delivers ops in order per chat, within Telegram's limits, dropping none."""

    def deliver(self, ops: Sequence[OutboundOp]) -> None: ...

    def remember(self, message_ids: Mapping[tuple[int, str], int]) -> None:
        """Telegram's ids of messages sent before (by chat and key), so that later edits find them."""


class ResultCompletion(Protocol):
    """How the session reports that it has handled a result event (the Kafka bridge's completion fits)."""

    def done(self) -> None: ...

    def fail(self, reason: str, *, retryable: bool = True) -> None: ...


class CommandSink(Protocol):
    """Commands the session emits on its own (not on a player's request), such as a question timing out."""

    def question_timed_out(self, *, game_id: str, chat_id: int, subject: str, question_no: int) -> None: ...


class ApiReplySink(Protocol):
    """Where a :class:`GameApi` reports a call's outcome: ``messages.ApiAccepted``, ``ApiRefused`` or
    ``ApiSettled``. Called from any thread, once per call; it must not block (it tells an actor)."""

    def __call__(self, reply: Any, /) -> None: ...


class GameApi(Protocol):
    """Commands to the HTTP API on a player's behalf. Every method returns at once (it never blocks the
    caller); transient failures are retried with the same idempotency key, then ``reply`` gets the outcome.
    With ``wait_s`` > 0 the call asks the API to wait that long for the settled outcome (``?wait=``), which
    then comes back as ``ApiSettled``: how a result whose event was lost is recovered."""

    def create_game(self, *, chat_id: int, subject: str, name: str, telegram_id: int, options: dict[str, Any],
                    idempotency_key: str, reply: ApiReplySink, wait_s: float = 0.0) -> None: ...

    def submit_answer(self, *, game_id: str, subject: str, name: str, question_no: int, option: int | None,
                      text: str | None, idempotency_key: str, reply: ApiReplySink, wait_s: float = 0.0) -> None: ...

    def request_hint(self, *, game_id: str, subject: str, question_no: int, idempotency_key: str,
                     reply: ApiReplySink, wait_s: float = 0.0) -> None: ...

    def finish_game(self, *, game_id: str, subject: str, idempotency_key: str, reply: ApiReplySink,
                    wait_s: float = 0.0) -> None: ...
