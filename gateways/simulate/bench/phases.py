"""The bench's measurements, one function a phase: the API pipeline, a fixed answer rate, one worker against
two, the floors the pipeline stands on, and Telegram mode. Each returns its report (plotted first when asked)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from gateways.local_broker import free_port
from gateways.simulate.api_mode import ApiSimulation
from gateways.simulate.bench.config import BenchConfig
from gateways.simulate.bench.system import cpu_report, worker_figures
from gateways.simulate.floors import broker_floor, create_games, database_floor, inprocess_floor
from gateways.simulate.http import run as run_loop
from gateways.simulate.players import Limits, Mix
from gateways.simulate.progress import Progress
from gateways.simulate.report import Recorder
from gateways.simulate.stack import BenchStack
from gateways.simulate.telegram_mode import TelegramSimulation
from schema.db import bind_database
from trivia_actors.runtime import load_settings


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
