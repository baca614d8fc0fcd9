"""The held-games phase (issue 15's targets): one telebot holding many open games.

In order: N stand-in users each open a game (``/play``, first question) as fast as the pipeline allows, a
bounded number in flight: games opened per second, and the telebot's CPU per opened game. Then, while they
are held: a quiet spell (the telebot's threads, RSS and idle CPU from /proc, and how many bot messages the
held games still cause: question timers firing); probe players answering questions (answer -> reply p50/p99
as the user sees it in the stand-in, and the telebot's CPU per answer); the API pipeline alone at the probe's
answer rate (the floor: what of the probe's latency is not the telebot's); then a SIGKILL of the telebot, a
restart, and the time until each probe game has answered a tap made at the kill.

Question timers are 300 s (QUESTION_TIME_LIMIT, the API's maximum), so a held game is idle for its first 300 s;
a ramp longer than that sees the first games' timers fire (reported as ``games_past_first_timer``), and after
three unanswered questions a game stops by itself (``games_past_idle_stop``: opened more than 900 s before the
held figures were taken). So at most about (games opened per second) x 900 games are held at once: 100,000
idle held games need the pipeline to open more than 333 a second, and 100,000 held at all more than 111.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from gateways.simulate.bench.config import BenchConfig
from gateways.simulate.bench.held_probe import ProbePlayer, answer_rounds, start_probes, tap_and_wait
from gateways.simulate.bench.held_stack import HeldStack
from gateways.simulate.bench.opening import Opening, ProcWatch, create_users, open_games
from gateways.simulate.bench.phases import simulate_api
from gateways.simulate.bench.system import cpu_report
from gateways.simulate.http import run as run_loop
from gateways.simulate.stack import BenchStack, proc_status
from gateways.simulate.telegram_mode import AsyncStandin, StandinUnavailable

QUESTION_TIME_LIMIT_S = 300
IDLE_STOP_QUESTIONS = 3  # the telebot's default: a game nobody answers stops after this many timeouts
HELD_QUESTIONS = 5
RESTART_TIMEOUT_S = 600.0

# Issue 15's targets for one telebot.
TARGETS = {"games": 100_000, "threads": 64, "rss_mib": 1024, "cpu_ms_per_game": 2.0, "cpu_ms_per_answer": 1.0,
           "probe_p99_ms": 50.0, "restart_s": 10.0}


async def last_seq(standin: AsyncStandin) -> int:
    """The stand-in's newest event number over all chats: bot messages, edits and callback answers so far."""
    response = await standin.http.request("GET", "/messages", params={"chat_id": 0, "after_seq": 0, "wait": "0"})
    if response.status_code != 200:
        raise StandinUnavailable(f"GET /messages: HTTP {response.status_code}")
    return int(response.json()["last_seq"])


def rss_fit(points: list[tuple[float, float]], games: float) -> dict[str, float] | None:
    """Least-squares line RSS = intercept + slope * games open, and its value at ``games``."""
    if len(points) < 3 or len({x for x, _y in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in points)
             / sum((x - mean_x) ** 2 for x, _y in points))
    intercept = mean_y - slope * mean_x
    return {"slope_kib_per_game": slope * 1024, "intercept_mib": intercept, "projected_mib": intercept + slope * games}


def _status(pid: int | None) -> dict[str, float]:
    if pid is None:
        raise RuntimeError("the telebot is not running")
    status = proc_status(pid)
    return {"threads": status["Threads"], "rss_mib": status["VmRSS"] / 1024, "hwm_mib": status["VmHWM"] / 1024}


def held_games_phase(config: BenchConfig, stack: BenchStack) -> dict[str, Any]:
    """Run the phase in the running ``stack``; its report."""
    held = HeldStack(stack, question_time_limit_s=QUESTION_TIME_LIMIT_S)
    try:
        held.start()
        print(f"bench: {config.held_games:,} games held open by one telebot "
              f"({config.held_concurrency} opening at a time)", file=sys.stderr)
        return run_loop(_measure(config, stack, held))
    finally:
        held.stop()


