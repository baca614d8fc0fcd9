"""The held-games phase in docs/benchmarks.md: its rows in the targets table and its section."""

from __future__ import annotations

from typing import Any


def _ms(summary: dict[str, Any] | None, key: str, scale: float = 1.0, digits: int = 1) -> str:
    value = summary.get(key) if summary else None
    return "n/a" if value is None else f"{value / scale:.{digits}f}"


def _verdict(ok: bool | None, games: int, target_games: int) -> str:
    if ok is None:
        return "n/a"
    verdict = "**met**" if ok else "**not met**"
    return verdict if games >= target_games else f"{verdict} at {games:,} games (not at {target_games:,})"


def target_rows(held: dict[str, Any]) -> list[str]:
    """Issue 15's targets, as rows of the targets table."""
    targets, state = held["targets"], held["held"]
    games, want = state["games_open"], targets["games"]
    fit = held.get("rss_fit") or {}
    projected = fit.get("projected_mib")
    rss_note = "" if projected is None or games >= want else f"; linear projection to {want:,}: {projected:.0f} MiB"
    per_game = held["opening"].get("telebot_cpu_ms_per_game")
    probe = held["probe"]
    per_answer, net = probe.get("telebot_cpu_ms_per_answer"), probe.get("telebot_cpu_ms_per_answer_net")
    p99 = probe["reply_ms"].get("p99")
    restart = held.get("restart") or {}
    answered = restart.get("answered") or {}
    slowest = answered.get("reply_ms", {}).get("max")
    all_back = bool(answered) and answered["lost"] == 0 and answered["refused"] == 0 and answered["answers"] > 0
    return [
        f"| {want:,} open games in one telebot: at most {targets['threads']} threads | {games:,} games open: "
        f"{state['threads']} threads (peak {state['peak_threads']} while opening) | "
        f"{_verdict(state['peak_threads'] <= targets['threads'], games, want)} |",
        f"| ... and under {targets['rss_mib'] / 1024:g} GiB RSS | {state['rss_mib']:.0f} MiB{rss_note} | "
        f"{_verdict(state['rss_mib'] < targets['rss_mib'], games, want)} |",
        f"| telebot CPU <= {targets['cpu_ms_per_game']:g} ms per opened game | "
        f"{'n/a' if per_game is None else f'{per_game:.2f} ms'} | "
        f"{_verdict(None if per_game is None else per_game <= targets['cpu_ms_per_game'], games, want)} |",
        f"| telebot CPU <= {targets['cpu_ms_per_answer']:g} ms per answered question | "
        f"{'n/a' if per_answer is None else f'{per_answer:.2f} ms ({net:.2f} ms net of its idle CPU)'} | "
        f"{_verdict(None if net is None else net <= targets['cpu_ms_per_answer'], games, want)} |",
        f"| probe answer -> reply p99 < {targets['probe_p99_ms']:g} ms while the games are held | "
        f"p99 {_ms(probe['reply_ms'], 'p99')} ms, the API pipeline alone "
        f"{_ms(held['floor']['result_ms'], 'p99')} ms | "
        f"{_verdict(None if p99 is None else p99 < targets['probe_p99_ms'], games, want)} |",
        f"| SIGKILL + restart: probe games answer again within {targets['restart_s']:g} s | "
        f"{'n/a' if slowest is None else f'{slowest / 1000:.1f} s'} (the slowest of {answered.get('answers', 0)}"
        f", {answered.get('lost', 0)} never) | "
        f"{_verdict(None if slowest is None else all_back and slowest / 1000 <= targets['restart_s'], games, want)} |",
    ]


