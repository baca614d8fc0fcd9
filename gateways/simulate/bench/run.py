"""One bench run: start the stack, warm it up, run each phase not skipped (a failed phase is reported, the
others go on), and gather the results document."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gateways.simulate.bench.config import BenchConfig
from gateways.simulate.bench.held import held_games_phase
from gateways.simulate.bench.phases import (
    measure_floors,
    measure_telegram,
    pipeline_phase,
    rate_phase,
    simulate_api,
    two_workers_phase,
)
from gateways.simulate.bench.probe import hold_sessions
from gateways.simulate.bench.system import idle_cpu, machine
from gateways.simulate.http import run as run_loop
from gateways.simulate.stack import DEFAULT_ADMIN_URL, BenchStack, StackError
from trivia_actors.runtime import inherited_environment, load_settings

logger = logging.getLogger(__name__)


def run_bench(config: BenchConfig, *, log_dir: Path, plot_dir: Path | None) -> dict[str, Any]:
    """Every measurement of the bench; the results document."""
    settings = load_settings()
    admin_url = settings.database_url if settings.database_url.startswith("postgres") else DEFAULT_ADMIN_URL
    results: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "machine": machine(), "config": attrs.asdict(config)}
    began = time.monotonic()
    stack = BenchStack(log_dir, admin_url, base_env=inherited_environment(),
                       extra_env={"LOG_LEVEL": config.stack_log_level, "API_RATE_LIMIT": str(10**9)})
    print(f"bench: starting the stack (logs in {log_dir})", file=sys.stderr)
    with stack:
        api, credentials = stack.api_url, stack.credentials
        print("bench: warm-up", file=sys.stderr)
        simulate_api(api, credentials, players=8, duration_s=5, questions=config.questions, label="warm-up")
        results["idle"] = idle_cpu(stack, seconds=10.0)
        phases: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("pipeline", lambda: pipeline_phase(config, stack, plot_dir)),
            ("rate", lambda: rate_phase(config, stack, plot_dir)),
            ("floors", lambda: measure_floors(config, stack, plot_dir)),
            ("workers", lambda: two_workers_phase(config, stack, plot_dir)),
        ]
        for name, phase in phases:
            if name not in config.skip:
                results[name] = _guarded(name, phase)
        if "telegram" not in config.skip or "sessions" not in config.skip:
            try:
                standin_url = stack.start_telegram(question_time_limit_s=300, flood_limits=True)
            except StackError as exc:
                results["telegram"] = {"error": f"the telebot did not start: {exc}"}
            else:
                if "telegram" not in config.skip:
                    results["telegram"] = _guarded("telegram", lambda: measure_telegram(config, standin_url,
                                                                                        plot_dir))
                if "sessions" not in config.skip:
                    # Telegram's 30 calls/s would make the ramp the measurement (and the games' timers alone
                    # would need more than that): memory is measured with the rate ceilings lifted.
                    stack.stop_process("telebot")
                    stack.stop_process("standin")
                    standin_url = stack.start_telegram(question_time_limit_s=300, flood_limits=False,
                                                       telegram_rate=1000)
                    print(f"bench: {config.sessions} games held open by one telebot", file=sys.stderr)
                    results["sessions"] = _guarded("sessions", lambda: run_loop(hold_sessions(
                        standin_url, stack.pid("telebot"), count=config.sessions, rate=config.sessions_rate,
                        probe=config.sessions_probe, budget_s=config.sessions_budget_s)))
        if "held-games" not in config.skip:
            # A stand-in and a telebot of its own (limits lifted, a fresh telebot database): the ones above go.
            for name in ("telebot", "standin"):
                if name in stack.processes:
                    stack.stop_process(name)
            results["held-games"] = _guarded("held-games", lambda: held_games_phase(config, stack))
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["seconds"] = time.monotonic() - began
    return results


def _guarded(name: str, phase: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one phase; a phase that fails is reported as such and the bench goes on with the next one."""
    try:
        return phase()
    except Exception as exc:  # any failure of one phase must not lose the figures of the others
        logger.exception("bench: phase %s failed", name)
        return {"error": f"{type(exc).__name__}: {exc}"}
