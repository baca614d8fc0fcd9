"""A telebot holding 2,000 open games stays within 64 threads (issue 15): the whole stack as processes, 2,000
stand-in users each opening a game, the telebot's thread count read from /proc while they open and once all
are held. Slow (a few minutes): skipped by the default run; ``scripts/bench --threads-test`` runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateways.local_broker import free_port
from gateways.simulate.bench.opening import Opening, ProcWatch, create_users, open_games
from gateways.simulate.http import run
from gateways.simulate.telegram_mode import AsyncStandin
from tests.stack import ProcessStack

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1800)]

GAMES = 2_000
THREAD_CEILING = 64
OPENING_AT_ONCE = 200


@pytest.fixture
def held_stack(e2e_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[ProcessStack, str]]:
    """Stand-in (flood limits off), db-init, worker, api and telebot (300 s question timers, its highest
    Telegram rate) as processes; yields (stack, stand-in URL)."""
    port, ops = free_port(), free_port()
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot", "QUESTION_TIME_LIMIT": "300",
                    "TELEGRAM_GLOBAL_RATE": "1000", "API_RATE_LIMIT": str(10**9)})
    stack = ProcessStack(e2e_env, tmp_path)
    try:
        stack.start("standin", "gateways.telegram_standin", "--port", str(port), "--flood-limits", "off")
        stack.wait_http(f"http://127.0.0.1:{port}/_standin/health")
        init = stack.run("db-init", "gateways.db_init")
        assert init.returncode == 0, init.stderr
        stack.start("worker", "gateways.worker")
        stack.start("api", "gateways.api.main")
        stack.wait_http(f"{e2e_env['API_URL']}/readyz")
        stack.start("telebot", "gateways.telegram.main", env={"OPS_PORT": str(ops)})
        stack.wait_http(f"http://127.0.0.1:{ops}/readyz", timeout_s=90)
        yield stack, f"http://127.0.0.1:{port}"
    finally:
        if "telebot" in stack.processes:
            stack.stop("telebot", timeout_s=120)  # thousands of open games may take a while to stop
        stack.stop_all()


async def _open(standin_url: str, telebot_pid: int) -> tuple[Opening, ProcWatch]:
    standin = AsyncStandin(standin_url, connections=OPENING_AT_ONCE + 8)
    opening = Opening()
    watch = ProcWatch(lambda: telebot_pid, lambda: len(opening.opened), every_s=0.5).start()
    try:
        chats = await create_users(standin, GAMES)
        await open_games(standin, chats, questions=5, concurrency=OPENING_AT_ONCE, budget_s=900, opening=opening)
    finally:
        await watch.stop()  # its last sample is taken with every game open
        await standin.close()
    return opening, watch


def test_a_telebot_holding_2000_open_games_stays_within_64_threads(held_stack: tuple[ProcessStack, str]) -> None:
    stack, standin_url = held_stack
    opening, watch = run(_open(standin_url, stack.processes["telebot"].pid))
    held = watch.samples[-1]
    problems = []
    if len(opening.opened) < GAMES:
        problems.append(f"only {len(opening.opened)} of {GAMES} games got their first question "
                        f"(failures: {dict(opening.failures)})")
    if watch.peak_threads > THREAD_CEILING:
        problems.append(f"the telebot ran up to {watch.peak_threads} threads while the games opened and "
                        f"{held.threads} with {held.games_open} held (at most {THREAD_CEILING} allowed)")
    assert not problems, "; ".join(problems) + f" [{opening.report()['games_per_s']:.1f} games opened/s]"
