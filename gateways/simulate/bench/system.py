"""What the box and its processes say about a run: the machine, CPU time per process (from /proc), and a
worker's own figures (from its /metrics)."""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from typing import Any

from gateways.simulate.stack import BenchStack

logger = logging.getLogger(__name__)


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
