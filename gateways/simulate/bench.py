"""``scripts/bench``: start the local stack as processes, measure the pipeline and its floors, write
docs/benchmarks.md.

In one run: the API pipeline's throughput and latency (the simulator in API mode), its floors (a no-op HTTP app
behind the same uvicorn and load generator; the broker's produce -> consume round trip; the database writes
of an answer; the worker's code in-process without Kafka and HTTP), latency at a fixed answer rate, one
worker against two, and one telebot: Telegram mode at Telegram's 30 messages/s, then many open games held
at once (RSS from /proc) with the answer -> reply latency while they are held. The CPU time each process
spends is read from /proc too. Sizes are flags; the defaults take about a quarter of an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import random
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import attrs

from gateways.local_broker import free_port
from gateways.simulate.api_mode import ApiSimulation
from gateways.simulate.bench_notes import NOTES
from gateways.simulate.floors import broker_floor, create_games, database_floor, inprocess_floor
from gateways.simulate.http import run as run_loop
from gateways.simulate.players import Limits, Mix, Pacer
from gateways.simulate.progress import Progress
from gateways.simulate.report import Recorder, markdown, summarize
from gateways.simulate.stack import DEFAULT_ADMIN_URL, BenchStack, StackError, proc_status
from gateways.simulate.telegram_mode import (
    AsyncStandin,
    ChatReader,
    StandinUnavailable,
    TelegramSimulation,
    is_question,
)
from schema.db import bind_database
from trivia_actors.runtime import load_settings

logger = logging.getLogger(__name__)

PHASES = ("pipeline", "rate", "floors", "workers", "telegram", "sessions")


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
    stack_log_level: str = "WARNING"
    submit_wait_s: float = 5.0  # the simulator's players ask each command to wait for its outcome (POST ?wait=)
    skip: tuple[str, ...] = ()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError as exc:
        logger.info("no /proc/cpuinfo: %s", exc)
    memory_kib = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            memory_kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError) as exc:
        logger.info("no /proc/meminfo: %s", exc)
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average": list(os.getloadavg())}


# --- the API pipeline -------------------------------------------------------------------------------------


def simulate_api(api_url: str, credentials: dict[str, str], *, players: int, duration_s: float, questions: int,
                 rate: float | None = None, label: str = "", stack: BenchStack | None = None,
                 http_client: str = "lean", submit_wait_s: float = 0.0) -> dict[str, Any]:
    """One simulator run in API mode; its report with the timeline (and the CPU each process spent)."""
    recorder = Recorder(headline="result")
    simulation = ApiSimulation(api_url, credentials, players=players, mix=Mix(question_count=questions),
                               limits=Limits(duration_s=duration_s, rate=rate), recorder=recorder, seed=11,
                               http_client=http_client, submit_wait_s=submit_wait_s)
    print(f"  {label}: {players} players, {duration_s:g} s" + (f", paced at {rate:g} answers/s" if rate else ""),
          file=sys.stderr)
    before = stack.cpu() if stack is not None else {}
    with Progress(recorder, sys.stderr, plain_interval_s=10.0):
        run_loop(simulation.run())
    report = recorder.report(mode="api", config={"players": players, "duration_s": duration_s,
                                                 "questions": questions, "rate": rate, "target": api_url,
                                                 "http_client": http_client, "submit_wait_s": submit_wait_s})
    if stack is not None:
        report["cpu"] = cpu_report(before, stack.cpu(), answers=report["counts"].get("answers", 0),
                                   elapsed_s=report["duration_s"])
    report["timeline"] = recorder.timeline()
    return report


def cpu_report(before: dict[str, float], after: dict[str, float], *, answers: int, elapsed_s: float) -> dict[str, Any]:
    """CPU per process over a run: seconds, cores busy, milliseconds per answer; and what the total per answer
    would allow on this machine's cores were nothing else running (a projection, not a measurement)."""
    spent = {name: max(end - before.get(name, 0.0), 0.0) for name, end in after.items()}
    rows = {name: {"seconds": seconds, "cores": seconds / elapsed_s,
                   "ms_per_answer": seconds * 1000 / answers if answers else None}
            for name, seconds in spent.items()}
    total = sum(spent.values())
    system = total - spent.get("load generator", 0.0)
    cores = os.cpu_count() or 1
    per_answer = system * 1000 / answers if answers else None
    return {"processes": rows, "total_seconds": total, "system_ms_per_answer": per_answer,
            "projected_answers_per_s_idle_box": cores * 1000 / per_answer if per_answer else None,
            "projected_with_generator": cores * 1000 / (total * 1000 / answers) if answers and total else None}


