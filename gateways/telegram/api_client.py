"""The telebot's client of the HTTP API: a small pool of actors calling it with a service token.

Transient failures (connection refused, 429, 503) are retried with backoff under the same Idempotency-Key,
so a retry can never create a second game or a second answer.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import zlib
from typing import Any

import attrs
import pykka
import requests

from trivia_actors.session import ApiAccepted, ApiRefused

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@attrs.frozen(kw_only=True)
class ApiCall:
    """One API call to make on a player's behalf."""

    kind: str
    method: str
    path: str
    subject: str
    idempotency_key: str
    body: dict[str, Any] | None
    reply_to: pykka.ActorRef[Any]


class ApiClientActor(pykka.ThreadingActor):
    """Makes API calls with retries and tells the caller the outcome."""

    def __init__(self, base_url: str, token: str, *, give_up_after_s: float = 30.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.give_up_after_s = give_up_after_s
        self.session: requests.Session | None = None

    def on_start(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self._token}"

    def on_stop(self) -> None:
        if self.session is not None:
            self.session.close()

    def on_receive(self, message: Any) -> None:
        if isinstance(message, ApiCall):
            message.reply_to.tell(self._call(message))

    def _call(self, call: ApiCall) -> ApiAccepted | ApiRefused:
        assert self.session is not None
        deadline = time.monotonic() + self.give_up_after_s
        delay = 0.2
        last = ApiRefused(kind=call.kind, status=0, code="unreachable", message="the game service is unreachable",
                          key=call.idempotency_key)
        while True:
            try:
                response = self.session.request(
                    call.method, f"{self.base_url}{call.path}", json=call.body, timeout=(3, 10),
                    headers={"Idempotency-Key": call.idempotency_key, "X-Player-Subject": call.subject},
                )
            except requests.RequestException as exc:
                logger.warning("API %s %s failed: %s", call.method, call.path, type(exc).__name__)
            else:
                if response.status_code == 202:
                    body = response.json()
                    return ApiAccepted(kind=call.kind, request_id=body["request_id"], game_id=body["game_id"],
                                       key=call.idempotency_key)
                error = _error(response)
                last = ApiRefused(kind=call.kind, status=response.status_code, code=error[0], message=error[1],
                                  key=call.idempotency_key)
                if response.status_code not in RETRY_STATUSES:
                    return last
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isascii() and retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            if time.monotonic() + delay > deadline:
                return last
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 5.0)


def _error(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "error")), str(error.get("message", response.reason))
    except ValueError:
        return "error", f"HTTP {response.status_code}"


class HttpGameApi:
    """Implements :class:`trivia_actors.session.ports.GameApi` over a pool of :class:`ApiClientActor`."""

    def __init__(self, base_url: str, token: str, *, pool_size: int = 8) -> None:
        self.actors = [ApiClientActor.start(base_url, token) for _ in range(pool_size)]
        self._next = itertools.cycle(range(pool_size))
        self._lock = threading.Lock()

    def _tell(self, call: ApiCall) -> None:
        # Calls of one game go to one actor so they reach the API in the order they were made.
        route = call.path.split("/")[3] if call.path.count("/") >= 3 else call.idempotency_key
        index = zlib.crc32(route.encode()) % len(self.actors)
        self.actors[index].tell(call)

    def create_game(self, *, chat_id: int, subject: str, name: str, telegram_id: int, options: dict[str, Any],
                    idempotency_key: str, reply_to: pykka.ActorRef[Any]) -> None:
        body: dict[str, Any] = {
            **options,
            "chat_id": chat_id,
            "player": {"subject": subject, "name": name[:64], "telegram_id": telegram_id},
        }
        self._tell(ApiCall(kind="game.create", method="POST", path="/v1/games", subject=subject,
                           idempotency_key=idempotency_key, body=body, reply_to=reply_to))

    def submit_answer(self, *, game_id: str, subject: str, name: str, question_no: int, option: int | None,
                      text: str | None, idempotency_key: str, reply_to: pykka.ActorRef[Any]) -> None:
        body: dict[str, Any] = {"question_no": question_no, "player_name": name[:64]}
        if option is not None:
            body["option"] = option
        else:
            body["text"] = text
        self._tell(ApiCall(kind="answer.submit", method="POST", path=f"/v1/games/{game_id}/answers", subject=subject,
                           idempotency_key=idempotency_key, body=body, reply_to=reply_to))

    def request_hint(self, *, game_id: str, subject: str, question_no: int, idempotency_key: str,
                     reply_to: pykka.ActorRef[Any]) -> None:
        self._tell(ApiCall(kind="hint.request", method="POST", path=f"/v1/games/{game_id}/hints", subject=subject,
                           idempotency_key=idempotency_key, body={"question_no": question_no}, reply_to=reply_to))

    def finish_game(self, *, game_id: str, subject: str, idempotency_key: str, reply_to: pykka.ActorRef[Any]) -> None:
        self._tell(ApiCall(kind="game.finish", method="POST", path=f"/v1/games/{game_id}/finish", subject=subject,
                           idempotency_key=idempotency_key, body=None, reply_to=reply_to))

    def stop(self) -> None:
        """Stop the pool."""
        for actor in self.actors:
            actor.stop(timeout=5)
