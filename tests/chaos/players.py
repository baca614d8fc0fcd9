"""Players of the fault suite: an API client and a Telegram user, each patient as a real one.

They retry what a well-behaved client retries (connection errors, 502/503/504, with the same Idempotency-Key)
and record what the platform acknowledged, so the checks can tell a lost answer from one never given.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from typing import Any

import attrs
import requests

from gateways.simulate.players import AnswerKey
from gateways.telegram_standin import StandinClient
from schema.bank import load_bank
from trivia_actors.rules import SETTLED, Verdict, judge

RETRYABLE = {502, 503, 504}
THINK_S = (0.2, 0.6)  # seconds a player takes to answer
RESEND_PENDING_S = 15.0  # a request pending this long is sent again with its key (docs/api.md)
TRY_AGAIN = "again in a minute"  # the bot could not start the game now (a dependency down) and says so


class PlayerGaveUp(RuntimeError):
    """The platform did not answer within the player's patience (the run counts the game as broken)."""


@attrs.define
class ApiAnswer:
    """One answer the API accepted (202) and what became of it."""

    question_no: int
    request_id: str
    status: str = "pending"
    verdict: str | None = None


@attrs.define
class ApiGame:
    player_id: str
    game_id: str | None = None
    answers: list[ApiAnswer] = attrs.Factory(list)
    finished: bool = False
    error: str | None = None


@attrs.define
class TelegramGame:
    chat_id: int
    question_count: int
    clicks: int = 0
    replays: int = 0  # /play sent again after the bot asked to try again
    finished: bool = False
    error: str | None = None


class ApiPlayer:
    """Plays one API game: typed answers (half of them misspelt, so DeepSeek judges) or option picks."""

    def __init__(self, base_url: str, credentials: dict[str, str], player_id: str, *, typed: bool,
                 rng: random.Random, key: AnswerKey, aliases: dict[str, tuple[str, ...]],
                 patience_s: float = 240.0) -> None:
        self.base = base_url
        self.aliases = aliases
        self.credentials = credentials
        self.player_id = player_id
        self.typed = typed
        self.rng = rng
        self.key = key
        self.patience_s = patience_s
        self.session = requests.Session()
        self.session.trust_env = False
        self._token: str | None = None

    def play(self, question_count: int) -> ApiGame:
        record = ApiGame(self.player_id)
        try:
            self._play(record, question_count)
        except PlayerGaveUp as exc:
            record.error = str(exc)
        finally:
            self.session.close()
        return record

    def _play(self, record: ApiGame, question_count: int) -> None:
        body = {"question_count": question_count, "question_type": "text" if self.typed else "buttons"}
        accepted = self._post("/v1/games", body, f"{self.player_id}-game")
        record.game_id = accepted["game_id"]
        created = self._settle(accepted, lambda: self._post("/v1/games", body, f"{self.player_id}-game"))
        if created["status"] != "done":
            raise PlayerGaveUp(f"game creation {created['status']}: {created.get('error')}")
        for question in created["result"]["questions"]:
            result = self._answer(record, question)
            if result.get("next_question_no") is None:
                record.finished = True
                return

    def _answer(self, record: ApiGame, question: dict[str, Any]) -> dict[str, Any]:
        no = int(question["no"])
        time.sleep(self.rng.uniform(*THINK_S))  # a player reads the question
        answer = self.key.answer(question["text"])
        near = _near_miss(answer, self.aliases.get(question["text"].strip(), ())) if answer else None
        for attempt in range(3):
            body: dict[str, Any] = {"question_no": no}
            if self.typed and answer:
                # First a near miss (the local judge says "close", DeepSeek decides), then the answer itself.
                body["text"] = near if attempt == 0 and near else answer
            else:
                options = list(question.get("options") or [])
                body["option"] = options.index(answer) if answer in options else self.rng.randrange(len(options))
            path, key = f"/v1/games/{record.game_id}/answers", f"{record.game_id}:{no}:{attempt}"
            accepted = self._post(path, body, key)
            entry = ApiAnswer(no, accepted["request_id"])
            record.answers.append(entry)
            outcome = self._settle(accepted, lambda path=path, body=body, key=key: self._post(path, body, key))
            entry.status = outcome["status"]
            if outcome["status"] != "done":
                raise PlayerGaveUp(f"answer {no} {outcome['status']}: {outcome.get('error')}")
            result: dict[str, Any] = outcome["result"]
            entry.verdict = str(result.get("verdict"))
            if entry.verdict != "close":
                return result
        raise PlayerGaveUp(f"question {no} still open after three answers")

    # --- HTTP with a real client's patience -----------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self._request("POST", "/v1/auth/token", data={"grant_type": "client_credentials",
                                                                      **self.credentials}, auth=False)
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}", "X-Player-Id": self.player_id}

    def _request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + self.patience_s
        last = "no attempt"
        extra = kwargs.pop("extra_headers", {})
        while time.monotonic() < deadline:
            headers = {**(self._headers() if auth else {}), **extra}
            try:
                response = self.session.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)
            except requests.RequestException as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 401 and auth:
                    self._token = None
                    last = "401"
                elif response.status_code in RETRYABLE:
                    last = str(response.status_code)
                elif response.status_code >= 400:
                    raise PlayerGaveUp(f"{method} {path}: {response.status_code} {response.text[:300]}")
                else:
                    return response
            time.sleep(0.3)
        raise PlayerGaveUp(f"{method} {path}: no answer within {self.patience_s:g}s (last: {last})")

    def _post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        response = self._request("POST", f"{path}?wait=5", json=body, extra_headers={"Idempotency-Key": key})
        accepted: dict[str, Any] = response.json()
        return accepted

    def _settle(self, accepted: dict[str, Any], resend: Any) -> dict[str, Any]:
        """Long-poll the request; as the API asks, send it again (same key) while it stays pending."""
        if accepted.get("status") in SETTLED and not _refused_by_broker(accepted):
            return accepted
        deadline = time.monotonic() + self.patience_s
        sent = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() - sent > RESEND_PENDING_S:
                again = resend()
                if again.get("status") in SETTLED and not _refused_by_broker(again):
                    return again
                sent = time.monotonic()
            body: dict[str, Any] = self._request("GET", f"/v1/requests/{accepted['request_id']}?wait=5").json()
            if _refused_by_broker(body):
                sent = 0.0  # the broker refused it (the 503 another call got): send it again now
            elif body["status"] in SETTLED:
                return body
        raise PlayerGaveUp(f"request {accepted['request_id']} not settled within {self.patience_s:g}s")


