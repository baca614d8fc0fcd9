"""Probe players beside the held games: answer -> reply latency as the user sees it in the stand-in, and, after
a SIGKILL of the telebot, how long until a tapped answer is replied to.

Probe players long-poll their chats (there are few of them, unlike the held games). Each thinks about a second
before a tap, so a chat stays within Telegram's per-chat windows (a reveal edit and a new question per answer)
and the telebot's outbox never has to hold a probe's reply back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import attrs

from gateways.simulate.bench.opening import create_users
from gateways.simulate.report import summarize
from gateways.simulate.telegram_mode import AsyncStandin, ChatReader, StandinUnavailable, is_question, plain

JSONDict = dict[str, Any]
REPLY_TIMEOUT_S = 60.0


@attrs.define
class ProbePlayer:
    """One probe chat and its open question (None once its game is over or broken)."""

    chat: int
    reader: ChatReader
    question: JSONDict | None = None


@attrs.define
class Round:
    """What one round of probe answers measured."""

    latencies_s: list[float] = attrs.field(factory=list)  # tap -> the reply (the question's reveal edit)
    click_s: list[float] = attrs.field(factory=list)  # the tap's own HTTP call to the stand-in
    lost: int = 0
    refused: int = 0
    started: float = attrs.field(factory=time.monotonic)
    seconds: float = 0.0

    def report(self) -> dict[str, Any]:
        """Latencies in ms (summaries), answers per second, what went missing."""
        answers = len(self.latencies_s)
        return {"answers": answers, "lost": self.lost, "refused": self.refused, "seconds": self.seconds,
                "answers_per_s": answers / self.seconds if self.seconds else 0.0,
                "reply_ms": summarize(self.latencies_s), "click_ms": summarize(self.click_s)}


def _reply_to(message_id: int) -> Callable[[JSONDict], bool]:
    return lambda m: ((m.get("kind") == "edit" and int(m.get("message_id") or 0) == message_id)
                      or (m.get("kind") == "message" and ("Close!" in plain(m) or "not accepted" in plain(m))))


async def start_probes(standin: AsyncStandin, count: int, *, questions: int) -> list[ProbePlayer]:
    """``count`` new users each starting a game of ``questions``; those whose first question arrived."""
    players = [ProbePlayer(chat, ChatReader(standin, chat))
               for chat in await create_users(standin, count, name="Probe")]

    async def start(player: ProbePlayer) -> None:
        await standin.send(player.chat, f"/play {questions}")
        player.question = await player.reader.next(is_question, REPLY_TIMEOUT_S * 2)

    await asyncio.gather(*(start(player) for player in players))
    return [player for player in players if player.question is not None]


async def _tap(standin: AsyncStandin, player: ProbePlayer, probe: Round) -> tuple[int, float] | None:
    """Tap the first option of the player's open question: (its message id, when); None when refused."""
    assert player.question is not None
    message_id = int(player.question["message_id"])
    data = str(player.question["buttons"][0][0]["callback_data"])
    tapped = time.monotonic()
    try:
        await standin.click(player.chat, player.chat, message_id, data)
    except StandinUnavailable:
        probe.refused += 1  # its buttons were gone (a timer closed the question first)
        return None
    probe.click_s.append(time.monotonic() - tapped)
    return message_id, tapped


async def answer_rounds(standin: AsyncStandin, players: list[ProbePlayer], *, answers: int, think_s: float = 1.0,
                        seed: int = 5) -> Round:
    """Each player answers ``answers`` questions (think, tap, wait for the reply and the next question); its
    last question is left open."""
    probe = Round()

    async def play(player: ProbePlayer, rng: random.Random) -> None:
        for _ in range(answers):
            if player.question is None:
                return
            await asyncio.sleep(think_s * rng.uniform(0.8, 1.2))
            tap = await _tap(standin, player, probe)
            if tap is None:
                player.question = None
                return
            message_id, tapped = tap
            reply = await player.reader.next(_reply_to(message_id), REPLY_TIMEOUT_S)
            if reply is None:
                probe.lost += 1
                player.question = None
                return
            probe.latencies_s.append(time.monotonic() - tapped)
            following = await player.reader.next(lambda m: is_question(m) or "Game over" in plain(m), REPLY_TIMEOUT_S)
            player.question = following if following is not None and is_question(following) else None

    await asyncio.gather(*(play(player, random.Random(seed * 7919 + n)) for n, player in enumerate(players)))
    probe.seconds = time.monotonic() - probe.started
    return probe


async def tap_and_wait(standin: AsyncStandin, players: list[ProbePlayer], *, since: float,
                       timeout_s: float) -> Round:
    """Each player taps its open question now and waits for the reply; latencies are counted from ``since``
    (the telebot's SIGKILL), so they are the time until each probe game answered again."""
    probe = Round(started=since)

    async def one(player: ProbePlayer) -> None:
        if player.question is None:
            return
        tap = await _tap(standin, player, probe)
        if tap is None:
            player.question = None
            return
        reply = await player.reader.next(_reply_to(tap[0]), timeout_s)
        if reply is None:
            probe.lost += 1
            player.question = None
            return
        probe.latencies_s.append(time.monotonic() - since)
        following = await player.reader.next(lambda m: is_question(m) or "Game over" in plain(m), REPLY_TIMEOUT_S)
        player.question = following if following is not None and is_question(following) else None

    await asyncio.gather(*(one(player) for player in players))
    probe.seconds = time.monotonic() - since
    return probe
