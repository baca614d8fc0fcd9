"""The held-games phase in docs/benchmarks.md: its rows in the targets table and its section."""

from __future__ import annotations

import textwrap
from typing import Any


def _ms(summary: dict[str, Any] | None, key: str, scale: float = 1.0, digits: int = 1) -> str:
    value = summary.get(key) if summary else None
    return "n/a" if value is None else f"{value / scale:.{digits}f}"


def _verdict(ok: bool | None, games: int, target_games: int) -> str:
    if ok is None:
        return "n/a"
    verdict = "**met**" if ok else "**not met**"
    return verdict if games >= target_games else f"{verdict} at {games:,} games (not at {target_games:,})"


def _s(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} s"


def target_rows(held: dict[str, Any]) -> list[str]:
    """Issue 15's targets, as rows of the targets table."""
    targets, state = held["targets"], held["held"]
    games, want = state["games_open"], targets["games"]
    restored = held.get("restored") or {}
    peak = max(state["peak_threads"], restored.get("peak_threads_since_kill", 0))
    rss = max(state["rss_mib"], restored.get("rss_mib", 0.0))
    per_game = held["opening"].get("telebot_cpu_ms_per_game")
    per_game_net = held["opening"].get("telebot_cpu_ms_per_game_net")
    probe, added = held["probe"], held["telebot_added_ms"]
    per_answer, net = probe.get("telebot_cpu_ms_per_answer"), probe.get("telebot_cpu_ms_per_answer_net")
    added_p99 = added.get("p99")
    restart = held.get("restart") or {}
    answered = restart.get("answered") or {}
    slowest = answered.get("reply_ms", {}).get("max")
    all_back = bool(answered) and answered["lost"] == 0 and answered["refused"] == 0 and answered["answers"] > 0
    held_as = f"{games:,} held ({state['seeded']:,} seeded, {state['live']:,} opened live)"
    return [
        f"| {want:,} open games in one telebot: at most {targets['threads']} threads | {held_as}: "
        f"{state['threads']} threads; at most {peak} over the phase (opening, probing, restart) | "
        f"{_verdict(peak <= targets['threads'], games, want)} |",
        f"| ... and under {targets['rss_mib'] / 1024:g} GiB RSS | {state['rss_mib']:.0f} MiB held, "
        f"{restored.get('rss_mib', float('nan')):.0f} MiB after the restart | "
        f"{_verdict(rss < targets['rss_mib'], games, want)} |",
        f"| telebot CPU <= {targets['cpu_ms_per_game']:g} ms per opened game | "
        f"{'n/a' if per_game_net is None else f'{per_game_net:.2f} ms net of its idle CPU ({per_game:.2f} ms gross)'}"
        " over the live opening | "
        f"{_verdict(None if per_game_net is None else per_game_net <= targets['cpu_ms_per_game'], games, want)} |",
        f"| telebot CPU <= {targets['cpu_ms_per_answer']:g} ms per answered question | "
        f"{'n/a' if net is None else f'{net:.2f} ms net of its idle CPU ({per_answer:.2f} ms gross)'} | "
        f"{_verdict(None if net is None else net <= targets['cpu_ms_per_answer'], games, want)} |",
        f"| probe answer -> reply p99 < {targets['probe_p99_ms']:g} ms while the games are held (the telebot's "
        f"own added latency) | probe p99 {_ms(probe['reply_ms'], 'p99')} ms less the API pipeline alone "
        f"{_ms(held['floor']['result_ms'], 'p99')} ms: {_ms(added, 'p99')} ms | "
        f"{_verdict(None if added_p99 is None else added_p99 < targets['probe_p99_ms'], games, want)} |",
        f"| SIGKILL + restart: probe games answer again within {targets['restart_s']:g} s | "
        f"{'n/a' if slowest is None else f'{slowest / 1000:.1f} s'} (the slowest of {answered.get('answers', 0)}"
        f", {answered.get('lost', 0)} never) | "
        f"{_verdict(None if slowest is None else all_back and slowest / 1000 <= targets['restart_s'], games, want)} |",
    ]