def idle_cpu(stack: BenchStack, *, seconds: float) -> dict[str, float]:
    """Cores each process keeps busy while nothing is asked of it."""
    print(f"bench: {seconds:g} s idle", file=sys.stderr)
    before = stack.cpu()
    time.sleep(seconds)
    after = stack.cpu()
    return {name: max(after[name] - before.get(name, 0.0), 0.0) / seconds
            for name in after if name != "load generator"}


def _histogram_mean(metrics_text: str, name: str) -> float | None:
    total = count = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total / count if count else None


def _process_seconds(metrics_text: str, command: str) -> float | None:
    pattern = re.compile(r'trivia_event_process_seconds_(sum|count)\{type="' + re.escape(command) + r'"\} (\S+)')
    values = {m[1]: float(m[2]) for m in pattern.finditer(metrics_text)}
    return values["sum"] / values["count"] if values.get("count") else None


def worker_figures(stack: BenchStack, name: str) -> dict[str, Any]:
    """From a worker's /metrics: mean persistence batch and mean time in the worker per answer."""
    text = stack.metrics(name)
    seconds = _process_seconds(text, "answer.submit")
    return {"mean_persist_batch": _histogram_mean(text, "trivia_persist_batch_size"),
            "mean_worker_ms_per_answer": None if seconds is None else seconds * 1000}


# --- Telegram: many games held open -----------------------------------------------------------------------


