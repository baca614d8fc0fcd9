"""The telebot's client of the HTTP API: one ``httpx.AsyncClient`` on the bot's asyncio loop.

Callers (the session shards' threads) never wait: each call crosses into the loop and its outcome goes to the
caller's reply sink. Transient failures (connection errors, 429, 502, 503, 504) are retried under the same
Idempotency-Key, so a retry can never create a second game or a second answer; the wait between attempts is
a timer of the process's timer service, not a sleep. Calls of one game reach the API in the order they were
made: one in flight per game, the others queued behind it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import attrs
import httpx

from schema.events import (
    ENVELOPE_VERSION,
    RESULT_TYPES,
    Envelope,
    EventDecodeError,
    RequestFailed,
    from_dict,
    now_rfc3339,
    result_event_id,
)
from trivia_actors.rules import RequestState
from trivia_actors.session import ApiAccepted, ApiRefused, ApiReply, ApiReplySink, ApiSettled

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0  # beyond the ?wait= the call asked for


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled (``trivia_actors.runtime.timers.TimerHandle``)."""

    def cancel(self) -> None: ...


class Timers(Protocol):
    """The part of the process's timer service the client uses (``trivia_actors.runtime.timers``)."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle: ...


@attrs.define(eq=False)
class _Call:
    """One call on a player's behalf, with its retry state (touched only on the loop after it is made)."""

    kind: str
    path: str
    subject: str
    key: str
    body: dict[str, Any] | None
    reply: ApiReplySink
    wait_s: float
    deadline: float
    game_id: str | None = None  # None for a create: it has no game yet, nor a queue
    chat_id: int | None = None
    question_no: int | None = None
    delay: float = FIRST_DELAY_S
    attempts: int = 0
    last: ApiRefused | None = None

    def refused(self, status: int, code: str, message: str) -> ApiRefused:
        return ApiRefused(kind=self.kind, status=status, code=code, message=message, key=self.key)


@attrs.frozen
class _Outcome:
    """An attempt's result: final (``retry_after`` None), or worth another attempt after at least that long."""

    reply: ApiReply
    retry_after: float | None = None