def _refused_by_broker(view: dict[str, Any]) -> bool:
    return view.get("status") == "failed" and (view.get("error") or {}).get("code") == "broker_unavailable"


def _near_miss(answer: str, aliases: tuple[str, ...]) -> str | None:
    """A wrong spelling the local judge calls "close" (so DeepSeek is asked), or None (one bank answer in ten)."""
    candidates = (answer[:-3] + "xy" + answer[-1:], answer[:-2], answer.rsplit(maxsplit=1)[-1], answer[:-1] + "zz",
                  "x" + answer[1:-1] + "x", answer[: len(answer) // 2])
    for candidate in candidates:
        if candidate.strip() and candidate != answer and judge(candidate, answer, aliases).verdict is Verdict.CLOSE:
            return candidate
    return None


class TelegramPlayer:
    """A Telegram user who plays ``/play N`` in their private chat by pressing buttons."""

    def __init__(self, standin: StandinClient, name: str, *, rng: random.Random, patience_s: float = 240.0) -> None:
        self.standin = standin
        self.name = name
        self.rng = rng
        self.patience_s = patience_s

    def play(self, question_count: int) -> TelegramGame:
        chat = int(self._retry(lambda: self.standin.create_user(self.name))["id"])
        record = TelegramGame(chat, question_count)
        try:
            self._play(record)
        except (TimeoutError, PlayerGaveUp) as exc:
            record.error = str(exc).splitlines()[0][:300]
        return record

    def _start(self, record: TelegramGame) -> None:
        """Send /play until the first question comes: told to try again, a patient player does (sooner here)."""
        chat, first = record.chat_id, f"Question 1/{record.question_count}"
        deadline = time.monotonic() + self.patience_s
        seq = 0
        while True:
            self._retry(lambda: self.standin.send_text(chat, f"/play {record.question_count}"))
            reply = self.standin.wait_for(
                chat, lambda m: m["kind"] == "message" and any(t in (m.get("text") or "") for t in (first, TRY_AGAIN)),
                timeout=max(deadline - time.monotonic(), 0.0), after_seq=seq)
            if TRY_AGAIN not in (reply.get("text") or ""):
                return
            record.replays += 1
            seq = reply["seq"]
            time.sleep(self.rng.uniform(1.0, 3.0))  # the player's pause before trying again, not a wait for an event

    def _play(self, record: TelegramGame) -> None:
        chat = record.chat_id
        self._start(record)
        seq = 0
        for no in range(1, record.question_count + 1):
            question = self.standin.wait_for(
                chat, lambda m, no=no: m["kind"] == "message" and bool(m.get("buttons"))
                and f"Question {no}/{record.question_count}" in (m.get("text") or ""),
                timeout=self.patience_s, after_seq=seq)
            time.sleep(self.rng.uniform(*THINK_S))
            buttons = [b for row in question["buttons"] for b in row]
            choice = buttons[self.rng.randrange(len(buttons))]
            self._retry(functools.partial(self.standin.click, chat, chat, question["message_id"],
                                          choice["callback_data"]))
            record.clicks += 1
            seq = self.standin.wait_for(
                chat, lambda m, q=question: m["kind"] == "edit" and m["message_id"] == q["message_id"]
                and not m.get("buttons"), timeout=self.patience_s, after_seq=question["seq"])["seq"]
        self.standin.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=self.patience_s,
                              after_seq=seq)
        record.finished = True

    def _retry(self, call: Any) -> Any:
        deadline = time.monotonic() + 30
        while True:
            try:
                return call()
            except requests.RequestException as exc:
                if time.monotonic() > deadline:
                    raise PlayerGaveUp(f"stand-in unreachable: {type(exc).__name__}") from exc
                time.sleep(0.5)


def play_all(env_api_url: str, standin: StandinClient, credentials: dict[str, str], *, api_games: int,
             telegram_games: int, questions: int, seed: int, tag: str) -> tuple[list[ApiGame], list[TelegramGame]]:
    """Play the games side by side (one thread per game); return their records."""
    bank = load_bank()
    key = AnswerKey({q.text: q.answer for q in bank})
    aliases = {q.text: q.aliases for q in bank}
    api: list[ApiGame] = []
    telegram: list[TelegramGame] = []
    lock = threading.Lock()

    def api_game(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        player = ApiPlayer(env_api_url, credentials, f"{tag}-api-{n}", typed=n % 2 == 0, rng=rng, key=key,
                           aliases=aliases)
        record = player.play(questions)
        with lock:
            api.append(record)

    def telegram_game(n: int) -> None:
        rng = random.Random(seed * 1000 + 500 + n)
        record = TelegramPlayer(standin, f"{tag} player {n}", rng=rng).play(questions)
        with lock:
            telegram.append(record)

    threads = [threading.Thread(target=api_game, args=(n,), daemon=True) for n in range(api_games)]
    threads += [threading.Thread(target=telegram_game, args=(n,), daemon=True) for n in range(telegram_games)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return api, telegram
