"""API mode: virtual players as an API client's players, over keep-alive HTTP connections (asyncio; the lean
client of :mod:`gateways.simulate.http` by default, httpx on request).

Each player (``X-Player-Id: sim-<run>-<n>``) loops: create a game, long-poll its questions, then per
question think, maybe ask a hint, answer (option or typed text, right or wrong on purpose) with an
Idempotency-Key and long-poll the verdict. Steps recorded: ``create``/``created`` (game), ``submit`` (POST
answer -> 202), ``result`` (POST answer -> verdict, through the long poll), ``hint``.
Transient refusals (429, 503) are retried with the same Idempotency-Key after Retry-After, as the API asks
of its clients, and each one is counted as an error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from typing import Any, TypeGuard

from gateways.simulate.http import HttpClient, HttpResponse, HttpTimeout, HttpTransportError, make_client
from gateways.simulate.players import AnswerKey, Budget, Limits, Mix, Pacer
from gateways.simulate.report import Recorder
from trivia_actors.rules import SETTLED, QuestionType, RequestState

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 4
POLL_WAIT_S = 10.0


class RunFailed(RuntimeError):
    """The run could not start (unreachable API, refused credentials)."""


class TokenHolder:
    """The client's access token, fetched again shortly before it expires (or after a 401)."""

    def __init__(self, http: HttpClient, credentials: dict[str, str]) -> None:
        self.http = http
        self.credentials = credentials
        self.token = ""
        self.expires_at = 0.0
        self._lock = asyncio.Lock()

    async def header(self) -> str:
        """``Bearer <token>``, refreshed when less than a minute (or a fifth of its life) is left."""
        if time.monotonic() >= self.expires_at:
            await self.refresh(stale=self.token)
        return f"Bearer {self.token}"

    async def refresh(self, *, stale: str) -> None:
        """Fetch a new token unless another player already replaced ``stale``."""
        async with self._lock:
            if self.token != stale and time.monotonic() < self.expires_at:
                return
            try:
                response = await self.http.request("POST", "/v1/auth/token",
                                                   data={"grant_type": "client_credentials", **self.credentials})
            except (HttpTimeout, HttpTransportError) as exc:
                raise RunFailed(f"cannot reach the API for a token: {exc}") from exc
            if response.status_code != 200:
                raise RunFailed(f"token refused: HTTP {response.status_code} {_error_code(response)}")
            body = response.json()
            self.token = body["access_token"]
            lifetime = float(body.get("expires_in", 900))
            self.expires_at = time.monotonic() + max(lifetime - max(60.0, lifetime / 5), lifetime / 2)


