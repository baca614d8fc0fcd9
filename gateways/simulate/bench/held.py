"""The held-games phase (issue 15's targets): one telebot holding many open games.

In order:

1. An empty telebot starts (threads and RSS with nothing held), and is stopped.
2. **Seeded held games** (:mod:`held_seed`): ``held_games`` open games are written into the telebot's own store,
   idle for hours; the telebot starts over them as after a restart (how long until ready, how many open games
   it says it resumed, threads and RSS holding them).
3. **Live opening**: ``held_live`` stand-in users each open a game (``/play``, first question) through the
   whole pipeline, a bounded number in flight: games opened per second, the telebot's CPU per opened game and
   its threads while opening.
4. While all are held: a quiet spell (threads, RSS and idle CPU from /proc; bot messages the held games still
   cause); probe players answering questions (answer -> reply p50/p99 as the user sees it in the stand-in, and
   the telebot's CPU per answer net of its idle CPU); the API pipeline alone at the probe's answer rate (the
   floor: what of the probe's latency is not the telebot's).
5. A SIGKILL of the telebot and a restart over every held game: the time until each probe game answered a
   tap made at the kill, when the restart had read its schedule, threads and RSS after it.

Why seeded: the real pipeline opens only 10-30 games a second on this box, and a game nobody answers stops
itself after three 300 s question timers (QUESTION_TIME_LIMIT is at the API's maximum), so at most about
900 s x the opening rate are held at once: 100,000 cannot be opened live here. A quiet open game costs a
telebot a sleeping session (chat id and wake time) and its store row, which is what the seed writes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from gateways.simulate.bench.config import BenchConfig
from gateways.simulate.bench.held_probe import ProbePlayer, answer_rounds, start_probes, tap_and_wait
from gateways.simulate.bench.held_seed import seed_held_games, time_schedule_read
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
        report: dict[str, Any] = {"empty": _status(held.pid())}
        held.stop_telebot()
        print(f"bench: seeding {config.held_games:,} open games into the telebot's store", file=sys.stderr)
        seeded = seed_held_games(held.database_url, config.held_games, questions=HELD_QUESTIONS,
                                 time_limit_s=QUESTION_TIME_LIMIT_S)
        report["seeded"] = seeded.to_json()
        print(f"bench: seeded in {seeded.seconds:.1f} s; the telebot starts over them", file=sys.stderr)
        held.start_telebot()
        held.wait_ready(RESTART_TIMEOUT_S)
        report["start"] = {"ready_s": time.time() - held.started_at, **held.start_lines()}
        return run_loop(_measure(config, stack, held, report))
    finally:
        held.stop()


async def _measure(config: BenchConfig, stack: BenchStack, held: HeldStack, report: dict[str, Any]) -> dict[str, Any]:
    standin = AsyncStandin(held.standin_url, connections=config.held_concurrency + 16)
    opening = Opening()
    seeded = report["seeded"]["games"]
    watch = ProcWatch(held.pid, lambda: seeded + len(opening.opened)).start()
    report["config"] = {
        "seeded": config.held_games, "live": config.held_live, "concurrency": config.held_concurrency,
        "budget_s": config.held_budget_s, "probe_players": config.held_probe_players,
        "probe_answers": config.held_probe_answers, "question_time_limit_s": QUESTION_TIME_LIMIT_S,
        "questions": HELD_QUESTIONS}
    report["targets"] = TARGETS
    try:
        report["baseline"] = _status(held.pid())
        print(f"bench: holding {seeded:,} seeded games: {report['baseline']['threads']:.0f} threads, RSS "
              f"{report['baseline']['rss_mib']:.0f} MiB; opening {config.held_live:,} games live "
              f"({config.held_concurrency} at a time)", file=sys.stderr)
        began = time.monotonic()
        chats = await create_users(standin, config.held_live)
        report["users_s"] = time.monotonic() - began
        cpu_before = held.cpu()
        peak_before = len(watch.samples)
        await open_games(standin, chats, questions=HELD_QUESTIONS, concurrency=config.held_concurrency,
                         budget_s=config.held_budget_s, opening=opening)
        cpu_after = held.cpu()
        opened = len(opening.opened)
        report["opening"] = opening.report()
        report["opening"]["cpu"] = cpu_report(cpu_before, cpu_after, answers=opened, elapsed_s=opening.elapsed_s)
        report["opening"]["telebot_cpu_ms_per_game"] = (
            (cpu_after["telebot"] - cpu_before["telebot"]) * 1000 / opened if opened else None)
        report["opening"]["peak_threads"] = max((s.threads for s in watch.samples[peak_before:]), default=0)
        print(f"bench: {opened:,} games opened in {opening.elapsed_s:.0f} s "
              f"({report['opening']['games_per_s']:.1f}/s); quiet for {config.held_quiet_s:g} s", file=sys.stderr)
        report["quiet"] = await _quiet(standin, held, config.held_quiet_s)
        spent = cpu_after["telebot"] - cpu_before["telebot"]
        report["opening"]["telebot_cpu_ms_per_game_net"] = (
            max(spent - report["quiet"]["telebot_cores"] * opening.elapsed_s, 0.0) * 1000 / opened if opened else None)
        now = time.monotonic()
        report["held"] = {**_status(held.pid()), "games_open": seeded + opened, "seeded": seeded, "live": opened,
                          "peak_threads": watch.peak_threads,
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
        # What a restart reads to schedule them, timed apart (the same store actor and query, the telebot up).
        report["schedule_read"] = await asyncio.to_thread(time_schedule_read, held.database_url)
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
    spawned_s = time.monotonic() - killed
    waiting = asyncio.create_task(tap_and_wait(standin, players, since=killed, timeout_s=RESTART_TIMEOUT_S))
    await asyncio.to_thread(held.wait_ready, RESTART_TIMEOUT_S)
    ready_s = time.monotonic() - killed
    answered = (await waiting).report()
    lines = held.start_lines()
    print(f"bench: ready {ready_s:.1f} s after the kill ({lines['resumed']:,} open games resumed); probe games "
          f"answered again after {answered['reply_ms'].get('max', float('nan')) / 1000:.1f} s (the slowest)",
          file=sys.stderr)
    return {"ready_s": ready_s, "spawned_s": spawned_s, "answered": answered, "killed_at_s": killed - watch.started,
            **lines}
