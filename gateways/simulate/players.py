"""What both modes share: how virtual players play (the mix), when a run stops, pacing, the answer key."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import attrs

from schema.bank import load_bank


@attrs.frozen(kw_only=True)
class Mix:
    """How the virtual players play."""

    question_count: int = 5
    category: str | None = None
    text_fraction: float = 0.0  # share of games answered by typing instead of picking an option
    wrong_rate: float = 0.25  # share of answers that are wrong on purpose
    hint_rate: float = 0.0  # share of questions on which the player asks for a hint first
    think_s: float = 0.0  # mean pause before each answer
    think_jitter: float = 0.5  # the pause varies uniformly by this fraction either side

    def think(self, rng: random.Random) -> float:
        """One pause in seconds."""
        if self.think_s <= 0:
            return 0.0
        spread = self.think_s * self.think_jitter
        return max(0.0, rng.uniform(self.think_s - spread, self.think_s + spread))


@attrs.frozen(kw_only=True)
class Limits:
    """When the run stops: after ``duration_s``, after ``games`` games, whichever comes first."""

    duration_s: float | None = None
    games: int | None = None
    rate: float | None = None  # target answers per second over all players (None: as fast as they go)


class Budget:
    """Hands out games until the count or the time runs out (single event loop: no lock needed)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.started = clock()
        self.deadline = None if limits.duration_s is None else self.started + limits.duration_s
        self.given = 0

    @property
    def expired(self) -> bool:
        """True once the duration has passed."""
        return self.deadline is not None and self.clock() >= self.deadline

    def take_game(self) -> bool:
        """True when the player may start one more game."""
        if self.expired or (self.limits.games is not None and self.given >= self.limits.games):
            return False
        self.given += 1
        return True


class Pacer:
    """Spaces answers evenly at ``rate`` per second across all players (None: no pacing)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = None if not rate else 1.0 / rate
        self._next = 0.0

    async def slot(self) -> None:
        """Wait for this answer's turn."""
        if self.interval is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class AnswerKey:
    """The bank's answers by question text, so a player can be right or wrong on purpose."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = answers if answers is not None else {q.text: q.answer for q in load_bank()}

    def answer(self, text: str) -> str | None:
        """The correct answer to a question shown with ``text``, or None for a question not in the bank."""
        return self.answers.get(text.strip())

    def pick_option(self, text: str, options: list[str], *, wrong: bool,
                    rng: random.Random) -> tuple[int, bool | None]:
        """(option index, expected correct or None when unknown)."""
        answer = self.answer(text)
        if answer is None or answer not in options or len(options) < 2:
            return rng.randrange(max(len(options), 1)), None
        right = options.index(answer)
        if not wrong:
            return right, True
        return rng.choice([i for i in range(len(options)) if i != right]), False

    def pick_text(self, text: str, *, wrong: bool, rng: random.Random) -> tuple[str, bool | None]:
        """(typed answer, expected correct or None when unknown)."""
        answer = self.answer(text)
        if answer is None:
            return f"xyzzy {rng.randrange(10**6)}", None
        if wrong:
            return f"qwxz {rng.randrange(10**6)}", False
        return answer, True
