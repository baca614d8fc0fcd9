"""Telegram mode: virtual players as Telegram users of the local Bot API stand-in (the whole path: stand-in ->
telebot (PTB, session actors, outbox) -> API -> Kafka -> worker -> telebot -> stand-in).

Each player is a stand-in user in a private chat: optionally ``/settings type text``, then ``/play [category]
N``; per question it thinks, maybe sends ``/hint``, taps an option (or types the answer) and waits for the
question to be edited into its reveal. Steps recorded: ``question`` (/play -> first question), ``reply``
(answer -> the bot's reply), ``hint``. A reply that never comes is a ``lost_reply``; the stand-in's 429 and
flood-limit counters over the run are reported as ``telegram_429`` and ``flood_breach`` errors.

With ``group_size`` >= 2 the players play group games instead: groups of that many users, the first one
starts each game with ``/play`` in the group, and every member taps an option on each question after their
own think time (each once, as the bot allows). ``reply`` is then measured from the first right tap to the
question's reveal (the first correct answer closes it); a tap that arrives after the reveal removed the
buttons is counted as ``taps_after_close``, not as an error. Group games use option buttons only.

The stand-in wakes every waiting long poll on each change, so each player holding one costs the stand-in
CPU: keep players to a few hundred per stand-in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateways.simulate.http import HttpTimeout, HttpTransportError, make_client
from gateways.simulate.players import AnswerKey, Budget, Limits, Mix, Pacer
from gateways.simulate.report import Recorder

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
QUESTION = re.compile(r"Question (\d+)/(\d+)")
POLL_WAIT_S = 20.0


class StandinUnavailable(RuntimeError):
    """The stand-in refused or did not answer a user-side call."""


class AsyncStandin:
    """The stand-in's user-side API (``/_standin/...``) over keep-alive connections."""

    def __init__(self, base_url: str, *, connections: int = 64, timeout_s: float = 30.0,
                 http_client: str = "lean") -> None:
        self.http = make_client(http_client, base_url.rstrip("/") + "/_standin", timeout_s=timeout_s + POLL_WAIT_S,
                                connections=connections)

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def _call(self, method: str, path: str, *, json: JSONDict | None = None,
                    params: JSONDict | None = None) -> Any:
        try:
            response = await self.http.request(method, path, json=json, params=params)
        except (HttpTimeout, HttpTransportError) as exc:
            raise StandinUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise StandinUnavailable(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    async def create_user(self, first_name: str) -> JSONDict:
        """A new user (their private chat id equals the user id)."""
        user: JSONDict = await self._call("POST", "/users", json={"first_name": first_name})
        return user

    async def create_group(self, title: str, member_ids: list[int]) -> int:
        """A group of these users and the bot, the first user its owner; the (negative) chat id."""
        chat: JSONDict = await self._call("POST", "/groups", json={"title": title, "member_ids": member_ids,
                                                                   "admin_ids": member_ids[:1]})
        return int(chat["id"])

    async def send(self, user_id: int, text: str, *, chat_id: int | None = None) -> None:
        """The user writes ``text`` in their private chat (or in the group ``chat_id``)."""
        body: JSONDict = {"user_id": user_id, "text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        await self._call("POST", "/send", json=body)

    async def click(self, user_id: int, chat_id: int, message_id: int, data: str) -> None:
        """The user taps the button carrying ``data``."""
        await self._call("POST", "/click", json={"user_id": user_id, "chat_id": chat_id, "message_id": message_id,
                                                 "data": data})

    async def messages(self, chat_id: int, after_seq: int, wait: float) -> list[JSONDict]:
        """The bot's events in the chat after ``after_seq``, long-polling up to ``wait`` seconds."""
        body = await self._call("GET", "/messages", params={"chat_id": chat_id, "after_seq": after_seq,
                                                            "wait": f"{wait:.1f}"})
        items: list[JSONDict] = body["items"]
        return items

    async def stats(self) -> JSONDict:
        """The stand-in's counters."""
        stats: JSONDict = await self._call("GET", "/stats")
        return stats


class ChatReader:
    """Reads one chat's events in order; ``next`` returns the first new event matching a predicate."""

    def __init__(self, standin: AsyncStandin, chat_id: int) -> None:
        self.standin = standin
        self.chat_id = chat_id
        self.cursor = 0
        self.buffer: list[JSONDict] = []

    async def skip_to_now(self) -> None:
        """Forget everything the bot said so far."""
        while items := await self.standin.messages(self.chat_id, self.cursor, 0.0):
            self.cursor = max(int(item["seq"]) for item in items)
        self.buffer.clear()

    async def next(self, predicate: Callable[[JSONDict], bool], timeout_s: float) -> JSONDict | None:
        """The first unseen event matching ``predicate`` (earlier ones are dropped); None after the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            for index, item in enumerate(self.buffer):
                if predicate(item):
                    del self.buffer[: index + 1]
                    return item
            self.buffer.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            items = await self.standin.messages(self.chat_id, self.cursor, min(remaining, POLL_WAIT_S))
            if items:
                self.cursor = max(self.cursor, *(int(item["seq"]) for item in items))
                self.buffer.extend(items)


def plain(item: JSONDict) -> str:
    """The event's text as the user sees it."""
    return str(item.get("plain") if item.get("plain") is not None else item.get("text") or "")


def is_question(item: JSONDict) -> bool:
    """A new question message."""
    return item.get("kind") == "message" and QUESTION.search(plain(item)) is not None


def question_text(item: JSONDict) -> str:
    """The question itself, between the header line and the timer line."""
    text = plain(item)
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text
    return body.rsplit("\n\n", 1)[0].strip() if "\n\n" in body else body.strip()


def verdict_of(reveal: JSONDict) -> str:
    """The verdict shown in a question's reveal."""
    text = plain(reveal)
    for marker, verdict in (("Correct!", "correct"), ("Wrong.", "incorrect"), ("Too late", "late"),
                            ("Time's up", "timeout")):
        if marker in text:
            return verdict
    return "unknown"


def group_members(users: list[int], size: int) -> list[list[int]]:
    """``users`` in groups of ``size`` (none for size 0); a lone last user joins the group before it."""
    if not size:
        return []
    groups = [users[i:i + size] for i in range(0, len(users), size)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2].extend(groups.pop())
    if groups and len(groups[0]) < 2:
        raise ValueError("group games need at least 2 players")
    return groups


class TelegramSimulation:
    """Runs ``players`` Telegram users against the bot behind the stand-in at ``standin_url``."""

    def __init__(self, standin_url: str, *, players: int, mix: Mix, limits: Limits, recorder: Recorder,
                 key: AnswerKey | None = None, seed: int | None = None, reply_timeout_s: float = 60.0,
                 http_client: str = "lean", group_size: int = 0) -> None:
        if group_size == 1 or group_size < 0:
            raise ValueError("a group game needs at least 2 players (group size 0: solo games)")
        self.standin = AsyncStandin(standin_url, connections=players + 8, http_client=http_client)
        self.players = players
        self.group_size = group_size
        self.mix = mix
        self.limits = limits
        self.recorder = recorder
        self.key = key or AnswerKey()
        self.seed = random.randrange(2**31) if seed is None else seed
        self.reply_timeout_s = reply_timeout_s
        self.budget = Budget(limits)
        self.pacer = Pacer(limits.rate)
        self.standin_stats: dict[str, float] = {}

    async def run(self) -> None:
        """Create the users (and groups), play until the budget is spent, then account the stand-in's counters."""
        try:
            users = [int((await self.standin.create_user(f"Sim {n}"))["id"]) for n in range(self.players)]
            groups = []
            for number, members in enumerate(group_members(users, self.group_size)):
                groups.append((await self.standin.create_group(f"Sim group {number}", members), members))
            before = await self.standin.stats()
            self.recorder.started = self.recorder.clock()
            self.budget = Budget(self.limits)
            try:
                if groups:
                    await asyncio.gather(*(self._group(chat, members) for chat, members in groups))
                else:
                    await asyncio.gather(*(self._player(n, user) for n, user in enumerate(users)))
            finally:
                self.recorder.finish()
            after = await self.standin.stats()
        finally:
            await self.standin.close()
        elapsed = self.recorder.elapsed_s
        delta: dict[str, float] = {name: int(after[name]) - int(before[name])
                                   for name in ("sent", "edits", "rate_limited_429", "limit_breaches")}
        delta["bot_messages_per_s"] = (delta["sent"] + delta["edits"]) / elapsed
        self.standin_stats = delta
        if delta["rate_limited_429"]:
            self.recorder.error("telegram_429", int(delta["rate_limited_429"]))
        if delta["limit_breaches"]:
            self.recorder.error("flood_breach", int(delta["limit_breaches"]))

    # --- solo games ----------------------------------------------------------------------------------

    async def _player(self, number: int, chat_id: int) -> None:
        rng = random.Random(self.seed * 7919 + number)
        reader = ChatReader(self.standin, chat_id)
        typed_chat: bool | None = None
        await asyncio.sleep(self.mix.think(rng) * rng.random())
        while self.budget.take_game():
            typed = rng.random() < self.mix.text_fraction
            try:
                if typed != typed_chat:
                    if not await self._set_type(reader, chat_id, typed):
                        return
                    typed_chat = typed
                await self._game(reader, chat_id, typed, rng)
            except StandinUnavailable as exc:
                self.recorder.error("standin_unavailable")
                logger.warning("player %s: %s", chat_id, exc)
                return

    async def _set_type(self, reader: ChatReader, chat_id: int, typed: bool) -> bool:
        await reader.skip_to_now()
        await self.standin.send(chat_id, f"/settings type {'text' if typed else 'buttons'}")
        saved = await reader.next(lambda m: m.get("kind") == "message" and "Saved" in plain(m), self.reply_timeout_s)
        if saved is None:
            self.recorder.error("settings_not_saved")
        return saved is not None

    def _play_command(self) -> str:
        return "/play" + (f" {self.mix.category}" if self.mix.category else "") + f" {self.mix.question_count}"

    async def _game(self, reader: ChatReader, chat_id: int, typed: bool, rng: random.Random) -> None:
        question = await self._start(reader, lambda: self.standin.send(chat_id, self._play_command()))
        if question is not None:
            await self._play_questions(reader, question,
                                       answer=lambda q: self._answer(reader, chat_id, q, typed, rng),
                                       stop=lambda: self.standin.send(chat_id, "/stop"))

    async def _start(self, reader: ChatReader, play: Callable[[], Awaitable[Any]]) -> JSONDict | None:
        """Send /play; the first question, or None (counted) when the game did not start."""
        self.recorder.count("games_started")
        started = time.monotonic()
        await play()
        question = await reader.next(lambda m: is_question(m) or "Could not start" in plain(m)
                                     or "already running" in plain(m), self.reply_timeout_s)
        if question is None or not is_question(question):
            self.recorder.error("game_not_started" if question is None else "start_refused")
            return None
        self.recorder.record("question", time.monotonic() - started, at=started)
        return question

    async def _play_questions(self, reader: ChatReader, question: JSONDict, *,
                              answer: Callable[[JSONDict], Awaitable[bool]],
                              stop: Callable[[], Awaitable[Any]]) -> None:
        """Answer each question until the game is over, broken, or the budget has run out (then /stop)."""
        while True:
            if self.budget.expired:
                self.recorder.count("games_abandoned")
                await stop()
                await reader.next(lambda m: "Game over" in plain(m), self.reply_timeout_s)
                return
            if not await answer(question):
                self.recorder.count("games_broken")
                return
            following = await reader.next(lambda m: is_question(m) or "Game over" in plain(m), self.reply_timeout_s)
            if following is None:
                self.recorder.error("lost_message")
                self.recorder.count("games_broken")
                return
            if not is_question(following):
                self.recorder.count("games_finished")
                return
            question = following

    async def _answer(self, reader: ChatReader, chat_id: int, question: JSONDict, typed: bool,
                      rng: random.Random) -> bool:
        message_id = int(question["message_id"])
        text = question_text(question)
        pause = self.mix.think(rng)
        if pause:
            await asyncio.sleep(pause)
        if self.mix.hint_rate and rng.random() < self.mix.hint_rate:
            started = time.monotonic()
            await self.standin.send(chat_id, "/hint")
            hint = await reader.next(lambda m: "Hint:" in plain(m), self.reply_timeout_s)
            if hint is None:
                self.recorder.error("lost_hint")
            else:
                self.recorder.record("hint", time.monotonic() - started, at=started)
                self.recorder.count("hints")
        wrong = rng.random() < self.mix.wrong_rate
        for _attempt in range(3):
            await self.pacer.slot()
            started = time.monotonic()
            if typed:
                answer, expected = self.key.pick_text(text, wrong=wrong, rng=rng)
                await self.standin.send(chat_id, answer)
            else:
                buttons = [button for row in question.get("buttons") or [] for button in row]
                index, expected = self.key.pick_option(text, [str(b["text"]) for b in buttons], wrong=wrong, rng=rng)
                await self.standin.click(chat_id, chat_id, message_id, str(buttons[index]["callback_data"]))
            reply = await reader.next(
                lambda m: (m.get("kind") == "edit" and int(m.get("message_id") or 0) == message_id)
                or (m.get("kind") == "message" and ("Close!" in plain(m) or "not accepted" in plain(m))),
                self.reply_timeout_s)
            if reply is None:
                self.recorder.error("lost_reply")
                return False
            self.recorder.record("reply", time.monotonic() - started, at=started)
            self.recorder.count("answers")
            if "not accepted" in plain(reply):
                self.recorder.error("answer_refused")
                return False
            if "Close!" in plain(reply):
                self.recorder.count("verdict_close")
                wrong = False
                continue
            verdict = verdict_of(reply)
            self.recorder.count(f"verdict_{verdict}")
            if expected is not None and verdict in {"correct", "incorrect"} and (verdict == "correct") != expected:
                self.recorder.error("verdict_mismatch")
            return True
        return False

    # --- group games ---------------------------------------------------------------------------------

    async def _group(self, chat_id: int, members: list[int]) -> None:
        rng = random.Random(self.seed * 7919 + chat_id)
        reader = ChatReader(self.standin, chat_id)
        try:
            while self.budget.take_game():
                await self._group_game(reader, chat_id, members, rng)
        except StandinUnavailable as exc:
            self.recorder.error("standin_unavailable")
            logger.warning("group %s: %s", chat_id, exc)

    async def _group_game(self, reader: ChatReader, chat_id: int, members: list[int], rng: random.Random) -> None:
        starter = members[0]
        question = await self._start(reader, lambda: self.standin.send(starter, self._play_command(), chat_id=chat_id))
        if question is not None:
            await self._play_questions(reader, question,
                                       answer=lambda q: self._group_question(reader, chat_id, members, q, rng),
                                       stop=lambda: self.standin.send(starter, "/stop", chat_id=chat_id))

    async def _group_question(self, reader: ChatReader, chat_id: int, members: list[int], question: JSONDict,
                              rng: random.Random) -> bool:
        message_id = int(question["message_id"])
        text = question_text(question)
        buttons = [button for row in question.get("buttons") or [] for button in row]
        options = [str(b["text"]) for b in buttons]
        right_taps: list[float] = []
        closed = asyncio.Event()

        async def watch() -> tuple[JSONDict | None, float]:
            reveal = await reader.next(lambda m: m.get("kind") == "edit"
                                       and int(m.get("message_id") or 0) == message_id, self.reply_timeout_s)
            closed.set()
            return reveal, time.monotonic()

        async def tap(member: int) -> None:
            pause = self.mix.think(rng)
            if pause:
                await asyncio.sleep(pause)
            if closed.is_set():
                return
            index, expected = self.key.pick_option(text, options, wrong=rng.random() < self.mix.wrong_rate, rng=rng)
            await self.pacer.slot()
            tapped = time.monotonic()
            try:
                await self.standin.click(member, chat_id, message_id, str(buttons[index]["callback_data"]))
            except StandinUnavailable:
                self.recorder.count("taps_after_close")  # the reveal removed the buttons first
                return
            self.recorder.count("answers")
            if expected:
                right_taps.append(tapped)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(tap(member) for member in members))
        reveal, seen = await watcher
        if reveal is None:
            self.recorder.error("lost_reply")
            return False
        self.recorder.count("verdict_correct" if "got it" in plain(reveal) else "verdict_nobody")
        if right_taps:
            self.recorder.record("reply", seen - min(right_taps), at=min(right_taps))
        return True
