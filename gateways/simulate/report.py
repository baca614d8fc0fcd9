"""Recording a run (latency samples per step, counters, errors by kind) and turning it into a report.

Percentiles are exact over the recorded samples (linear interpolation between closest ranks, as numpy's
default); the live progress line uses :class:`LogHistogram`, which is cheap to query while the run goes on.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Steps, in the order reports list them.
STEP_DESCRIPTIONS = {
    "submit": "POST answer -> 202",
    "result": "POST answer -> result (in the POST with ?wait=, else its long poll)",
    "create": "POST game -> 202",
    "created": "POST game -> questions (in the POST with ?wait=, else its long poll)",
    "hint": "POST hint -> hint (long poll)",
    "reply": "answer in Telegram -> bot's reply",
    "question": "/play in Telegram -> first question",
}
PERCENTILES = (50.0, 90.0, 99.0)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ascending ``sorted_values``, interpolated linearly between ranks."""
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def summarize(values_s: Iterable[float]) -> dict[str, float | int]:
    """count, mean, min, p50, p90, p99 and max of latencies given in seconds, reported in milliseconds."""
    ordered = sorted(values_s)
    if not ordered:
        return {"count": 0}
    ms = [v * 1000.0 for v in ordered]
    summary: dict[str, float | int] = {"count": len(ms), "mean": sum(ms) / len(ms), "min": ms[0]}
    for q in PERCENTILES:
        summary[f"p{q:g}"] = percentile(ms, q)
    summary["max"] = ms[-1]
    return summary


class LogHistogram:
    """Latencies in buckets 2% wide: any percentile to within 2%, in constant memory, while the run goes on."""

    GROWTH = 1.02
    FLOOR_S = 1e-6

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.total = 0

    def add(self, value_s: float) -> None:
        """Count one latency."""
        index = int(math.log(max(value_s, self.FLOOR_S) / self.FLOOR_S, self.GROWTH))
        self.counts[index] += 1
        self.total += 1

    def percentile(self, q: float) -> float | None:
        """The upper edge (seconds) of the bucket holding the ``q``-th percentile; None when empty."""
        if not self.total:
            return None
        wanted = max(1, math.ceil(self.total * q / 100.0))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted:
                return float(self.FLOOR_S * self.GROWTH ** (index + 1))
        return None  # unreachable: the counts add up to total


