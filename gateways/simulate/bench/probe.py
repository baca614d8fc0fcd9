"""Many games held open by one telebot: its RSS and threads as they pile up, then the probe, answer -> reply
latency on some of them while all are held."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any

from gateways.simulate.players import Pacer
from gateways.simulate.report import summarize
from gateways.simulate.stack import proc_status
from gateways.simulate.telegram_mode import AsyncStandin, ChatReader, StandinUnavailable, is_question


async def hold_sessions(standin_url: str, telebot_pid: int, *, count: int, rate: float, probe: int,
                        budget_s: float, max_pending: int = 300, sample_every_s: float = 5.0) -> dict[str, Any]:
    """``count`` users each start a game and leave its first question open (paced at ``rate`` /play per second,
    at most ``max_pending`` not yet open, within ``budget_s``); the telebot's RSS and threads as the games pile
    up, then answer -> reply latency on ``probe`` of them while all are held."""
    standin = AsyncStandin(standin_url, connections=40)
    try:
        baseline = proc_status(telebot_pid)
        gate = asyncio.Semaphore(32)

        async def make(n: int) -> int:
            async with gate:
                return int((await standin.create_user(f"Held {n}"))["id"])

        chats = list(await asyncio.gather(*(make(n) for n in range(count))))
        samples: list[dict[str, Any]] = []
        started = time.monotonic()

        async def sample() -> dict[str, Any]:
            per_chat = (await standin.stats())["per_chat"]
            delivered = sum(1 for chat in chats if int(per_chat.get(str(chat), {}).get("sent", 0)) >= 2)
            status = proc_status(telebot_pid)
            point = {"t_s": round(time.monotonic() - started, 1), "games_open": delivered,
                     "rss_mib": status["VmRSS"] / 1024, "hwm_mib": status["VmHWM"] / 1024,
                     "threads": status["Threads"]}
            samples.append(point)
            return point

        sending = True

        async def sampler() -> None:
            while sending:
                point = await sample()
                print(f"  [{point['t_s']:6.1f}s] games open {point['games_open']}/{count} "
                      f"telebot RSS {point['rss_mib']:.0f} MiB, {point['threads']} threads", file=sys.stderr)
                await asyncio.sleep(sample_every_s)

        watcher = asyncio.create_task(sampler())
        pacer = Pacer(rate)
        deadline = started + budget_s
        played = 0
        for chat in chats:
            # Keep the telebot's backlog bounded, so what is measured is open games, not queued requests.
            while samples and played - samples[-1]["games_open"] >= max_pending and time.monotonic() < deadline:
                await asyncio.sleep(1.0)
            if time.monotonic() >= deadline:
                break
            await pacer.slot()
            await standin.send(chat, "/play 5")
            played += 1
        ramp_s = time.monotonic() - started
        settle = time.monotonic() + 60.0
        while (not samples or samples[-1]["games_open"] < played) and time.monotonic() < min(settle, deadline + 60):
            await asyncio.sleep(1.0)
        sending = False
        await watcher
        held = await sample()
        latencies: list[float] = []
        lost = 0
        gate_probe = asyncio.Semaphore(8)

        async def answer(chat: int) -> None:
            nonlocal lost
            async with gate_probe:
                reader = ChatReader(standin, chat)
                question = None  # the chat's latest question: a timer may have moved the game on
                while (item := await reader.next(is_question, 0.5)) is not None:
                    question = item
                if question is None:
                    lost += 1
                    return
                button = question["buttons"][0][0]
                tapped = time.monotonic()
                try:
                    await standin.click(chat, chat, int(question["message_id"]), str(button["callback_data"]))
                except StandinUnavailable:
                    return  # its timer closed the question between the read and the tap: not an answer
                reply = await reader.next(lambda m: m.get("kind") == "edit"
                                          and m.get("message_id") == question["message_id"], 60.0)
                if reply is None:
                    lost += 1
                else:
                    latencies.append(time.monotonic() - tapped)

        # The latest games: their question is surely still open (the earliest may have timed out).
        recent = chats[played // 2:played]
        probed = random.Random(5).sample(recent, min(probe, len(recent)))
        await asyncio.gather(*(answer(chat) for chat in probed))
        after = await sample()
    finally:
        await standin.close()
    fit = _fit([(s["games_open"], s["rss_mib"]) for s in samples if s["games_open"] > 0])
    return {"count": count, "played": played, "rate": rate, "ramp_s": ramp_s, "held": held, "after_probe": after,
            "baseline_rss_mib": baseline["VmRSS"] / 1024, "baseline_threads": baseline["Threads"],
            "samples": samples, "fit": fit, "probe": {"answers": len(probed), "lost": lost,
                                                       "reply_ms": summarize(latencies)}}


def _fit(points: list[tuple[float, float]]) -> dict[str, float] | None:
    """Least-squares line rss = intercept + slope * games."""
    if len(points) < 3 or len({x for x, _y in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _y in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    intercept = mean_y - slope * mean_x
    return {"slope_kib_per_game": slope * 1024, "intercept_mib": intercept,
            "projected_10000_mib": intercept + slope * 10_000}
