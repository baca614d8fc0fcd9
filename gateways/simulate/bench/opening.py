"""Opening many games on one telebot: stand-in users each send ``/play`` and wait for their first question, a
bounded number in flight, as fast as the pipeline lets them; and what /proc says about the telebot meanwhile.

A user does not long-poll its chat while it waits: the stand-in wakes every waiting long poll on each change,
so thousands of waiters would cost the stand-in more than the telebot costs. It reads its chat without
waiting instead, its pauses growing from 50 ms to 1 s, so a game's open latency is known to within the last
pause (games opened per second, the figure that matters here, is not affected).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from gateways.simulate.report import summarize
from gateways.simulate.stack import cpu_seconds, proc_status
from gateways.simulate.telegram_mode import AsyncStandin, StandinUnavailable, is_question, plain

REFUSALS = {"Could not start": "start_refused", "already running": "already_running",
            "game service is busy": "service_busy"}
FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 1.0


@attrs.define
class Opening:
    """What opening the games gave, filled in as they open."""

    started: float = attrs.field(factory=time.monotonic)
    played: int = 0
    opened: list[int] = attrs.field(factory=list)  # chats whose first question arrived, in arrival order
    opened_at: list[float] = attrs.field(factory=list)  # time.monotonic() of each
    latencies_s: list[float] = attrs.field(factory=list)
    failures: collections.Counter[str] = attrs.field(factory=collections.Counter)
    finished: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Seconds from the first /play to the last game opened (or to now, while opening)."""
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def report(self) -> dict[str, Any]:
        """Counts, games opened per second and /play -> first question latency."""
        return {"played": self.played, "opened": len(self.opened), "seconds": self.elapsed_s,
                "games_per_s": len(self.opened) / self.elapsed_s, "failures": dict(self.failures),
                "question_ms": summarize(self.latencies_s)}


async def create_users(standin: AsyncStandin, count: int, *, name: str = "Held", concurrency: int = 32) -> list[int]:
    """``count`` new stand-in users (each one's private chat id is its user id)."""
    gate = asyncio.Semaphore(concurrency)

    async def make(n: int) -> int:
        async with gate:
            return int((await standin.create_user(f"{name} {n}"))["id"])

    return list(await asyncio.gather(*(make(n) for n in range(count))))


async def open_games(standin: AsyncStandin, chats: Iterable[int], *, questions: int, concurrency: int,
                     budget_s: float, timeout_s: float = 120.0, opening: Opening | None = None) -> Opening:
    """Each chat sends ``/play <questions>`` and waits for its first question, ``concurrency`` at a time, until
    the chats run out or ``budget_s`` has passed (then no new /play is sent; those in flight finish)."""
    result = opening or Opening()
    result.started = time.monotonic()
    deadline = result.started + budget_s
    waiting = iter(chats)  # shared by the workers: each chat is taken once

    async def open_one(chat: int) -> None:
        sent = time.monotonic()
        result.played += 1
        try:
            await standin.send(chat, f"/play {questions}")
            cursor, pause = 0, FIRST_PAUSE_S
            while True:
                await asyncio.sleep(pause)
                for item in await standin.messages(chat, cursor, 0.0):
                    cursor = max(cursor, int(item["seq"]))
                    if is_question(item):
                        now = time.monotonic()
                        result.opened.append(chat)
                        result.opened_at.append(now)
                        result.latencies_s.append(now - sent)
                        return
                    refusal = next((kind for text, kind in REFUSALS.items() if text in plain(item)), None)
                    if refusal is not None:
                        result.failures[refusal] += 1
                        return
                if time.monotonic() - sent > timeout_s:
                    result.failures["no_question"] += 1
                    return
                pause = min(pause * 1.6, MAX_PAUSE_S)
        except StandinUnavailable:
            result.failures["standin_unavailable"] += 1

    async def worker() -> None:
        for chat in waiting:
            if time.monotonic() >= deadline:
                return
            await open_one(chat)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        result.finished = result.opened_at[-1] if result.opened_at else time.monotonic()
    return result


@attrs.frozen(kw_only=True)
class ProcSample:
    """One look at the telebot in /proc, with the games open at that moment."""

    t_s: float
    games_open: int
    threads: int
    rss_mib: float
    cpu_s: float

    def to_json(self) -> dict[str, Any]:
        """As the results document keeps it."""
        return attrs.asdict(self)


class ProcWatch:
    """Samples a process in /proc every ``every_s`` while running; ``pid`` is asked each time (a restart gives a
    new one; None while there is none) and ``games_open`` says how many games are open; a line on stderr every
    ``print_every_s``."""

    def __init__(self, pid: Callable[[], int | None], games_open: Callable[[], int], *, every_s: float = 1.0,
                 print_every_s: float = 10.0, label: str = "telebot") -> None:
        self.pid = pid
        self.games_open = games_open
        self.every_s = every_s
        self.print_every_s = print_every_s
        self.label = label
        self.started = time.monotonic()
        self.samples: list[ProcSample] = []
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> ProcSample | None:
        """One sample now (kept); None while the process is gone (between a kill and its restart)."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            status = proc_status(pid)
        except OSError:  # it died since the pid was taken: like no process at all
            return None
        point = ProcSample(t_s=round(time.monotonic() - self.started, 2), games_open=self.games_open(),
                           threads=status["Threads"], rss_mib=status["VmRSS"] / 1024, cpu_s=cpu_seconds(pid))
        self.samples.append(point)
        return point

    @property
    def peak_threads(self) -> int:
        """The most threads seen in any sample."""
        return max((s.threads for s in self.samples), default=0)

    async def _run(self) -> None:
        printed = 0.0
        while True:
            point = self.sample()
            if point is not None and point.t_s - printed >= self.print_every_s:
                printed = point.t_s
                print(f"  [{point.t_s:7.1f}s] games open {point.games_open:,}, {self.label} {point.threads} threads, "
                      f"RSS {point.rss_mib:.0f} MiB, CPU {point.cpu_s:.1f} s", file=sys.stderr)
            await asyncio.sleep(self.every_s)

    def start(self) -> ProcWatch:
        """Sample in the background on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="proc-watch")
        return self

    async def stop(self) -> None:
        """Stop sampling (one last sample is taken)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # the cancel asked for just above
                await self._task
            self._task = None
        self.sample()