def section(held: dict[str, Any]) -> list[str]:
    """The section's lines."""
    config, opening, state, quiet = held["config"], held["opening"], held["held"], held["quiet"]
    probe, floor, added = held["probe"], held["floor"], held["telebot_added_ms"]
    seeded, start, empty, base = held["seeded"], held["start"], held["empty"], held["baseline"]
    failures = ", ".join(f"{kind} {n}" for kind, n in sorted(opening["failures"].items())) or "none"
    per_seeded = ((base["rss_mib"] - empty["rss_mib"]) * 1024 / seeded["games"]) if seeded["games"] else None
    lines = [
        f"**What is seeded, and why.** The real pipeline opens only {opening['games_per_s']:.0f} games a second "
        "on this box (below), and a game nobody answers stops itself after three 300 s question timers, so at "
        f"most about 900 s x the opening rate are ever held at once: {held['targets']['games']:,} cannot be "
        f"opened live here. So {seeded['games']:,} open games were written straight into the telebot's own "
        "store before it started, through its own store actor (`SaveSessions`, multi-row statements; "
        f"{seeded['seconds']:.1f} s): each a `chat_sessions` row in phase asking with a version-2 snapshot "
        f"(`SessionState(...).to_snapshot()`: a game id, {config['questions']} questions, question 1 open, "
        f"{seeded['snapshot_bytes']:,} bytes of JSON) whose deadline and `wake_at` are 6 hours ahead, and its two "
        "ledger rows (the \"preparing\" reply and the question, marked sent). That is what a telebot keeps of "
        "an open game once it has gone quiet: its session sleeps after 60 s idle (only chat id and wake time stay "
        "in memory) and its row waits in the store. The API does not know these games; they are held, not "
        f"played. On top of them {config['live']:,} games were opened live through the whole pipeline.",
        "",
        f"**Starting over them.** An empty telebot ran {empty['threads']:.0f} threads in {empty['rss_mib']:.0f} "
        f"MiB. Started over the {seeded['games']:,} seeded games it was ready (`/readyz`) {start['ready_s']:.1f} s "
        f"after its spawn, and said so itself: \"{start['resumed']:,} open games to resume\" "
        f"({_s(start['resumed_line_s'])} after the spawn, once the schedule was read), its {start['shards']} "
        f"shards {start['asleep_in_shards']:,} sessions asleep in all; holding them: {base['threads']:.0f} "
        f"threads, RSS {base['rss_mib']:.0f} MiB"
        + ("" if per_seeded is None else f" ({per_seeded:.2f} KiB per held game over the empty telebot)") + ".",
        "",
        f"**Live opening.** {opening['opened']:,} of {config['live']:,} stand-in users opened a game (`/play "
        f"{config['questions']}`, then its first question) in {opening['seconds']:.0f} s, {config['concurrency']} "
        f"opening at a time: **{opening['games_per_s']:.1f} games opened per second** (/play -> first question "
        f"p50 {_ms(opening['question_ms'], 'p50')} ms, p99 {_ms(opening['question_ms'], 'p99')} ms, to within "
        f"the user's 1 s poll; failures: {failures}); telebot CPU **"
        f"{_ms(opening, 'telebot_cpu_ms_per_game_net', digits=2)} ms per opened game** net of its idle CPU "
        f"({_ms(opening, 'telebot_cpu_ms_per_game', digits=2)} ms gross), at most "
        f"{opening.get('peak_threads', 0)} threads while opening. The stand-in's flood limits are off and the "
        "telebot's own ceiling raised to its maximum (`TELEGRAM_GLOBAL_RATE=1000`); question timers are 300 s; "
        "the telebot has a database of its own and logs at INFO (the production default; the rest of the stack "
        "at WARNING).",
    ]
    cpu = opening.get("cpu") or {}
    if cpu:
        lines += ["", "CPU per opened game, by process (from /proc, over the live opening):", "",
                  "| process | CPU s | cores busy | CPU ms per game |", "|---|---:|---:|---:|"]
        for name, row in sorted(cpu["processes"].items(), key=lambda item: -item[1]["seconds"]):
            per = "n/a" if row["ms_per_answer"] is None else f"{row['ms_per_answer']:.2f}"
            lines.append(f"| {name} | {row['seconds']:.1f} | {row['cores']:.2f} | {per} |")
    per_answer = probe.get("telebot_cpu_ms_per_answer")
    lines += [
        "",
        f"**Held.** {state['games_open']:,} games open ({state['seeded']:,} seeded, {state['live']:,} live): "
        f"telebot **{state['threads']} threads**, **RSS {state['rss_mib']:.0f} MiB** (high-water "
        f"{state['hwm_mib']:.0f} MiB). Over {quiet['seconds']:.0f} s with nothing asked of it the telebot kept "
        f"{quiet['telebot_cores']:.3f} cores busy and the held games made {quiet['bot_events_per_s']:.1f} bot "
        f"messages/s ({state['games_past_first_timer']:,} live games were past their first 300 s timer).",
        "",
        f"**Probe while they are held.** {probe['answers']} answers by {config['probe_players']} players "
        f"({probe['answers_per_s']:.1f}/s; {probe['lost']} without a reply in 60 s): answer -> reply p50 "
        f"{_ms(probe['reply_ms'], 'p50')} ms, p90 {_ms(probe['reply_ms'], 'p90')} ms, p99 "
        f"{_ms(probe['reply_ms'], 'p99')} ms, max {_ms(probe['reply_ms'], 'max')} ms, from the tap to the reveal "
        f"edit in the stand-in (the tap's own call to the stand-in p50 {_ms(probe['click_ms'], 'p50')} ms). The "
        f"floor, the API pipeline alone at that rate in the same run ({floor['answers_per_s']:.1f} answers/s, "
        f"{floor['errors_total']} errors): submit -> result p50 {_ms(floor['result_ms'], 'p50')} ms, p99 "
        f"{_ms(floor['result_ms'], 'p99')} ms; so the telebot and the stand-in add about {_ms(added, 'p50')} ms "
        f"at p50 and {_ms(added, 'p99')} ms at p99 (percentiles subtracted: an estimate). Telebot CPU per "
        f"answer: {'n/a' if per_answer is None else f'{per_answer:.2f}'} ms gross, "
        f"{_ms(probe, 'telebot_cpu_ms_per_answer_net', digits=2)} ms net of its idle CPU.",
    ]
    restart, restored = held.get("restart"), held.get("restored")
    schedule = held.get("schedule_read") or {}
    if restart:
        answered = restart["answered"]
        lines += ["", f"**SIGKILL + restart** with every game held: each probe player tapped its open question "
                      f"right after the kill. The new process said \"{restart['resumed']:,} open games to "
                      f"resume\" {_s(restart['resumed_line_s'])} after its spawn (its shards had "
                      f"{restart['asleep_in_shards']:,} asleep {_s(restart['shards_started_s'])} after it) and "
                      f"was ready {restart['ready_s']:.1f} s after the kill (ready waits for its Kafka consumer's "
                      f"partitions); {answered['answers']} probe games got their reply after p50 "
                      f"{_ms(answered['reply_ms'], 'p50', 1000)} s, max {_ms(answered['reply_ms'], 'max', 1000)} s "
                      f"from the kill ({answered['lost']} never within 600 s)."]
        if schedule:
            lines[-1] += (f" Reading the schedule itself (`LoadSchedule`: chat id and wake time of every open "
                          f"game, {schedule['rows']:,} rows, through a store actor as the telebot does) took "
                          f"{schedule['seconds'] * 1000:.0f} ms"
                          + (f", and the polls of those chats (`LoadPolls`, 5,000 chats a query) "
                             f"{schedule['polls_seconds'] * 1000:.0f} ms" if "polls_seconds" in schedule else "")
                          + ".")
        if restored:
            lines[-1] += (f" After the restart: {restored['threads']:.0f} threads (peak "
                          f"{restored['peak_threads_since_kill']}), RSS {restored['rss_mib']:.0f} MiB.")
        after = held.get("after_restart")
        if after:
            lines[-1] += (f" Answers after it: p50 {_ms(after['reply_ms'], 'p50')} ms, p99 "
                          f"{_ms(after['reply_ms'], 'p99')} ms ({after['answers']} answers, {after['lost']} lost).")
    samples = held.get("samples") or []
    if samples:
        lines += ["", "| t (s) | games open | threads | RSS MiB | telebot CPU s |", "|---:|---:|---:|---:|---:|"]
        for point in samples[:: max(1, len(samples) // 15)]:
            lines.append(f"| {point['t_s']:.0f} | {point['games_open']:,} | {point['threads']} | "
                         f"{point['rss_mib']:.0f} | {point['cpu_s']:.1f} |")
    return lines


HEADING = "## Many games held by one telebot (held-games)"
# Sections and target rows of the held games (this phase's, and the thread-per-game telebot's older phase).
_OLD_HEADINGS = ("## Games held open by one telebot", HEADING)
_OLD_ROWS = ("| 10,000 active games per telebot", "open games in one telebot: at most", "| ... and under",
             "| telebot CPU <=", "| probe answer -> reply p99", "| SIGKILL + restart")
_OLD_FINDING = "- Held games"
FINDING = (
    "- Held games (the session-shard telebot; figures in the held-games section): threads and memory are no longer "
    "the limit: {games:,} open games in {threads} threads and {rss:.0f} MiB, a restart over all of them answering "
    "again after {restart}. The CPU targets are missed in the telebot's HTTP clients more than in its engine: an "
    "opened game makes about 3 HTTP calls (the \"preparing\" reply, the API create, the question) and an answer "
    "about 5 (getUpdates, answerCallbackQuery, the API submit, the reveal edit, the next question), and one "
    "python-telegram-bot call costs 1.4-1.9 ms of client CPU on this box against an idle stand-in (a bare httpx POST "
    "1.0 ms). In per-thread CPU profiles (cProfile on each thread's CPU clock, 2026-12-02) the HTTP client stack "
    "(PTB, httpx, httpcore) was about half of the telebot's CPU while games opened and more than half while they "
    "were answered, the Kafka clients (the consumer's 10 ms fetch loop runs whenever results flow, and the producer) "
    "about a quarter, the session shards and the store 10-15%. So <= 1 ms per answer and <= 2 ms per opened game "
    "are out of reach of this client stack at these call counts, and the probe's p99 is bursts of answers "
    "queueing on the one event loop that makes all of those calls."
)


def finding(held: dict[str, Any]) -> str:
    """The held games' bullet in the findings (what bounds them, from the profiles said there)."""
    if "error" in held:
        return "- Held games: the held-games phase failed in its last run (see its section)."
    answered = (held.get("restart") or {}).get("answered") or {}
    slowest = (answered.get("reply_ms") or {}).get("max")
    text = FINDING.format(games=held["held"]["games_open"], threads=held["held"]["threads"],
                          rss=held["held"]["rss_mib"], restart="n/a" if slowest is None else f"{slowest / 1000:.1f} s")
    return textwrap.fill(text, width=114, subsequent_indent="  ", break_on_hyphens=False)


def with_finding(text: str, held: dict[str, Any]) -> str:
    """``text`` (the findings) with its held-games bullet replaced by :func:`finding`'s."""
    out: list[str] = []
    replacing = False
    for line in text.splitlines():
        if replacing and line.startswith("  "):
            continue  # the old bullet's continuation lines
        replacing = line.startswith(_OLD_FINDING)
        out.append(finding(held) if replacing else line)
    return "\n".join(out)


def lead(results: dict[str, Any]) -> str:
    """Which run the section comes from, and how busy the box was."""
    machine = results.get("machine") or {}
    before = machine.get("load_average_before") or machine.get("load_average") or []
    after = machine.get("load_average_after") or []
    load = (f"; load average before {' / '.join(f'{x:.1f}' for x in before)}, after "
            f"{' / '.join(f'{x:.1f}' for x in after)}") if before and after else ""
    minutes = results.get("seconds", 0.0) / 60
    return (f"From the held-games run of {results.get('started_at', 'n/a')} (`scripts/bench --phase held-games`, "
            f"{minutes:.1f} min{load}); the rest of this document is from the run named at its top.")


def splice(document: str, results: dict[str, Any]) -> str:
    """``document`` (an earlier docs/benchmarks.md) with its held-games target rows, section and finding replaced
    by those of ``results`` (a run of this phase alone), the rest kept as it was."""
    held = results["held-games"]
    out: list[str] = []
    rows_at: int | None = None
    section_at: int | None = None
    heading = ""
    in_old_section = in_old_finding = False
    for line in document.splitlines():
        if line.startswith("## "):
            heading = line.strip()
            in_old_section = heading in _OLD_HEADINGS
            if in_old_section and section_at is None:
                section_at = len(out)
        if in_old_finding and line.startswith("  "):
            continue  # the old finding's continuation lines
        in_old_finding = line.startswith(_OLD_FINDING)
        if in_old_section:
            continue
        if heading == "## Targets" and line.startswith("|"):
            if any(marker in line for marker in _OLD_ROWS):
                rows_at = len(out) if rows_at is None else rows_at
                continue
            if line.startswith("| 2 workers") and rows_at is None:
                rows_at = len(out)
        out.append(finding(held) if in_old_finding else line)
    if "error" in held:
        new_section, new_rows = [HEADING, "", lead(results), "", f"The phase failed: {held['error']}", ""], []
    else:
        new_section, new_rows = [HEADING, "", lead(results), "", *section(held), ""], target_rows(held)
    if section_at is None:
        section_at = next((n for n, line in enumerate(out) if line.startswith("## Findings")), len(out))
    out[section_at:section_at] = new_section  # after the targets table, so rows_at still holds
    if rows_at is not None:
        out[rows_at:rows_at] = new_rows
    return "\n".join(out) + "\n"