async def hold_sessions(standin_url: str, telebot_pid: int, *, count: int, rate: float, probe: int,
                        budget_s: float, max_pending: int = 300, sample_every_s: float = 5.0) -> dict[str, Any]:
    """``count`` users each start a game and leave its first question open (paced at ``rate`` /play per second,
    at most ``max_pending`` not yet open, within ``budget_s``); the telebot's RSS and threads as the games pile
    up, then answer -> reply latency on ``probe`` of them while all are held."""
    standin = AsyncStandin(standin_url, connections=40)
    try:
        baseline = proc_status(telebot_pid)
        gate = asyncio.Semaphore(32)

        async def make(n: int) -> int:
            async with gate:
                return int((await standin.create_user(f"Held {n}"))["id"])

        chats = list(await asyncio.gather(*(make(n) for n in range(count))))
        samples: list[dict[str, Any]] = []
        started = time.monotonic()

        async def sample() -> dict[str, Any]:
            per_chat = (await standin.stats())["per_chat"]
            delivered = sum(1 for chat in chats if int(per_chat.get(str(chat), {}).get("sent", 0)) >= 2)
            status = proc_status(telebot_pid)
            point = {"t_s": round(time.monotonic() - started, 1), "games_open": delivered,
                     "rss_mib": status["VmRSS"] / 1024, "hwm_mib": status["VmHWM"] / 1024,
                     "threads": status["Threads"]}
            samples.append(point)
            return point

        sending = True

        async def sampler() -> None:
            while sending:
                point = await sample()
                print(f"  [{point['t_s']:6.1f}s] games open {point['games_open']}/{count} "
                      f"telebot RSS {point['rss_mib']:.0f} MiB, {point['threads']} threads", file=sys.stderr)
                await asyncio.sleep(sample_every_s)

        watcher = asyncio.create_task(sampler())
        pacer = Pacer(rate)
        deadline = started + budget_s
        played = 0
        for chat in chats:
            # Keep the telebot's backlog bounded, so what is measured is open games, not queued requests.
            while samples and played - samples[-1]["games_open"] >= max_pending and time.monotonic() < deadline:
                await asyncio.sleep(1.0)
            if time.monotonic() >= deadline:
                break
            await pacer.slot()
            await standin.send(chat, "/play 5")
            played += 1
        ramp_s = time.monotonic() - started
        settle = time.monotonic() + 60.0
        while (not samples or samples[-1]["games_open"] < played) and time.monotonic() < min(settle, deadline + 60):
            await asyncio.sleep(1.0)
        sending = False
        await watcher
        held = await sample()
        latencies: list[float] = []
        lost = 0
        gate_probe = asyncio.Semaphore(8)

        async def answer(chat: int) -> None:
            nonlocal lost
            async with gate_probe:
                reader = ChatReader(standin, chat)
                question = None  # the chat's latest question: a timer may have moved the game on
                while (item := await reader.next(is_question, 0.5)) is not None:
                    question = item
                if question is None:
                    lost += 1
                    return
                button = question["buttons"][0][0]
                tapped = time.monotonic()
                try:
                    await standin.click(chat, chat, int(question["message_id"]), str(button["callback_data"]))
                except StandinUnavailable:
                    return  # its timer closed the question between the read and the tap: not an answer
                reply = await reader.next(lambda m: m.get("kind") == "edit"
                                          and m.get("message_id") == question["message_id"], 60.0)
                if reply is None:
                    lost += 1
                else:
                    latencies.append(time.monotonic() - tapped)

        # The latest games: their question is surely still open (the earliest may have timed out).
        recent = chats[played // 2:played]
        probed = random.Random(5).sample(recent, min(probe, len(recent)))
        await asyncio.gather(*(answer(chat) for chat in probed))
        after = await sample()
    finally:
        await standin.close()
    fit = _fit([(s["games_open"], s["rss_mib"]) for s in samples if s["games_open"] > 0])
    return {"count": count, "played": played, "rate": rate, "ramp_s": ramp_s, "held": held, "after_probe": after,
            "baseline_rss_mib": baseline["VmRSS"] / 1024, "baseline_threads": baseline["Threads"],
            "samples": samples, "fit": fit, "probe": {"answers": len(probed), "lost": lost,
                                                       "reply_ms": summarize(latencies)}}


def _fit(points: list[tuple[float, float]]) -> dict[str, float] | None:
    """Least-squares line rss = intercept + slope * games."""
    if len(points) < 3 or len({x for x, _y in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _y in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    intercept = mean_y - slope * mean_x
    return {"slope_kib_per_game": slope * 1024, "intercept_mib": intercept,
            "projected_10000_mib": intercept + slope * 10_000}


# --- the run ----------------------------------------------------------------------------------------------


def run_bench(config: BenchConfig, *, log_dir: Path, plot_dir: Path | None) -> dict[str, Any]:
    """Every measurement of the bench; the results document."""
    settings = load_settings()
    admin_url = settings.database_url if settings.database_url.startswith("postgres") else DEFAULT_ADMIN_URL
    results: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "machine": machine(), "config": attrs.asdict(config)}
    began = time.monotonic()
    stack = BenchStack(log_dir, admin_url, base_env=dict(os.environ),
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


def pipeline_phase(config: BenchConfig, stack: BenchStack, plot_dir: Path | None) -> dict[str, Any]:
    """The API pipeline as fast as the players go, one worker."""
    print("bench: API pipeline, 1 worker", file=sys.stderr)
    report = simulate_api(stack.api_url, stack.credentials, players=config.players, duration_s=config.duration_s,
                          questions=config.questions, label="pipeline", stack=stack,
                          submit_wait_s=config.submit_wait_s)
    report["worker"] = worker_figures(stack, "worker-1")
    return _keep(report, plot_dir, "pipeline")


def rate_phase(config: BenchConfig, stack: BenchStack, plot_dir: Path | None) -> dict[str, Any]:
    """Latency at a fixed answer rate."""
    print(f"bench: latency at {config.rate:g} answers/s", file=sys.stderr)
    report = simulate_api(stack.api_url, stack.credentials, players=config.rate_players,
                          duration_s=config.rate_duration_s, questions=config.questions, rate=config.rate,
                          label="fixed rate", stack=stack, submit_wait_s=config.submit_wait_s)
    return _keep(report, plot_dir, "rate")


def two_workers_phase(config: BenchConfig, stack: BenchStack, plot_dir: Path | None) -> dict[str, Any]:
    """The pipeline run again with a second worker in the group."""
    print("bench: API pipeline, 2 workers", file=sys.stderr)
    stack.start_worker("worker-2")
    try:
        time.sleep(3)
        simulate_api(stack.api_url, stack.credentials, players=8, duration_s=3, questions=config.questions,
                     label="settle")
        report = simulate_api(stack.api_url, stack.credentials, players=config.players, duration_s=config.duration_s,
                              questions=config.questions, label="pipeline, 2 workers", stack=stack,
                              submit_wait_s=config.submit_wait_s)
    finally:
        stack.stop_process("worker-2")
    return _keep(report, plot_dir, "two-workers")


def measure_floors(config: BenchConfig, stack: BenchStack, plot_dir: Path | None) -> dict[str, Any]:
    """(a) HTTP, (b) broker, (c) database, (d) in-process."""
    floors: dict[str, Any] = {}
    print("bench: floor (a), a no-op app behind the same uvicorn and load generator", file=sys.stderr)
    port = free_port()
    stack.start_process("floor-http", "gateways.simulate.floor_app", "--port", str(port))
    stack.wait_http(f"http://127.0.0.1:{port}/v1/requests/g.1.x", 30)
    report = simulate_api(f"http://127.0.0.1:{port}", {"client_id": "floor", "client_secret": "floor"},
                          players=config.players, duration_s=config.floor_duration_s, questions=config.questions,
                          label="HTTP floor", stack=stack, submit_wait_s=config.submit_wait_s)
    stack.stop_process("floor-http")
    floors["http"] = _keep(report, plot_dir, "floor-http")
    print("bench: floor (b), broker produce -> consume", file=sys.stderr)
    settings = load_settings(stack.env)
    floors["broker"] = broker_floor(settings, duration_s=config.floor_duration_s / 2,
                                    concurrency=config.broker_concurrency)
    floors["broker_at_rate"] = broker_floor(settings, duration_s=min(config.floor_duration_s / 2, 10.0),
                                            concurrency=8, rate=config.rate)
    print("bench: floors (c) database writes and (d) in-process worker code", file=sys.stderr)
    database = bind_database(stack.env["DATABASE_URL"], max_connections=4)
    try:
        games = create_games(database, max(config.db_answers // config.questions, 2), questions=config.questions)
        floors["database"] = database_floor(database, games, answers=config.db_answers, batch=config.db_batch)
        floors["database_batch1"] = database_floor(database, games, answers=max(config.db_answers // 3, 1),
                                                   batch=1)
        floors["inprocess"] = inprocess_floor(database, games, batch=config.db_batch)
    finally:
        if hasattr(database, "close_all"):
            database.close_all()
    return floors


def measure_telegram(config: BenchConfig, standin_url: str, plot_dir: Path | None) -> dict[str, Any]:
    """Telegram mode at (a little above) the bot's 30 messages/s, flood limits enforced by the stand-in."""
    print(f"bench: Telegram mode, {config.telegram_players} players", file=sys.stderr)
    recorder = Recorder(headline="reply")
    mix = Mix(question_count=config.questions, think_s=config.telegram_think_ms / 1000.0)
    simulation = TelegramSimulation(standin_url, players=config.telegram_players, mix=mix,
                                    limits=Limits(duration_s=config.telegram_duration_s), recorder=recorder, seed=3)
    with Progress(recorder, sys.stderr, plain_interval_s=10.0):
        run_loop(simulation.run())
    report = recorder.report(mode="telegram", config={"players": config.telegram_players,
                                                      "think_ms": config.telegram_think_ms,
                                                      "duration_s": config.telegram_duration_s},
                             extra={"standin": simulation.standin_stats})
    report["timeline"] = recorder.timeline()
    return _keep(report, plot_dir, "telegram")


def _keep(report: dict[str, Any], plot_dir: Path | None, name: str) -> dict[str, Any]:
    """The report without its timeline, plotted first when a plot directory is given."""
    timeline = report.pop("timeline", {})
    if plot_dir is not None and timeline:
        from gateways.simulate.plot import write_plot

        plot_dir.mkdir(parents=True, exist_ok=True)
        path = plot_dir / f"{name}.png"
        write_plot(timeline, str(path), headline=report["headline_step"], title=f"bench: {name}")
        report["plot"] = str(path)
    return report


# --- the document -----------------------------------------------------------------------------------------


def _ms(summary: dict[str, Any] | None, key: str) -> str:
    value = summary.get(key) if summary else None
    return "n/a" if value is None else f"{value:.1f}"


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def floor_table(results: dict[str, Any]) -> tuple[list[str], float | None]:
    """The floors in answers/s with the pipeline's share of each; and the slowest floor."""
    pipeline = results.get("pipeline", {}).get("throughput", {}).get("answers_per_s")
    floors = results.get("floors") or {}
    rows: list[tuple[str, float, str]] = []
    if "http" in floors:
        rows.append(("(a) HTTP: no-op app, same uvicorn settings and load generator",
                     floors["http"]["throughput"]["answers_per_s"],
                     "answers/s (one POST each)" if floors["http"]["config"].get("submit_wait_s")
                     else "answers/s (2 requests each)"))
    if "broker" in floors:
        rows.append(("(b) broker: produce (acks=all, wait) -> consume; an answer makes 2 trips",
                     floors["broker"]["round_trips_per_s"] / 2,
                     f"{floors['broker']['round_trips_per_s']:,.0f} round trips/s / 2"))
    if "database" in floors:
        rows.append((f"(c) PostgreSQL: answers row + game update, savepoint each, {floors['database']['batch']} "
                     "per transaction", floors["database"]["answers_per_s"], "answers/s"))
    if floors.get("inprocess", {}).get("answers_per_s"):
        rows.append((f"(d) in-process: question read + evaluate + record_answer, {floors['inprocess']['batch']} "
                     "per transaction", floors["inprocess"]["answers_per_s"], "answers/s"))
    lines = ["| floor | capacity (answers/s) | measured as | pipeline / floor |", "|---|---:|---|---:|"]
    for label, value, note in rows:
        share = "n/a" if not pipeline else f"{pipeline / value:.0%}"
        lines.append(f"| {label} | {value:,.0f} | {note} | {share} |")
    slowest = min((value for _l, value, _n in rows), default=None)
    return lines, slowest


def cpu_lines(report: dict[str, Any]) -> list[str]:
    """The CPU each process spent over a run, and what that allows on an idle machine."""
    cpu = report.get("cpu")
    if not cpu:
        return []
    lines = ["", "| process | CPU s | cores busy | CPU ms per answer |", "|---|---:|---:|---:|"]
    for name, row in sorted(cpu["processes"].items(), key=lambda item: -item[1]["seconds"]):
        per = "n/a" if row["ms_per_answer"] is None else f"{row['ms_per_answer']:.2f}"
        lines.append(f"| {name} | {row['seconds']:.1f} | {row['cores']:.2f} | {per} |")
    if cpu.get("system_ms_per_answer"):
        lines += ["", f"Every process but the load generator: {cpu['system_ms_per_answer']:.2f} ms of CPU per answer, "
                      f"so {os.cpu_count()} idle cores could carry at most about "
                      f"{cpu['projected_answers_per_s_idle_box']:,.0f} answers/s "
                      f"({cpu['projected_with_generator']:,.0f}/s with this load generator on the same cores): "
                      "a projection from CPU time, not a measurement."]
    return lines


def _loads(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else "n/a"


def _targets_rows(results: dict[str, Any], slowest: float | None) -> list[str]:
    m = results["machine"]
    pipeline, rate, two = results.get("pipeline"), results.get("rate"), results.get("workers")
    telegram, sessions = results.get("telegram"), results.get("sessions")
    rows = ["| target | measured | |", "|---|---|---|"]
    if pipeline:
        ok = pipeline["throughput"]["answers_per_s"] >= 1000 and pipeline["errors_total"] == 0
        projected = (pipeline.get("cpu") or {}).get("projected_answers_per_s_idle_box")
        projection = "" if not projected else f" (CPU-time projection for an idle box: ~{projected:,.0f}/s)"
        rows.append(f"| >= 1,000 answers/s through the API pipeline, zero errors | "
                    f"{pipeline['throughput']['answers_per_s']:,.0f} answers/s, {pipeline['errors_total']} errors"
                    f"{projection} | {_yes(ok)} |")
        if slowest:
            share = pipeline["throughput"]["answers_per_s"] / slowest
            rows.append(f"| >= 50% of the slowest floor | {share:.0%} of {slowest:,.0f} answers/s | "
                        f"{_yes(share >= 0.5)} |")
    if rate:
        result = rate["latency_ms"].get("result", {})
        ok = bool(result.get("count")) and result["p50"] < 15 and result["p99"] < 50 and rate["errors_total"] == 0
        rows.append(f"| p50 < 15 ms, p99 < 50 ms submit -> result at {results['config']['rate']:g} answers/s | "
                    f"p50 {_ms(result, 'p50')} ms, p99 {_ms(result, 'p99')} ms "
                    f"({rate['throughput']['answers_per_s']:.0f} answers/s reached) | {_yes(ok)} |")
    if telegram:
        standin = telegram.get("standin", {})
        lost = sum(n for kind, n in telegram["errors"].items() if kind.startswith("lost"))
        clean = standin.get("rate_limited_429", 1) == 0 and lost == 0 and telegram["errors_total"] == 0
        reached = standin.get("bot_messages_per_s", 0) >= 27  # within 10% of Telegram's 30/s
        ok = clean and reached
        rows.append(f"| Telegram mode at 30 msgs/s, zero 429s, zero lost replies | "
                    f"{standin.get('bot_messages_per_s', 0):.1f} bot msgs/s, {standin.get('rate_limited_429', 0):.0f} "
                    f"429s, {lost} lost replies, {telegram['errors_total']} errors | {_yes(ok)}"
                    f"{'' if reached else ' (the rate was not reached)'} |")
    if sessions:
        fit = sessions.get("fit") or {}
        held = sessions["held"]
        projected = fit.get("projected_10000_mib")
        if held["games_open"] >= 10_000:
            verdict = _yes(held["rss_mib"] < 1536)
        elif projected is None:
            verdict = "n/a (too few samples to extrapolate)"
        else:
            verdict = "extrapolated: " + _yes(projected < 1536)
        rows.append(f"| 10,000 active games per telebot < 1.5 GB RSS | {held['games_open']:,} games open: "
                    f"{held['rss_mib']:.0f} MiB RSS; linear projection to 10,000: "
                    f"{'n/a' if projected is None else f'{projected:.0f} MiB'} | {verdict} |")
    if pipeline and two:
        one, both = pipeline["throughput"]["answers_per_s"], two["throughput"]["answers_per_s"]
        cores = m["cores"] or 1
        judged = _yes(both / one >= 1.6) if cores >= 6 else f"cannot be shown on {cores} cores"
        rows.append(f"| 2 workers >= 1.6x of 1 (where cores allow) | {both:,.0f} vs {one:,.0f} answers/s = "
                    f"{both / one:.2f}x on {cores} cores | {judged} |")
    return rows


def render(results: dict[str, Any], *, notes: str) -> str:
    """docs/benchmarks.md."""
    failed = {name: phase["error"] for name, phase in results.items() if isinstance(phase, dict) and "error" in phase}
    results = {name: phase for name, phase in results.items() if name not in failed}
    m = results["machine"]
    pipeline, rate, two = results.get("pipeline"), results.get("rate"), results.get("workers")
    telegram, sessions = results.get("telegram"), results.get("sessions")
    floor_lines, slowest = floor_table(results)
    out = [
        "# Benchmarks",
        "",
        f"Written by `scripts/bench` on {results['started_at']} (the run took {results['seconds'] / 60:.1f} min). "
        "Rerun it to refresh every number here; `scripts/bench --help` lists the sizes."
        + "".join(f" The {name} phase is from the run of {phase['reused_from']} (`--reuse`)."
                  for name, phase in results.items() if isinstance(phase, dict) and "reused_from" in phase),
        "",
        f"Machine: **{m['cores']} cores** ({m['cpu'] or 'unknown CPU'}), {m['memory_gib']} GiB, Python "
        f"{m['python']}, {m['platform']}. Load average before the run {_loads(m['load_average'])}, after "
        f"{_loads(m.get('load_average_after', []))}: a load above the core count means other processes "
        "shared the CPU with the bench, and every throughput below is lower (and every latency higher) for it. "
        "CPU time per answer, read from /proc for each process, depends much less on that.",
        "",
        "Setup: everything on one box, as processes: Tansu broker (in memory), PostgreSQL (a fresh database), "
        "api (uvicorn), worker(s), and for the Telegram figures the Bot API stand-in (flood limits enforced) "
        f"and one telebot. Stack log level {results['config']['stack_log_level']}; `API_RATE_LIMIT` raised so "
        "the load is not throttled; 6 partitions. The load generator (`trivia-simulate`, asyncio with its lean "
        f"keep-alive HTTP client) runs on the same {m['cores']} cores.",
        "",
        "## Targets",
        "",
        *_targets_rows(results, slowest),
    ]
    if results.get("idle"):
        idle = results["idle"]
        out += ["", "## Idle", "", "Cores each process kept busy over 10 s with no load: "
                + ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(idle.items(), key=lambda i: -i[1]))
                + f" (together {sum(idle.values()):.2f}). The Kafka consumers poll with "
                "`KAFKA_FETCH_MAX_WAIT_MS=10` because Tansu does not hold a fetch open until data arrives "
                "(DESIGN.md section 13), so each consumer makes about a hundred fetch round trips a second "
                "even when there is nothing to read."]
    if pipeline:
        out += ["", "## The API pipeline and its floors", "",
                f"Pipeline: {pipeline['config']['players']} players, games of {pipeline['config']['questions']} "
                f"questions (game creation included), as fast as they go for {pipeline['config']['duration_s']:g} s, "
                "1 worker.", "", markdown(pipeline).rstrip(), *cpu_lines(pipeline)]
        worker = pipeline.get("worker") or {}
        if worker.get("mean_persist_batch") is not None and worker.get("mean_worker_ms_per_answer") is not None:
            out += ["", f"Worker: mean persistence batch {worker['mean_persist_batch']:.1f} commands; mean time in "
                        f"the worker per answer (received -> results acknowledged) "
                        f"{worker['mean_worker_ms_per_answer']:.1f} ms."]
    if results.get("floors"):
        floors = results["floors"]
        out += ["", "Floors, each measured alone in the same run (as answers/s where the figure is not already "
                    "in answers):", "", *floor_lines, ""]
        if "broker" in floors:
            b = floors["broker"]
            out.append(f"Broker: {b['concurrency']} producer threads, {b['round_trips_per_s']:,.0f} round trips/s, "
                       f"ack p50 {_ms(b['ack_ms'], 'p50')} ms, produce -> consume p50 {_ms(b['rtt_ms'], 'p50')} ms, "
                       f"p99 {_ms(b['rtt_ms'], 'p99')} ms.")
        if "broker_at_rate" in floors:
            b = floors["broker_at_rate"]
            out.append(f"At {b['rate']:g} messages/s: produce -> consume p50 {_ms(b['rtt_ms'], 'p50')} ms, "
                       f"p99 {_ms(b['rtt_ms'], 'p99')} ms (an answer makes two such trips).")
        if "database_batch1" in floors:
            out.append(f"Database, one answer per transaction: {floors['database_batch1']['answers_per_s']:,.0f} "
                       "answers/s.")
        if "inprocess" in floors:
            inproc = floors["inprocess"]
            out.append(f"In-process: {inproc['statements_per_answer']:.1f} SQL statements per answer (Peewee's log, "
                       f"savepoints included), {inproc['cpu_ms_per_answer']:.2f} ms of the bench's CPU per answer "
                       f"(PostgreSQL's not counted); outcomes {inproc['outcomes']}.")
        if "database" in floors:
            out.append(f"Database floor: {floors['database']['cpu_ms_per_answer']:.2f} ms of the bench's CPU per "
                       "answer.")
        if "http" in floors:
            out += ["", "HTTP floor run:", "", markdown(floors["http"]).rstrip(), *cpu_lines(floors["http"])]
    if rate:
        out += ["", f"## Latency at a fixed {results['config']['rate']:g} answers/s", "",
                f"{rate['config']['players']} players, answers paced evenly over all of them.", "",
                markdown(rate).rstrip(), *cpu_lines(rate)]
    if two:
        out += ["", "## One worker against two", "",
                f"Same load as the pipeline run, a second worker in the group (6 partitions). On {m['cores']} cores "
                "the api, the workers, the broker, PostgreSQL and the load generator all share the same CPUs, so a "
                "second worker adds no CPU; what it can show is whether the group splits the work without "
                "losing anything.", "", markdown(two).rstrip(), *cpu_lines(two)]
    if telegram:
        s = telegram.get("standin", {})
        out += ["", "## Telegram mode", "",
                f"{telegram['config']['players']} users through the stand-in and one telebot, mean think time "
                f"{telegram['config']['think_ms']:g} ms, offered a little above Telegram's 30 messages/s. The bot "
                f"sent {s.get('sent', 0):.0f} messages and {s.get('edits', 0):.0f} edits "
                f"({s.get('bot_messages_per_s', 0):.1f}/s); the stand-in answered 429 "
                f"{s.get('rate_limited_429', 0):.0f} times and counted {s.get('limit_breaches', 0):.0f} "
                "flood-limit breaches.", "", markdown(telegram).rstrip()]
    if sessions:
        out += ["", "## Games held open by one telebot", "", *_sessions_text(sessions)]
    if failed:
        out += ["", "## Phases that failed in this run", ""]
        out += [f"- {name}: {error}" for name, error in failed.items()]
    out += ["", notes.strip(), ""]
    return "\n".join(out)


def _sessions_text(sessions: dict[str, Any]) -> list[str]:
    held, fit, probe = sessions["held"], sessions.get("fit") or {}, sessions["probe"]
    lines = [
        f"{sessions['played']:,} of {sessions['count']:,} Telegram users sent `/play 5` within the phase's time "
        f"budget (paced at up to {sessions['rate']:g}/s, with at most 300 games not yet open; "
        f"{sessions['ramp_s']:.0f} s) and left the first question open (question timer 300 s). This phase "
        "lifts the rate ceilings (stand-in flood limits off, `TELEGRAM_GLOBAL_RATE=1000`): at Telegram's "
        "30 messages/s each game's two opening messages make 10,000 games take over 11 minutes to open, and "
        "10,000 idle games' timeouts alone would ask for more than 30 messages/s; what is measured here is the "
        "telebot's memory.",
        "",
        f"Held: {held['games_open']:,} games open, telebot RSS {held['rss_mib']:.0f} MiB (peak "
        f"{held['hwm_mib']:.0f} MiB), {held['threads']} threads; at start {sessions['baseline_rss_mib']:.0f} MiB, "
        f"{sessions['baseline_threads']} threads. A live session is an actor thread plus its question timer; "
        "the session manager passivates sessions idle for 60 s (snapshot kept, actor stopped), so threads "
        "fall back while the games stay open.",
    ]
    if fit:
        lines += ["", f"Linear fit over the ramp: {fit['slope_kib_per_game']:.1f} KiB per open game on top of "
                      f"{fit['intercept_mib']:.0f} MiB. **Extrapolated** (not measured) to 10,000 open games: "
                      f"{fit['projected_10000_mib']:.0f} MiB."]
    lines += ["", f"Answer -> reply while they are held ({probe['answers']} of them answered, "
                  f"{probe['lost']} without a reply within 60 s): p50 {_ms(probe['reply_ms'], 'p50')} ms, "
                  f"p99 {_ms(probe['reply_ms'], 'p99')} "
                  f"ms, max {_ms(probe['reply_ms'], 'max')} ms.", "",
              "| t (s) | games open | RSS MiB | threads |", "|---:|---:|---:|---:|"]
    for point in sessions["samples"][:: max(1, len(sessions["samples"]) // 12)]:
        lines.append(f"| {point['t_s']:.0f} | {point['games_open']:,} | {point['rss_mib']:.0f} | {point['threads']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse the sizes, run, print the figures, write the document."""
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, default=defaults.players)
    parser.add_argument("--duration", type=float, default=defaults.duration_s, help="seconds per pipeline run")
    parser.add_argument("--questions", type=int, default=defaults.questions)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="answers/s of the fixed-rate run")
    parser.add_argument("--rate-duration", type=float, default=defaults.rate_duration_s)
    parser.add_argument("--rate-players", type=int, default=defaults.rate_players)
    parser.add_argument("--floor-duration", type=float, default=defaults.floor_duration_s)
    parser.add_argument("--broker-concurrency", type=int, default=defaults.broker_concurrency)
    parser.add_argument("--db-answers", type=int, default=defaults.db_answers)
    parser.add_argument("--db-batch", type=int, default=defaults.db_batch)
    parser.add_argument("--telegram-players", type=int, default=defaults.telegram_players)
    parser.add_argument("--telegram-think-ms", type=float, default=defaults.telegram_think_ms)
    parser.add_argument("--telegram-duration", type=float, default=defaults.telegram_duration_s)
    parser.add_argument("--sessions", type=int, default=defaults.sessions, help="games held open by one telebot")
    parser.add_argument("--sessions-rate", type=float, default=defaults.sessions_rate, help="/play per second")
    parser.add_argument("--sessions-budget", type=float, default=defaults.sessions_budget_s,
                        help="seconds to open games in; the count reached is what is reported")
    parser.add_argument("--stack-log-level", default=defaults.stack_log_level)
    parser.add_argument("--submit-wait", type=float, default=defaults.submit_wait_s,
                        help="seconds each command waits for its outcome in the POST (0: POST, then long poll)")
    parser.add_argument("--skip", default="", help=f"comma-separated phases to skip: {', '.join(PHASES)}")
    parser.add_argument("--reuse", metavar="JSON", help="take the skipped phases from an earlier run's results")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every phase")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the Markdown document ('-': stdout only)")
    parser.add_argument("--json-out", default="var/bench/results.json")
    parser.add_argument("--plot-dir", default="var/bench", help="PNG plots of each run ('' for none)")
    parser.add_argument("--log-dir", default="var/bench/logs")
    args = parser.parse_args(argv)
    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    unknown = set(skip) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases to skip: {', '.join(sorted(unknown))}")
    config = BenchConfig(
        players=args.players, duration_s=args.duration, questions=args.questions, rate=args.rate,
        rate_duration_s=args.rate_duration, rate_players=args.rate_players, floor_duration_s=args.floor_duration,
        broker_concurrency=args.broker_concurrency, db_answers=args.db_answers, db_batch=args.db_batch,
        telegram_players=args.telegram_players, telegram_think_ms=args.telegram_think_ms,
        telegram_duration_s=args.telegram_duration, sessions=args.sessions, sessions_rate=args.sessions_rate,
        sessions_budget_s=args.sessions_budget, stack_log_level=args.stack_log_level,
        submit_wait_s=args.submit_wait, skip=skip)
    if args.quick:
        config = attrs.evolve(config, duration_s=5, rate_duration_s=5, floor_duration_s=4, db_answers=300,
                              telegram_duration_s=10, telegram_players=4, sessions=30, sessions_probe=5)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every refused connection while the broker starts; the bench reports its own failures.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGTERM, _terminate)
    results = run_bench(config, log_dir=Path(args.log_dir), plot_dir=Path(args.plot_dir) if args.plot_dir else None)
    if args.reuse:
        # Phases skipped in this run keep their figures from an earlier run's JSON (said so in the document).
        earlier = json.loads(Path(args.reuse).read_text(encoding="utf-8"))
        for name in skip:
            if name in earlier:
                results[name] = {**earlier[name], "reused_from": earlier.get("started_at", args.reuse)}
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    document = render(results, notes=NOTES)
    if args.out == "-":
        print(document)
    else:
        Path(args.out).write_text(document, encoding="utf-8")
        print(_summary(document))
        print(f"bench: wrote {args.out} and {args.json_out}", file=sys.stderr)
    return 0


def _summary(document: str) -> str:
    """The machine line, the targets and the floors, for the terminal."""
    keep = [block for block in document.split("\n\n")
            if block.startswith(("| target", "| floor", "Machine:"))]
    return "\n\n".join(keep)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    raise SystemExit(main())