def section(held: dict[str, Any]) -> list[str]:
    """The section's lines."""
    config, opening, state, quiet = held["config"], held["opening"], held["held"], held["quiet"]
    probe, floor, added = held["probe"], held["floor"], held["telebot_added_ms"]
    base = held["baseline"]
    failures = ", ".join(f"{kind} {n}" for kind, n in sorted(opening["failures"].items())) or "none"
    lines = [
        f"{opening['opened']:,} of {config['games']:,} stand-in users opened a game (`/play "
        f"{config['questions']}`, then its first question) in {opening['seconds']:.0f} s, {config['concurrency']} "
        f"opening at a time: **{opening['games_per_s']:.1f} games opened per second** (/play -> first question "
        f"p50 {_ms(opening['question_ms'], 'p50')} ms, p99 {_ms(opening['question_ms'], 'p99')} ms, to within "
        f"the user's 1 s poll; failures: {failures}). The stand-in's flood limits are off and the telebot's own "
        "ceiling raised to its maximum (`TELEGRAM_GLOBAL_RATE=1000`, so at most 500 games opened per second); "
        "question timers are 300 s; the telebot has a database of its own.",
        "",
        f"Held: {state['games_open']:,} games open, telebot **{state['threads']} threads** (peak "
        f"{state['peak_threads']} while opening), **RSS {state['rss_mib']:.0f} MiB** (peak {state['hwm_mib']:.0f} "
        f"MiB); at start {base['threads']:.0f} threads, {base['rss_mib']:.0f} MiB. Over {quiet['seconds']:.0f} s "
        f"with nothing asked of it the telebot kept {quiet['telebot_cores']:.2f} cores busy and the held games "
        f"made {quiet['bot_events_per_s']:.1f} bot messages/s ({state['games_past_first_timer']:,} games were "
        f"past their first 300 s timer, {state.get('games_past_idle_stop', 0):,} past the 900 s after which a game "
        "nobody answers stops itself: at most about 900 s times the opening rate are held at once).",
    ]
    fit = held.get("rss_fit")
    if fit:
        lines += ["", f"RSS over the ramp: {fit['slope_kib_per_game']:.1f} KiB per open game on top of "
                      f"{fit['intercept_mib']:.0f} MiB; projected (not measured) to {held['targets']['games']:,}: "
                      f"{fit['projected_mib']:.0f} MiB."]
    cpu = opening.get("cpu") or {}
    if cpu:
        lines += ["", "CPU per opened game, by process (from /proc, over the ramp):", "",
                  "| process | CPU s | cores busy | CPU ms per game |", "|---|---:|---:|---:|"]
        for name, row in sorted(cpu["processes"].items(), key=lambda item: -item[1]["seconds"]):
            per = "n/a" if row["ms_per_answer"] is None else f"{row['ms_per_answer']:.2f}"
            lines.append(f"| {name} | {row['seconds']:.1f} | {row['cores']:.2f} | {per} |")
    per_answer = probe.get("telebot_cpu_ms_per_answer")
    lines += [
        "",
        f"Probe while they are held: {probe['answers']} answers by {config['probe_players']} players "
        f"({probe['answers_per_s']:.1f}/s; {probe['lost']} without a reply in 60 s): answer -> reply p50 "
        f"{_ms(probe['reply_ms'], 'p50')} ms, p90 {_ms(probe['reply_ms'], 'p90')} ms, p99 "
        f"{_ms(probe['reply_ms'], 'p99')} ms, max {_ms(probe['reply_ms'], 'max')} ms (the tap's own call to the "
        f"stand-in p50 {_ms(probe['click_ms'], 'p50')} ms). The floor, the API pipeline alone at that rate "
        f"({floor['answers_per_s']:.1f} answers/s, {floor['errors_total']} errors): submit -> result p50 "
        f"{_ms(floor['result_ms'], 'p50')} ms, p99 {_ms(floor['result_ms'], 'p99')} ms; so the telebot and the "
        f"stand-in add about {_ms(added, 'p50')} ms at p50 and {_ms(added, 'p99')} ms at p99. Telebot CPU per "
        f"answer: {'n/a' if per_answer is None else f'{per_answer:.2f}'} ms "
        f"({_ms(probe, 'telebot_cpu_ms_per_answer_net', digits=2)} ms net of its idle CPU).",
    ]
    restart, restored = held.get("restart"), held.get("restored")
    if restart:
        answered = restart["answered"]
        lines += ["", f"SIGKILL + restart with the games held: the telebot was ready {restart['ready_s']:.1f} s after "
                      f"the kill; each probe player had tapped its open question right after the kill, and "
                      f"{answered['answers']} of them got the reply after p50 "
                      f"{_ms(answered['reply_ms'], 'p50', 1000)} s, max {_ms(answered['reply_ms'], 'max', 1000)} s "
                      f"({answered['lost']} never within 600 s)."]
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
