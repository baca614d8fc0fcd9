"""docs/benchmarks.md from a run's results: the targets, the floors, each phase's figures, and the notes."""

from __future__ import annotations

import os
from typing import Any

from gateways.simulate.bench import document_held
from gateways.simulate.report import markdown


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
    if results.get("held-games"):
        rows += document_held.target_rows(results["held-games"])
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
    if results.get("held-games"):
        out += ["", "## Many games held by one telebot (held-games)", "", *document_held.section(results["held-games"])]
    if failed:
        out += ["", "## Phases that failed in this run", ""]
        out += [f"- {name}: {error}" for name, error in failed.items()]
    held = results.get("held-games")
    out += ["", (document_held.with_finding(notes, held) if held else notes).strip(), ""]
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


def summary(document: str) -> str:
    """The machine line, the targets and the floors, for the terminal."""
    keep = [block for block in document.split("\n\n")
            if block.startswith(("| target", "| floor", "Machine:"))]
    return "\n\n".join(keep)
