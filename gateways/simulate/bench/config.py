"""The sizes of one bench run (the command line's flags) and the names of its phases."""

from __future__ import annotations

import attrs

PHASES = ("pipeline", "rate", "floors", "workers", "telegram", "sessions", "held-games")


@attrs.frozen(kw_only=True)
class BenchConfig:
    """Sizes of one bench run (the command line's flags)."""

    players: int = 64
    duration_s: float = 30.0
    questions: int = 5
    rate: float = 100.0
    rate_duration_s: float = 20.0
    rate_players: int = 16
    floor_duration_s: float = 15.0
    broker_concurrency: int = 32
    db_answers: int = 3000
    db_batch: int = 64
    telegram_players: int = 24
    telegram_think_ms: float = 1500.0
    telegram_duration_s: float = 60.0
    sessions: int = 10_000
    sessions_rate: float = 60.0
    sessions_probe: int = 40
    sessions_budget_s: float = 600.0
    held_games: int = 100_000  # the held-games phase: open games seeded into the telebot's store before it starts
    held_live: int = 2_000  # ... and games opened live through the whole pipeline on top of them
    held_concurrency: int = 200  # live games being opened at once (each a user waiting for its first question)
    held_budget_s: float = 3600.0  # seconds to open games in; the count reached is what is reported
    held_quiet_s: float = 10.0
    held_probe_players: int = 20
    held_probe_answers: int = 10  # per probe player, while the games are held
    held_probe_after_restart: int = 3  # per probe player, after the SIGKILL and restart
    stack_log_level: str = "WARNING"
    submit_wait_s: float = 5.0  # the simulator's players ask each command to wait for its outcome (POST ?wait=)
    skip: tuple[str, ...] = ()
