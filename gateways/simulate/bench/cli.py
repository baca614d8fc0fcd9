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
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import attrs

from gateways.simulate.bench import document_held
from gateways.simulate.bench.config import PHASES, BenchConfig
from gateways.simulate.bench.document import render, summary
from gateways.simulate.bench.run import run_bench
from gateways.simulate.bench_notes import NOTES


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
    parser.add_argument("--held-games", type=int, default=defaults.held_games,
                        help="held-games phase: open games seeded into the telebot's store before it starts")
    parser.add_argument("--held-live", type=int, default=defaults.held_live,
                        help="held-games phase: games opened live through the pipeline on top of the seeded ones")
    parser.add_argument("--held-concurrency", type=int, default=defaults.held_concurrency,
                        help="live games being opened at once")
    parser.add_argument("--held-budget", type=float, default=defaults.held_budget_s,
                        help="seconds to open the live games in; the count reached is what is reported")
    parser.add_argument("--held-quiet", type=float, default=defaults.held_quiet_s,
                        help="seconds of nothing asked while the games are held (idle CPU, timers firing)")
    parser.add_argument("--held-probe-players", type=int, default=defaults.held_probe_players)
    parser.add_argument("--held-probe-answers", type=int, default=defaults.held_probe_answers,
                        help="answers per probe player while the games are held")
    parser.add_argument("--stack-log-level", default=defaults.stack_log_level)
    parser.add_argument("--submit-wait", type=float, default=defaults.submit_wait_s,
                        help="seconds each command waits for its outcome in the POST (0: POST, then long poll)")
    parser.add_argument("--skip", default="", help=f"comma-separated phases to skip: {', '.join(PHASES)}")
    parser.add_argument("--phase", default="", help="comma-separated phases to run, the others skipped")
    parser.add_argument("--reuse", metavar="JSON", help="take the skipped phases from an earlier run's results")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every phase")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the Markdown document ('-': stdout only)")
    parser.add_argument("--splice", action="store_true",
                        help="replace only the held-games target rows and section in the existing --out document "
                             "(for a run of --phase held-games alone), keeping the rest")
    parser.add_argument("--json-out", default="var/bench/results.json")
    parser.add_argument("--plot-dir", default="var/bench", help="PNG plots of each run ('' for none)")
    parser.add_argument("--log-dir", default="var/bench/logs")
    args = parser.parse_args(argv)
    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    unknown = set(skip) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases to skip: {', '.join(sorted(unknown))}")
    only = {s.strip() for s in args.phase.split(",") if s.strip()}
    if only - set(PHASES):
        parser.error(f"unknown phases to run: {', '.join(sorted(only - set(PHASES)))}")
    if only:
        skip = tuple(name for name in PHASES if name not in only or name in skip)
    config = BenchConfig(
        players=args.players, duration_s=args.duration, questions=args.questions, rate=args.rate,
        rate_duration_s=args.rate_duration, rate_players=args.rate_players, floor_duration_s=args.floor_duration,
        broker_concurrency=args.broker_concurrency, db_answers=args.db_answers, db_batch=args.db_batch,
        telegram_players=args.telegram_players, telegram_think_ms=args.telegram_think_ms,
        telegram_duration_s=args.telegram_duration, sessions=args.sessions, sessions_rate=args.sessions_rate,
        sessions_budget_s=args.sessions_budget, held_games=args.held_games, held_live=args.held_live,
        held_concurrency=args.held_concurrency,
        held_budget_s=args.held_budget, held_quiet_s=args.held_quiet, held_probe_players=args.held_probe_players,
        held_probe_answers=args.held_probe_answers, stack_log_level=args.stack_log_level,
        submit_wait_s=args.submit_wait, skip=skip)
    if args.quick:
        config = attrs.evolve(config, duration_s=5, rate_duration_s=5, floor_duration_s=4, db_answers=300,
                              telegram_duration_s=10, telegram_players=4, sessions=30, sessions_probe=5,
                              held_games=500, held_live=50, held_quiet_s=3, held_probe_players=4, held_probe_answers=3,
                              held_probe_after_restart=1)
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
    if args.splice and args.out != "-" and Path(args.out).exists() and "held-games" in results:
        document = document_held.splice(Path(args.out).read_text(encoding="utf-8"), results)
    else:
        document = render(results, notes=NOTES)
    if args.out == "-":
        print(document)
    else:
        Path(args.out).write_text(document, encoding="utf-8")
        print(summary(document))
        print(f"bench: wrote {args.out} and {args.json_out}", file=sys.stderr)
    return 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
