"""Hints: how many a question has had, the level of the next one, and the answer with letters hidden.

A game keeps its hints in its settings document, ``{"hints": {"<question no>": <hints given>}}``; these
functions read and write that shape, without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.vocabulary import MAX_HINTS


def hints_used(settings: Mapping[str, Any] | None, position: int) -> int:
    """Hints already given on the question at ``position``, from a game's settings document."""
    return int((settings or {}).get("hints", {}).get(str(position), 0))


def next_hint_level(used: int) -> int:
    """The level of the next hint: one more than given so far, never past :data:`MAX_HINTS` (asked again, the
    last level is given again)."""
    return min(used + 1, MAX_HINTS)


def with_hint(settings: Mapping[str, Any] | None, position: int, level: int) -> dict[str, Any]:
    """A copy of the settings document with ``level`` hints recorded for the question at ``position``."""
    updated = dict(settings or {})
    hints = dict(updated.get("hints", {}))
    hints[str(position)] = level
    updated["hints"] = hints
    return updated


def mask_answer(answer: str, level: int) -> str:
    """The answer with letters hidden: level 1 shows first letters, each level reveals more."""
    shown = {0}
    letters = [i for i, ch in enumerate(answer) if ch.isalnum()]
    step = {1: 0, 2: 3, 3: 2}.get(level, 2)
    for word_start in (i for i in letters if i == 0 or not answer[i - 1].isalnum()):
        shown.add(word_start)
    if step:
        shown.update(letters[::step])
    return "".join(ch if (i in shown or not ch.isalnum()) else "_" for i, ch in enumerate(answer))