class HttpGameApi:
    """Implements :class:`trivia_actors.session.ports.GameApi` with an async HTTP client living on ``loop``.

    Every method returns at once, from any thread. ``timers`` schedules the retries; ``clock`` is the
    monotonic clock the give-up deadline is measured on.
    """

    def __init__(self, base_url: str, token: str, *, loop: asyncio.AbstractEventLoop, timers: Timers,
                 give_up_after_s: float = 30.0, max_connections: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loop = loop
        self._timers = timers
        self._clock = clock
        self.give_up_after_s = give_up_after_s
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
        # Loop-only state: no lock. A game's entry exists while one of its calls is in flight; it holds the
        # calls waiting behind that one and goes when the queue drains.
        self._lanes: dict[str, collections.deque[_Call]] = {}
        self._retrying: dict[_Call, TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- GameApi ------------------------------------------------------------------------------------------

    def create_game(self, *, chat_id: int, subject: str, name: str, telegram_id: int, options: dict[str, Any],
                    idempotency_key: str, reply: ApiReplySink, wait_s: float = 0.0) -> None:
        """POST /v1/games for the player, in chat ``chat_id``."""
        body: dict[str, Any] = {
            **options,
            "chat_id": chat_id,
            "player": {"subject": subject, "name": name[:64], "telegram_id": telegram_id},
        }
        self._submit(self._call("game.create", "/v1/games", subject, idempotency_key, body, reply, wait_s,
                                chat_id=chat_id))

    def submit_answer(self, *, game_id: str, subject: str, name: str, question_no: int, option: int | None,
                      text: str | None, idempotency_key: str, reply: ApiReplySink, wait_s: float = 0.0) -> None:
        """POST /v1/games/{game_id}/answers: an option, or typed text."""
        body: dict[str, Any] = {"question_no": question_no, "player_name": name[:64]}
        if option is not None:
            body["option"] = option
        else:
            body["text"] = text
        self._submit(self._call("answer.submit", f"/v1/games/{game_id}/answers", subject, idempotency_key, body,
                                reply, wait_s, game_id=game_id, question_no=question_no))

    def request_hint(self, *, game_id: str, subject: str, question_no: int, idempotency_key: str,
                     reply: ApiReplySink, wait_s: float = 0.0) -> None:
        """POST /v1/games/{game_id}/hints."""
        self._submit(self._call("hint.request", f"/v1/games/{game_id}/hints", subject, idempotency_key,
                                {"question_no": question_no}, reply, wait_s, game_id=game_id,
                                question_no=question_no))

    def finish_game(self, *, game_id: str, subject: str, idempotency_key: str, reply: ApiReplySink,
                    wait_s: float = 0.0) -> None:
        """POST /v1/games/{game_id}/finish."""
        self._submit(self._call("game.finish", f"/v1/games/{game_id}/finish", subject, idempotency_key, None,
                                reply, wait_s, game_id=game_id))

    # --- shutting down ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop on the loop: cancel pending retries and calls in flight (their replies are dropped: the shards
        stop first, and a restarted session recovers its calls), then close the connections."""
        if self._closed:
            return
        self._closed = True
        for handle in self._retrying.values():
            handle.cancel()
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        queued = sum(len(queue) for queue in self._lanes.values())
        if tasks or queued or self._retrying:
            logger.info("API client closing: %d calls in flight, %d retrying, %d queued dropped",
                        len(tasks), len(self._retrying), queued)
        self._retrying.clear()
        self._lanes.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    def stop(self, timeout: float = 5.0) -> None:
        """:meth:`close` from another thread, waiting up to ``timeout`` seconds (from the loop's own thread it
        only schedules the close: waiting there would block the loop)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._start_task(self.close())
        elif self._loop.is_closed():
            self._closed = True
        elif not self._loop.is_running():
            self._loop.run_until_complete(self.close())
        else:
            try:
                asyncio.run_coroutine_threadsafe(self.close(), self._loop).result(timeout)
            except TimeoutError:
                logger.warning("API client did not close within %.1fs", timeout)

    @property
    def open_lanes(self) -> int:
        """Games with a call in flight or queued (read it on the loop)."""
        return len(self._lanes)

    # --- on the caller's thread ---------------------------------------------------------------------------

    def _call(self, kind: str, path: str, subject: str, key: str, body: dict[str, Any] | None,
              reply: ApiReplySink, wait_s: float, *, game_id: str | None = None, chat_id: int | None = None,
              question_no: int | None = None) -> _Call:
        return _Call(kind=kind, path=path, subject=subject, key=key, body=body, reply=reply, wait_s=max(wait_s, 0.0),
                     deadline=self._clock() + self.give_up_after_s, game_id=game_id, chat_id=chat_id,
                     question_no=question_no)

    def _submit(self, call: _Call) -> None:
        # Calls from one thread are admitted in the order made: each crossing is one loop callback, run FIFO.
        admit = self._admit(call)
        try:
            asyncio.run_coroutine_threadsafe(admit, self._loop)
        except RuntimeError:  # the loop is closed: the process is stopping
            admit.close()
            logger.info("API %s %s dropped: the client's loop is closed", call.kind, call.path)

    # --- on the loop --------------------------------------------------------------------------------------

    async def _admit(self, call: _Call) -> None:
        if self._closed:
            logger.info("API %s %s dropped: the client is closed", call.kind, call.path)
            return
        if call.game_id is not None:
            queue = self._lanes.get(call.game_id)
            if queue is not None:
                queue.append(call)
                return
            self._lanes[call.game_id] = collections.deque()
        self._start_task(self._attempt(call))

    def _start_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, call: _Call) -> None:
        call.attempts += 1
        try:
            outcome = await self._exchange(call)
        except Exception:
            logger.exception("API %s %s (game %s): the call could not be made", call.kind, call.path, call.game_id)
            outcome = _Outcome(call.refused(0, "client_error", "the call to the game service could not be made"))
        if outcome.retry_after is not None and self._retry_later(call, outcome.retry_after):
            return
        self._finish(call, outcome.reply)

    async def _exchange(self, call: _Call) -> _Outcome:
        """One attempt: POST the call and read the reply."""
        params = {"wait": f"{call.wait_s:g}"} if call.wait_s > 0 else None
        timeout = httpx.Timeout(READ_TIMEOUT_S + call.wait_s, connect=CONNECT_TIMEOUT_S)
        try:
            response = await self._client.post(
                call.path, json=call.body, params=params, timeout=timeout,
                headers={"Idempotency-Key": call.key, "X-Player-Subject": call.subject},
            )
        except httpx.TransportError as exc:
            logger.warning("API %s %s (game %s) failed: %s", call.kind, call.path, call.game_id, type(exc).__name__)
            call.last = call.last or call.refused(0, "unreachable", "the game service is unreachable")
            return _Outcome(call.last, retry_after=0.0)
        if response.status_code == 202:
            return _Outcome(self._accepted(call, _json(response)))
        if response.status_code == 200:
            return _Outcome(self._settled(call, _json(response)))
        code, message = _error(response)
        call.last = call.refused(response.status_code, code, message)
        if response.status_code not in RETRY_STATUSES:
            return _Outcome(call.last)
        retry_after = response.headers.get("Retry-After", "")
        return _Outcome(call.last, retry_after=float(retry_after) if retry_after.isascii() and retry_after.isdigit()
                        else 0.0)

    def _accepted(self, call: _Call, body: Any) -> ApiReply:
        """A 202 (also when its body says the request has settled: the result comes as an event)."""
        request_id = body.get("request_id") if isinstance(body, dict) else None
        game_id = (body.get("game_id") if isinstance(body, dict) else None) or call.game_id
        if not isinstance(request_id, str) or not isinstance(game_id, str):
            logger.warning("API %s %s (game %s): a reply without request and game ids", call.kind, call.path,
                           call.game_id)
            return call.refused(502, "invalid_reply", "the game service gave an unreadable reply")
        return ApiAccepted(kind=call.kind, request_id=request_id, game_id=game_id, key=call.key)

    def _settled(self, call: _Call, view: Any) -> ApiReply:
        """A 200 under ``?wait=``: the settled request, as its result event; a view that cannot be read is taken
        as accepted (its result event comes from the broker as without ``wait``)."""
        try:
            event = settled_event(view, chat_id=call.chat_id, subject=call.subject, game_id=call.game_id,
                                  question_no=call.question_no)
        except (ValueError, TypeError) as exc:  # EventDecodeError is a ValueError
            logger.warning("API %s %s (game %s): unreadable settled reply (%s)", call.kind, call.path, call.game_id,
                           getattr(exc, "reason", type(exc).__name__))
            return self._accepted(call, view)
        return ApiSettled(kind=call.kind, request_id=event.request_id, event=event, key=call.key)

    def _retry_later(self, call: _Call, retry_after: float) -> bool:
        """Schedule the next attempt on the timer service; False when it would come after the deadline."""
        delay = max(call.delay * random.uniform(0.8, 1.2), retry_after)
        if self._closed or self._clock() + delay > call.deadline:
            logger.warning("API %s %s (game %s): giving up after %d attempts", call.kind, call.path, call.game_id,
                           call.attempts)
            return False
        call.delay = min(call.delay * 2, MAX_DELAY_S)
        try:
            self._retrying[call] = self._timers.call_later(delay, lambda: self._wake(call))
        except Exception:
            logger.exception("API %s %s (game %s): the retry could not be scheduled", call.kind, call.path,
                             call.game_id)
            self._retrying.pop(call, None)
            return False
        return True

    def _wake(self, call: _Call) -> None:
        """On the timer's thread: back to the loop for the next attempt."""
        try:
            self._loop.call_soon_threadsafe(self._resume, call)
        except RuntimeError:  # the loop is closed: the process is stopping
            logger.debug("API %s %s: retry dropped, the loop is closed", call.kind, call.path)

    def _resume(self, call: _Call) -> None:
        if self._retrying.pop(call, None) is not None:  # not cancelled by close()
            self._start_task(self._attempt(call))

    def _finish(self, call: _Call, reply: ApiReply) -> None:
        """Tell the caller, then let the game's next call go."""
        try:
            call.reply(reply)
        except Exception:  # the caller is gone (its shard stopped): nobody else wants this reply
            logger.debug("API %s %s (game %s): reply dropped", call.kind, call.path, call.game_id, exc_info=True)
        finally:
            self._advance(call)

    def _advance(self, call: _Call) -> None:
        if call.game_id is None or self._closed:
            return
        queue = self._lanes.get(call.game_id)
        if queue:
            self._start_task(self._attempt(queue.popleft()))
        else:
            self._lanes.pop(call.game_id, None)


