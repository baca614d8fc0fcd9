"""Runs faults against a :class:`ChaosEnvironment`, checks every run, and renders the table."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import attrs

from schema.db import bind_database
from tests.chaos.checks import Tally, check_run
from tests.chaos.environment import ChaosEnvironment
from tests.chaos.faults import FAULTS, Fault
from tests.chaos.players import play_all

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class Plan:
    """How much each fault is exercised."""

    runs: int = 1
    api_games: int = 2
    telegram_games: int = 1
    questions: int = 3
    seed: int = 1


def client_credentials(env: ChaosEnvironment) -> dict[str, str]:
    """A fresh API client (``trivia-admin create-client``)."""
    assert env.stack is not None
    created = env.stack.run("admin", "gateways.admin", "create-client", "chaos", timeout_s=60)
    if created.returncode != 0:
        raise RuntimeError(f"create-client failed: {created.stderr[-1000:]}")
    credentials: dict[str, str] = json.loads(created.stdout)
    return credentials


def run_fault(env: ChaosEnvironment, fault: Fault, plan: Plan, credentials: dict[str, str]) -> Tally:
    """Play ``plan.runs`` rounds of games under ``fault``; the summed tally of their checks."""
    total = Tally()
    database = bind_database(env.database.url)  # straight to PostgreSQL: the proxy may be cut
    try:
        for run in range(plan.runs):
            rng = random.Random(f"{plan.seed}-{fault.name}-{run}")
            stop = threading.Event()
            injector = threading.Thread(target=fault.inject, args=(env, stop, rng), name=f"fault-{fault.name}",
                                        daemon=True)
            started = time.monotonic()
            strikes, calls = env.strikes, env.deepseek_calls()
            injector.start()
            assert env.standin is not None
            api, telegram = play_all(env.api_url, env.standin, credentials, api_games=plan.api_games,
                                     telegram_games=plan.telegram_games, questions=plan.questions,
                                     seed=rng.randrange(10**9), tag=f"{fault.name}-{run}")
            stop.set()
            injector.join(timeout=120)
            fault.heal(env)
            tally = check_run(env, database, api, telegram)
            tally.strikes, tally.deepseek_calls = env.strikes - strikes, env.deepseek_calls() - calls
            logger.info("%s run %d: %d strikes, %d games, %d answers, %d lost, %d duplicated in %.0fs", fault.name,
                        run + 1, tally.strikes, tally.games, tally.answers, tally.lost, tally.duplicated,
                        time.monotonic() - started)
            total.add(tally)
    finally:
        if hasattr(database, "close_all"):
            database.close_all()
    return total


def run_plan(work_dir: Path, names: Iterable[str], plan: Plan) -> dict[str, Tally]:
    """Every named fault in turn: those needing a durable broker in an environment of their own, the rest
    in one shared environment (each fault heals what it broke)."""
    results: dict[str, Tally] = {}
    names = list(names)
    for durable in (False, True):
        batch = [name for name in names if FAULTS[name].durable_broker == durable]
        if not batch:
            continue
        with ChaosEnvironment(work_dir / ("durable" if durable else "shared"), durable_broker=durable) as env:
            credentials = client_credentials(env)
            for name in batch:
                results[name] = run_fault(env, FAULTS[name], plan, credentials)
    return {name: results[name] for name in names}


def table(results: dict[str, Tally]) -> str:
    """The Markdown table of the results."""
    lines = ["| fault | runs | strikes | games | finished | answers | lost | duplicated | replies lost/dup "
             "| exports | exports lost/dup |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in results.items():
        lines.append(f"| {name} | {t.runs} | {t.strikes} | {t.games} | {t.finished} | {t.answers} | {t.lost} "
                     f"| {t.duplicated} "
                     f"| {t.replies_lost}/{t.replies_duplicated} | {t.exports} "
                     f"| {t.exports_lost}/{t.exports_duplicated} |")
    return "\n".join(lines)
