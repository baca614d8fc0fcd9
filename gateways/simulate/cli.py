"""``trivia-simulate``: many virtual players at once, through the HTTP API or as Telegram users.

Exit status: 0 done (and the SLO met), 1 the SLO was missed, 2 bad usage (options, SLO text),
3 the run could not start (API or stand-in unreachable, credentials refused). See docs/simulation.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from typing import Any, TextIO

from gateways.simulate import slo as slo_grammar
from gateways.simulate.api_mode import ApiSimulation, RunFailed
from gateways.simulate.http import CLIENTS
from gateways.simulate.http import run as run_loop
from gateways.simulate.players import Limits, Mix
from gateways.simulate.progress import Progress
from gateways.simulate.report import Recorder, markdown, write_json
from gateways.simulate.telegram_mode import StandinUnavailable, TelegramSimulation

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_SLO, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="trivia-simulate", description="Run virtual players against the trivia platform and report.",
        epilog="SLO grammar: comma-separated clauses such as 'p99<50ms', 'p50(submit)<=5ms', 'max<2s', "
               "'errors=0', 'errors(http_503)<3', 'rate>=1000' (answers/s). Exit 1 when one is missed.")
    parser.add_argument("--mode", choices=("api", "telegram"), default="api")
    target = parser.add_argument_group("target")
    target.add_argument("--api-url", default="http://127.0.0.1:8000", help="API base URL (api mode)")
    target.add_argument("--credentials", metavar="FILE",
                        help='JSON {"client_id", "client_secret"} as printed by trivia-admin create-client')
    target.add_argument("--create-client", metavar="NAME", nargs="?", const="trivia-simulate",
                        help="create a client with trivia-admin (needs this environment's DATABASE_URL); "
                             "the default when no --credentials are given")
    target.add_argument("--standin-url", default="http://127.0.0.1:8081",
                        help="Telegram stand-in base URL (telegram mode)")
    load = parser.add_argument_group("load")
    load.add_argument("--players", type=_count, default=10, help="virtual players playing at once")
    load.add_argument("--duration", type=_positive, metavar="SECONDS", help="stop after this long")
    load.add_argument("--games", type=_count, help="stop after this many games (default: one per player "
                                                   "unless --duration is given)")
    load.add_argument("--rate", type=_positive, metavar="ANSWERS_PER_S",
                      help="pace answers to this rate over all players (default: as fast as they go)")
    mix = parser.add_argument_group("player mix")
    mix.add_argument("--questions", type=_count, default=5, help="questions per game")
    mix.add_argument("--category", help="category slug (default: any)")
    mix.add_argument("--text-fraction", type=_fraction, default=0.0, help="share of games answered by typing")
    mix.add_argument("--wrong-rate", type=_fraction, default=0.25, help="share of answers wrong on purpose")
    mix.add_argument("--hint-rate", type=_fraction, default=0.0, help="share of questions with a hint first")
    mix.add_argument("--think-ms", type=float, default=0.0, help="mean think time before each answer")
    mix.add_argument("--think-jitter", type=_fraction, default=0.5, help="think time varies by this fraction")
    mix.add_argument("--seed", type=int, help="random seed (default: random)")
    mix.add_argument("--group-size", type=int, default=0,
                     help="telegram mode: play group games in groups of this many players (0: solo games)")
    out = parser.add_argument_group("output")
    out.add_argument("--json-out", metavar="FILE")
    out.add_argument("--md-out", metavar="FILE")
    out.add_argument("--plot-out", metavar="FILE", help="PNG: latency over time and histogram (matplotlib)")
    out.add_argument("--slo", help="e.g. 'p99<50ms,errors=0'; exit 1 when missed")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    out.add_argument("--progress-interval", type=_positive, default=10.0,
                     help="seconds between progress lines when stderr is not a terminal")
    parser.add_argument("--http-client", choices=CLIENTS, default="lean",
                        help="lean: the simulator's own keep-alive HTTP/1.1 client (little CPU per request); "
                             "httpx: for https targets")
    parser.add_argument("--submit-wait", type=float, default=0.0, metavar="SECONDS",
                        help="api mode: ask each command to wait this long for its outcome (POST ...?wait=), one "
                             "request per answer instead of a POST and a long poll (0: POST, then poll)")
    parser.add_argument("--result-timeout", type=_positive, default=30.0,
                        help="seconds to wait for a result (api) or a reply (telegram) before counting it lost")
    return parser


def create_client(name: str) -> dict[str, str]:
    """Credentials of a new API client from ``trivia-admin create-client`` run in this environment."""
    done = subprocess.run([sys.executable, "-m", "gateways.admin", "create-client", name], capture_output=True,
                          text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RunFailed(f"trivia-admin create-client failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    credentials: dict[str, str] = json.loads(done.stdout)
    return credentials


def _credentials(args: argparse.Namespace) -> dict[str, str]:
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as handle:
            document = json.load(handle)
        return {"client_id": str(document["client_id"]), "client_secret": str(document["client_secret"])}
    return create_client(args.create_client or "trivia-simulate")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("mode", "players", "duration", "games", "rate", "questions", "category", "text_fraction", "wrong_rate",
            "hint_rate", "think_ms", "think_jitter", "seed", "group_size", "result_timeout", "http_client",
            "submit_wait")
    config = {key: getattr(args, key) for key in keys}
    config["target"] = args.api_url if args.mode == "api" else args.standin_url
    return config


def run(args: argparse.Namespace, *, stderr: TextIO) -> dict[str, Any]:
    """Run the simulation the arguments describe; the report (without SLO outcomes) and its timeline."""
    mix = Mix(question_count=args.questions, category=args.category, text_fraction=args.text_fraction,
              wrong_rate=args.wrong_rate, hint_rate=args.hint_rate, think_s=args.think_ms / 1000.0,
              think_jitter=args.think_jitter)
    games = args.games if args.games is not None or args.duration is not None else args.players
    limits = Limits(duration_s=args.duration, games=games, rate=args.rate)
    extra: dict[str, Any] = {}
    if args.mode == "api":
        recorder = Recorder(headline="result")
        simulation = ApiSimulation(args.api_url, _credentials(args), players=args.players, mix=mix, limits=limits,
                                   recorder=recorder, seed=args.seed, result_timeout_s=args.result_timeout,
                                   http_client=args.http_client, submit_wait_s=max(args.submit_wait, 0.0))
        with Progress(recorder, stderr, plain_interval_s=args.progress_interval, enabled=not args.quiet):
            run_loop(simulation.run())
    else:
        recorder = Recorder(headline="reply")
        telegram = TelegramSimulation(args.standin_url, players=args.players, mix=mix, limits=limits,
                                      recorder=recorder, seed=args.seed, reply_timeout_s=args.result_timeout,
                                      http_client=args.http_client, group_size=args.group_size)
        with Progress(recorder, stderr, plain_interval_s=args.progress_interval, enabled=not args.quiet):
            run_loop(telegram.run())
        extra["standin"] = telegram.standin_stats
    report = recorder.report(mode=args.mode, config=_config(args), extra=extra)
    report["timeline"] = recorder.timeline()
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse, run, report; the exit status says whether the SLO was met."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        clauses = slo_grammar.parse(args.slo) if args.slo else ()
    except slo_grammar.SloError as exc:
        print(f"trivia-simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.group_size and (args.mode != "telegram" or args.group_size < 2 or args.players < 2):
        print("trivia-simulate: --group-size needs --mode telegram, a size of 2 or more and 2 or more players",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        report = run(args, stderr=sys.stderr)
    except (RunFailed, StandinUnavailable, OSError, ValueError, KeyError) as exc:
        print(f"trivia-simulate: the run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    timeline = report.pop("timeline")
    report["slo"] = slo_grammar.evaluate(clauses, report)
    summary = markdown(report)
    print(summary, end="")
    if args.json_out:
        write_json(report, args.json_out)
    if args.md_out:
        with open(args.md_out, "w", encoding="utf-8") as handle:
            handle.write(summary)
    if args.plot_out:
        from gateways.simulate.plot import write_plot

        write_plot(timeline, args.plot_out, headline=report["headline_step"],
                   title=f"trivia-simulate {args.mode}: {args.players} players")
    missed = [outcome["clause"] for outcome in report["slo"] if not outcome["ok"]]
    if missed:
        print(f"trivia-simulate: SLO missed: {', '.join(missed)}", file=sys.stderr)
        return EXIT_SLO
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