def settled_event(view: Any, *, chat_id: int | None, subject: str, game_id: str | None = None,
                  question_no: int | None = None) -> Envelope:
    """The result event a settled request view stands for (``gateways.api.store.request_view``), with the id
    the worker gave it (``game_id`` when the view has none). A failed view becomes ``request.failed`` with the
    call's ``question_no``, as the worker sets it. Raises :class:`EventDecodeError` when the view is not a
    settled request."""
    if not isinstance(view, dict):
        raise EventDecodeError("view: expected an object")
    request_id = view.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise EventDecodeError("view.request_id: expected a non-empty string")
    status = view.get("status")
    if status == RequestState.FAILED:
        error = view.get("error")
        if not isinstance(error, dict):
            raise EventDecodeError("view.error: expected an object")
        event_type = RequestFailed.TYPE
        payload: dict[str, Any] = {"code": error.get("code"), "message": error.get("message"),
                                   "question_no": question_no}
    elif status == RequestState.DONE:
        result = view.get("result")
        if not isinstance(result, dict) or result.get("type") not in RESULT_TYPES:
            raise EventDecodeError("view.result: expected a result with a known type")
        event_type = result["type"]
        payload = {name: value for name, value in result.items() if name != "type"}
    else:
        raise EventDecodeError(f"view.status: {status!r} is not settled")
    return from_dict({
        "v": ENVELOPE_VERSION, "type": event_type, "event_id": result_event_id(request_id, event_type),
        "request_id": request_id, "game_id": view.get("game_id") or game_id, "chat_id": chat_id, "user_id": subject,
        "occurred_at": now_rfc3339(), "payload": payload,
    })


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(response: httpx.Response) -> tuple[str, str]:
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "error", f"HTTP {response.status_code}"
    return str(error.get("code", "error")), str(error.get("message", response.reason_phrase))