def _error_code(response: HttpResponse) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class ApiSimulation:
    """Runs ``players`` virtual players against the API at ``base_url`` until the limits are reached."""

    def __init__(self, base_url: str, credentials: dict[str, str], *, players: int, mix: Mix, limits: Limits,
                 recorder: Recorder, key: AnswerKey | None = None, seed: int | None = None,
                 result_timeout_s: float = 30.0, http_timeout_s: float = 30.0, http_client: str = "lean",
                 submit_wait_s: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.players = players
        self.mix = mix
        self.limits = limits
        self.recorder = recorder
        self.key = key or AnswerKey()
        self.seed = random.randrange(2**31) if seed is None else seed
        self.result_timeout_s = result_timeout_s
        self.http_timeout_s = http_timeout_s
        self.http_client = http_client
        # > 0: each command asks the API to wait that long for its outcome (``?wait=``), saving the poll.
        self.submit_wait_s = submit_wait_s
        self.run_id = uuid.uuid4().hex[:8]
        self.budget = Budget(limits)
        self.pacer = Pacer(limits.rate)
        self.http: HttpClient | None = None
        self.tokens: TokenHolder | None = None

    async def run(self) -> None:
        """Get a token, then play until the budget is spent."""
        http = make_client(self.http_client, self.base_url, timeout_s=self.http_timeout_s + POLL_WAIT_S,
                           connections=self.players + 8)
        self.http = http
        try:
            self.tokens = TokenHolder(http, self.credentials)
            await self.tokens.refresh(stale="")
            self.budget = Budget(self.limits)
            self.recorder.started = self.recorder.clock()
            try:
                await asyncio.gather(*(self._player(n) for n in range(self.players)))
            finally:
                self.recorder.finish()
        finally:
            await http.aclose()

    # --- HTTP -------------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, headers: dict[str, str], *,
                       json: dict[str, Any] | None = None, params: dict[str, Any] | None = None
                       ) -> HttpResponse | None:
        """One API call with the documented retries; None after a transport error (counted)."""
        assert self.http is not None and self.tokens is not None
        for attempt in range(MAX_ATTEMPTS):
            authorization = await self.tokens.header()
            self.recorder.count("requests")
            try:
                response = await self.http.request(method, path, json=json, params=params,
                                                   headers={**headers, "Authorization": authorization})
            except HttpTimeout:
                self.recorder.error("http_timeout")
                return None
            except HttpTransportError:
                self.recorder.error("http_transport")
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 401 and attempt == 0:
                self.recorder.error("http_401")
                await self.tokens.refresh(stale=authorization.removeprefix("Bearer "))
                continue
            if response.status_code in RETRYABLE and attempt < MAX_ATTEMPTS - 1:
                self.recorder.error(f"http_{response.status_code}")
                retry_after = response.headers.get("retry-after", "")
                await asyncio.sleep(min(float(retry_after), 5.0) if retry_after.isdigit() else 0.5)
                continue
            return response
        return None

    async def _accepted(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any] | None:
        """POST a command: its 202 body, or with ``submit_wait_s`` possibly its settled request (200)."""
        params = {"wait": f"{self.submit_wait_s:g}"} if self.submit_wait_s > 0 else None
        response = await self._request("POST", path, headers, json=body, params=params)
        if response is None:
            return None
        if response.status_code not in {200, 202}:
            self.recorder.error(f"http_{response.status_code}:{_error_code(response)}")
            return None
        accepted: dict[str, Any] = response.json()
        return accepted

    def _done(self, outcome: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
        """True if ``outcome`` is a command done; a failed one is counted by its code (None was counted already)."""
        if outcome is None:
            return False
        if outcome["status"] != RequestState.DONE:
            self.recorder.error(f"failed:{(outcome.get('error') or {}).get('code', 'unknown')}")
            return False
        return True

    async def _settled(self, accepted: dict[str, Any], headers: dict[str, str]) -> dict[str, Any] | None:
        """The command's outcome: already in hand when the POST waited for it, else long-polled."""
        if accepted.get("status") in SETTLED:
            return accepted
        return await self._outcome(accepted["request_id"], headers)

    async def _outcome(self, request_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
        """Long-poll the request until it is done or failed; None (counted) when it never settles."""
        deadline = time.monotonic() + self.result_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.recorder.error("result_timeout")
                return None
            response = await self._request("GET", f"/v1/requests/{request_id}", headers,
                                           params={"wait": f"{min(remaining, POLL_WAIT_S):.1f}"})
            if response is None:
                return None
            if response.status_code != 200:
                self.recorder.error(f"http_{response.status_code}:{_error_code(response)}")
                return None
            body: dict[str, Any] = response.json()
            if body["status"] in SETTLED:
                return body

    # --- players ----------------------------------------------------------------------------------------

    async def _player(self, number: int) -> None:
        rng = random.Random(self.seed * 7919 + number)
        player_id = f"sim-{self.run_id}-{number}"
        games = 0
        # Players start spread over the first think time, not all in the same millisecond.
        await asyncio.sleep(self.mix.think(rng) * rng.random())
        while self.budget.take_game():
            games += 1
            try:
                await self._game(player_id, games, rng)
            except (ValueError, KeyError, TypeError) as exc:  # a malformed reply: count it, keep playing
                self.recorder.error(f"bad_reply:{type(exc).__name__}")
                logger.warning("player %s: malformed reply: %s", player_id, exc)

    async def _game(self, player_id: str, number: int, rng: random.Random) -> None:
        headers = {"X-Player-Id": player_id}
        typed = rng.random() < self.mix.text_fraction
        body: dict[str, Any] = {"question_count": self.mix.question_count,
                                "question_type": (QuestionType.TEXT if typed else QuestionType.BUTTONS).value}
        if self.mix.category:
            body["category"] = self.mix.category
        self.recorder.count("games_started")
        started = time.monotonic()
        accepted = await self._accepted("/v1/games", {**headers, "Idempotency-Key": f"{player_id}-g{number}"}, body)
        if accepted is None:
            return
        if accepted.get("status") not in SETTLED:
            self.recorder.record("create", time.monotonic() - started, at=started)
        outcome = await self._settled(accepted, headers)
        if not self._done(outcome):
            return
        self.recorder.record("created", time.monotonic() - started, at=started)
        game_id = accepted["game_id"]
        for question in outcome["result"]["questions"]:
            if self.budget.expired:
                self.recorder.count("games_abandoned")
                return
            result = await self._question(game_id, player_id, question, typed, rng)
            if result is None:
                self.recorder.count("games_broken")
                return
            if result.get("next_question_no") is None:
                self.recorder.count("games_finished")
                return

    async def _question(self, game_id: str, player_id: str, question: dict[str, Any], typed: bool,
                        rng: random.Random) -> dict[str, Any] | None:
        headers = {"X-Player-Id": player_id}
        no = int(question["no"])
        pause = self.mix.think(rng)
        if pause:
            await asyncio.sleep(pause)
        if self.mix.hint_rate and rng.random() < self.mix.hint_rate:
            await self._hint(game_id, headers, no)
        wrong = rng.random() < self.mix.wrong_rate
        for attempt in range(3):
            body: dict[str, Any] = {"question_no": no}
            if typed:
                body["text"], expected = self.key.pick_text(question["text"], wrong=wrong, rng=rng)
            else:
                body["option"], expected = self.key.pick_option(question["text"], list(question["options"]),
                                                                wrong=wrong, rng=rng)
            await self.pacer.slot()
            started = time.monotonic()
            accepted = await self._accepted(f"/v1/games/{game_id}/answers",
                                            {**headers, "Idempotency-Key": f"{game_id}:{no}:{attempt}"}, body)
            if accepted is None:
                return None
            if accepted.get("status") not in SETTLED:
                self.recorder.record("submit", time.monotonic() - started, at=started)
            outcome = await self._settled(accepted, headers)
            if not self._done(outcome):
                return None
            self.recorder.record("result", time.monotonic() - started, at=started)
            self.recorder.count("answers")
            result: dict[str, Any] = outcome["result"]
            verdict = str(result.get("verdict"))
            self.recorder.count(f"verdict_{verdict}")
            if verdict == "close":
                wrong = False  # a near miss leaves the question open: answer again, rightly this time
                continue
            if expected is not None and verdict in {"correct", "incorrect"} and (verdict == "correct") != expected:
                self.recorder.error("verdict_mismatch")
            return result
        return None

    async def _hint(self, game_id: str, headers: dict[str, str], no: int) -> None:
        started = time.monotonic()
        accepted = await self._accepted(f"/v1/games/{game_id}/hints",
                                        {**headers, "Idempotency-Key": f"{game_id}:{no}:hint"}, {"question_no": no})
        if accepted is None:
            return
        outcome = await self._settled(accepted, headers)
        if not self._done(outcome):
            return
        self.recorder.record("hint", time.monotonic() - started, at=started)
        self.recorder.count("hints")