class Recorder:
    """What a run observed; safe to call from the load generator and read from the progress thread."""

    def __init__(self, *, headline: str = "result", clock: Callable[[], float] = time.monotonic) -> None:
        self.headline = headline
        self.clock = clock
        self.started = clock()
        self.finished: float | None = None
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.histograms: dict[str, LogHistogram] = {}
        self._recent_answers: list[float] = []
        self._lock = threading.Lock()

    def record(self, step: str, latency_s: float, *, at: float | None = None) -> None:
        """One latency sample of ``step``; ``at`` is when the step started (defaults to now - latency)."""
        start = (self.clock() - latency_s) if at is None else at
        with self._lock:
            self.samples.setdefault(step, []).append((start - self.started, latency_s))
            self.histograms.setdefault(step, LogHistogram()).add(latency_s)

    def count(self, name: str, n: int = 1) -> None:
        """Add to a counter (games_started, games_finished, answers, hints ...)."""
        with self._lock:
            self.counters[name] += n
            if name == "answers":
                self._recent_answers.append(self.clock())
                if len(self._recent_answers) > 200_000:  # nobody is reading the progress: keep memory bounded
                    del self._recent_answers[:100_000]

    def error(self, kind: str, n: int = 1) -> None:
        """Count errors of ``kind`` (http_503, http_timeout, result_timeout, failed:<code>, ...)."""
        with self._lock:
            self.errors[kind] += n

    def finish(self) -> None:
        """Mark the end of the measured run."""
        self.finished = self.clock()

    @property
    def elapsed_s(self) -> float:
        """Seconds from start to finish (or to now while running)."""
        end = self.finished if self.finished is not None else self.clock()
        return max(float(end - self.started), 1e-9)

    def progress(self, window_s: float = 5.0) -> dict[str, Any]:
        """A cheap snapshot for the progress line."""
        now = self.clock()
        with self._lock:
            cut = bisect.bisect_left(self._recent_answers, now - window_s)
            del self._recent_answers[:cut]
            recent = len(self._recent_answers)
            histogram = self.histograms.get(self.headline)
            p99 = histogram.percentile(99.0) if histogram else None
            return {
                "elapsed_s": now - self.started,
                "games_started": self.counters["games_started"],
                "games_finished": self.counters["games_finished"],
                "answers": self.counters["answers"],
                "answers_per_s": recent / min(window_s, max(now - self.started, 1e-9)),
                "errors": sum(self.errors.values()),
                "p99_ms": None if p99 is None else p99 * 1000.0,
            }

    def report(self, *, mode: str, config: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The final report as a JSON-ready document."""
        elapsed = self.elapsed_s
        with self._lock:
            latency = {step: summarize(v for _at, v in samples) for step, samples in self.samples.items()}
            counters = dict(self.counters)
            errors = dict(sorted(self.errors.items()))
        ordered = {step: latency[step] for step in [*STEP_DESCRIPTIONS, *sorted(latency)] if step in latency}
        answers = counters.get("answers", 0)
        return {
            "mode": mode,
            "headline_step": self.headline,
            "duration_s": elapsed,
            "config": config or {},
            "counts": counters,
            "throughput": {
                "answers_per_s": answers / elapsed,
                "games_per_s": counters.get("games_finished", 0) / elapsed,
                "requests_per_s": counters.get("requests", 0) / elapsed,
            },
            "latency_ms": ordered,
            "errors": errors,
            "errors_total": sum(errors.values()),
            **(extra or {}),
        }

    def timeline(self) -> dict[str, list[tuple[float, float]]]:
        """(start offset s, latency s) samples per step, for plots."""
        with self._lock:
            return {step: list(samples) for step, samples in self.samples.items()}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return str(value)


def markdown(report: dict[str, Any], *, title: str | None = None) -> str:
    """The report as Markdown: throughput, a latency table per step, errors by kind, SLO outcomes."""
    lines = []
    if title:
        lines += [f"### {title}", ""]
    throughput = report["throughput"]
    counts = report["counts"]
    lines.append(
        f"{report['mode']} mode, {report['duration_s']:.1f} s: {counts.get('answers', 0)} answers "
        f"({throughput['answers_per_s']:.1f}/s), {counts.get('games_finished', 0)} games finished "
        f"of {counts.get('games_started', 0)} started, {report['errors_total']} errors."
    )
    lines += ["", "| step | what | count | p50 ms | p90 ms | p99 ms | max ms |", "|---|---|---:|---:|---:|---:|---:|"]
    for step, summary in report["latency_ms"].items():
        if not summary.get("count"):
            continue
        lines.append(f"| {step} | {STEP_DESCRIPTIONS.get(step, '')} | {summary['count']} | {_fmt(summary['p50'])} | "
                     f"{_fmt(summary['p90'])} | {_fmt(summary['p99'])} | {_fmt(summary['max'])} |")
    if report["errors"]:
        lines += ["", "| error | count |", "|---|---:|"]
        lines += [f"| {kind} | {n} |" for kind, n in report["errors"].items()]
    if report.get("slo"):
        lines += ["", "| SLO | actual | met |", "|---|---:|---|"]
        for outcome in report["slo"]:
            actual = "n/a" if outcome["actual"] is None else _fmt(outcome["actual"])
            lines.append(f"| `{outcome['clause']}` | {actual} | {'yes' if outcome['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def write_json(report: dict[str, Any], path: str) -> None:
    """Write the report as indented JSON."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=False)
        handle.write("\n")
