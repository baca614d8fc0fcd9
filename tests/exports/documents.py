"""Transcript documents and rendered transcripts built in memory, for tests that need no database."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from trivia_actors.exports import Transcript, render


def sample_document(game_id: str = "g-1", *, finished_at: str = "2024-05-01T12:34:56.789Z",
                    category: str = "art", score: int = 150, status: str = "finished") -> dict[str, Any]:
    """A valid schema-version-1 transcript document with two questions and two answers."""
    return {
        "schema_version": 1,
        "game": {
            "id": game_id,
            "mode": "solo",
            "chat_id": 42,
            "category": category,
            "difficulty": None,
            "status": status,
            "created_at": "2024-05-01T12:30:00.000Z",
            "finished_at": finished_at,
            "score": score,
            "question_count": 2,
            "correct_count": 1,
            "best_streak": 1,
            "owner": "tg:1001",
        },
        "players": [{"subject": "tg:1001", "display_name": "Ann"}],
        "questions": [
            {
                "no": 0,
                "text": "Who painted the 'Mona Lisa'?",
                "type": "mc",
                "options": ["Raphael", "Leonardo da Vinci", "Titian", "Michelangelo"],
                "correct_answer": "Leonardo da Vinci",
                "explanation": "Stolen in 1911.",
                "category": category,
                "difficulty": "easy",
                "answers": [
                    {"player": "tg:1001", "raw_answer": "Leonardo da Vinci", "verdict": "correct", "points": 150,
                     "latency_ms": 2100, "judged_by": "local", "answered_at": "2024-05-01T12:31:00.000Z"},
                ],
            },
            {
                "no": 1,
                "text": "Which museum holds 'The Starry Night'?",
                "type": "mc",
                "options": ["MoMA", "Louvre", "Prado", "Tate"],
                "correct_answer": "MoMA",
                "explanation": "",
                "category": "science" if category == "art" else category,
                "difficulty": "medium",
                "answers": [
                    {"player": "tg:1001", "raw_answer": "Louvre", "verdict": "incorrect", "points": 0,
                     "latency_ms": 5000, "judged_by": "local", "answered_at": "2024-05-01T12:32:00.000Z"},
                ],
            },
        ],
    }


def sample_transcript(game_id: str = "g-1", **kwargs: Any) -> Transcript:
    """:func:`sample_document` rendered."""
    return render(sample_document(game_id, **kwargs))


def eventually(predicate: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.05,
               message: str = "condition not reached") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or fail with ``message``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (waited {timeout_s:g}s)")
        time.sleep(interval_s)