async def _measure(config: BenchConfig, stack: BenchStack, held: HeldStack) -> dict[str, Any]:
    standin = AsyncStandin(held.standin_url, connections=config.held_concurrency + 16)
    opening = Opening()
    watch = ProcWatch(held.pid, lambda: len(opening.opened)).start()
    report: dict[str, Any] = {"config": {
        "games": config.held_games, "concurrency": config.held_concurrency, "budget_s": config.held_budget_s,
        "probe_players": config.held_probe_players, "probe_answers": config.held_probe_answers,
        "question_time_limit_s": QUESTION_TIME_LIMIT_S, "questions": HELD_QUESTIONS}, "targets": TARGETS}
    try:
        report["baseline"] = _status(held.pid())
        began = time.monotonic()
        chats = await create_users(standin, config.held_games)
        report["users_s"] = time.monotonic() - began
        cpu_before = held.cpu()
        await open_games(standin, chats, questions=HELD_QUESTIONS, concurrency=config.held_concurrency,
                         budget_s=config.held_budget_s, opening=opening)
        cpu_after = held.cpu()
        opened = len(opening.opened)
        report["opening"] = opening.report()
        report["opening"]["cpu"] = cpu_report(cpu_before, cpu_after, answers=opened, elapsed_s=opening.elapsed_s)
        report["opening"]["telebot_cpu_ms_per_game"] = (
            (cpu_after["telebot"] - cpu_before["telebot"]) * 1000 / opened if opened else None)
        report["rss_fit"] = rss_fit([(s.games_open, s.rss_mib) for s in watch.samples if s.games_open > 0],
                                    TARGETS["games"])
        print(f"bench: {opened:,} games opened in {opening.elapsed_s:.0f} s "
              f"({report['opening']['games_per_s']:.1f}/s); quiet for {config.held_quiet_s:g} s", file=sys.stderr)
        report["quiet"] = await _quiet(standin, held, config.held_quiet_s)
        now = time.monotonic()
        report["held"] = {**_status(held.pid()), "games_open": opened, "peak_threads": watch.peak_threads,
                          "games_past_first_timer": sum(1 for at in opening.opened_at
                                                        if now - at > QUESTION_TIME_LIMIT_S),
                          "games_past_idle_stop": sum(1 for at in opening.opened_at
                                                      if now - at > QUESTION_TIME_LIMIT_S * IDLE_STOP_QUESTIONS)}
        questions = min(config.held_probe_answers + 1 + config.held_probe_after_restart, 50)
        players = await start_probes(standin, config.held_probe_players, questions=questions)
        print(f"bench: probe, {len(players)} players answering {config.held_probe_answers} questions each",
              file=sys.stderr)
        telebot_before = held.cpu()["telebot"]
        probe = await answer_rounds(standin, players, answers=config.held_probe_answers)
        telebot_spent = held.cpu()["telebot"] - telebot_before
        report["probe"] = probe.report()
        answers = report["probe"]["answers"]
        idle_cores = report["quiet"]["telebot_cores"]
        report["probe"]["telebot_cpu_ms_per_answer"] = telebot_spent * 1000 / answers if answers else None
        report["probe"]["telebot_cpu_ms_per_answer_net"] = (
            max(telebot_spent - idle_cores * probe.seconds, 0.0) * 1000 / answers if answers else None)
        report["floor"] = await _api_floor(config, stack, players=len(players) or 1,
                                           rate=max(report["probe"]["answers_per_s"], 1.0),
                                           seconds=max(probe.seconds, 5.0))
        report["telebot_added_ms"] = _added(report["probe"]["reply_ms"], report["floor"]["result_ms"])
        report["restart"] = await _restart(standin, held, players, watch)
        if config.held_probe_after_restart:
            report["after_restart"] = (await answer_rounds(standin, players,
                                                           answers=config.held_probe_after_restart)).report()
        report["restored"] = {**_status(held.pid()), "peak_threads_since_kill": max(
            (s.threads for s in watch.samples if s.t_s >= report["restart"]["killed_at_s"]), default=0)}
    finally:
        await watch.stop()
        await standin.close()
    report["samples"] = [sample.to_json() for sample in watch.samples]
    return report


async def _quiet(standin: AsyncStandin, held: HeldStack, seconds: float) -> dict[str, Any]:
    """Nothing asked of the telebot for ``seconds``: its cores busy, and the bot messages the held games still
    caused (timers firing)."""
    seq, cpu, began = await last_seq(standin), held.cpu()["telebot"], time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - began
    events = await last_seq(standin) - seq
    return {"seconds": elapsed, "telebot_cores": (held.cpu()["telebot"] - cpu) / elapsed,
            "bot_events": events, "bot_events_per_s": events / elapsed}


async def _api_floor(config: BenchConfig, stack: BenchStack, *, players: int, rate: float,
                     seconds: float) -> dict[str, Any]:
    """The API pipeline alone at the probe's answer rate, while the games are still held."""
    print(f"bench: floor, the API pipeline at {rate:.1f} answers/s", file=sys.stderr)
    report = await asyncio.to_thread(simulate_api, stack.api_url, stack.credentials, players=players,
                                     duration_s=seconds, questions=HELD_QUESTIONS, rate=rate,
                                     label="API floor", submit_wait_s=config.submit_wait_s)
    return {"players": players, "rate": rate, "seconds": seconds,
            "result_ms": report["latency_ms"].get("result", {"count": 0}),
            "answers_per_s": report["throughput"]["answers_per_s"], "errors_total": report["errors_total"]}


def _added(probe: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """The probe's percentiles less the API pipeline's: the telebot's (and the stand-in's) own share."""
    return {q: (probe[q] - floor[q]) if q in probe and q in floor else None for q in ("p50", "p99")}


async def _restart(standin: AsyncStandin, held: HeldStack, players: list[ProbePlayer],
                   watch: ProcWatch) -> dict[str, Any]:
    """SIGKILL the telebot, tap every probe game's open question, start the telebot again: how long until
    each probe game answered (from the kill), and until the telebot was ready."""
    print("bench: SIGKILL of the telebot, restart", file=sys.stderr)
    killed = time.monotonic()
    held.kill_telebot()
    held.start_telebot()
    waiting = asyncio.create_task(tap_and_wait(standin, players, since=killed, timeout_s=RESTART_TIMEOUT_S))
    await asyncio.to_thread(held.wait_ready, RESTART_TIMEOUT_S)
    ready_s = time.monotonic() - killed
    answered = (await waiting).report()
    print(f"bench: ready {ready_s:.1f} s after the kill; probe games answered again after "
          f"{answered['reply_ms'].get('max', float('nan')) / 1000:.1f} s (the slowest)", file=sys.stderr)
    return {"ready_s": ready_s, "answered": answered, "killed_at_s": killed - watch.started}
