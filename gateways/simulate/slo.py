"""The ``--slo`` grammar: a comma-separated list of clauses a run must meet, checked against its report.

::

    slo     := clause ("," clause)*
    clause  := latency | errors | rate
    latency := STAT ["(" STEP ")"] ("<" | "<=") NUMBER ("ms" | "s")     STAT: p50 p90 p99 max mean
    errors  := "errors" ["(" KIND ")"] ("=" | "<" | "<=") INTEGER
    rate    := "rate" (">" | ">=") NUMBER ["/s"]                        answers per second

Without a step, a latency clause applies to the run's headline step (``result`` in API mode, ``reply`` in
Telegram mode). ``errors`` counts every error, ``errors(http_503)`` one kind. Spaces are ignored.
Examples: ``p99<50ms,errors=0``; ``p50(submit)<=5ms, p99<0.2s, rate>=1000``.
A clause whose step has no samples is not met: an SLO is shown to hold, never assumed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import attrs

STATS = ("p50", "p90", "p99", "max", "mean")
_LATENCY = re.compile(r"(?P<stat>p50|p90|p99|max|mean)(?:\((?P<step>[a-z_]+)\))?(?P<op><=|<)"
                      r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s)")
_ERRORS = re.compile(r"errors(?:\((?P<kind>[A-Za-z0-9_:.\-]+)\))?(?P<op><=|<|=)(?P<value>\d+)")
_RATE = re.compile(r"rate(?P<op>>=|>)(?P<value>\d+(?:\.\d+)?)(?:/s)?")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, "=": operator.eq, ">": operator.gt, ">=": operator.ge,
}


class SloError(ValueError):
    """The SLO text does not follow the grammar; the message shows the clause and what is expected."""


@attrs.frozen(kw_only=True)
class Clause:
    """One parsed clause: ``metric`` (a stat, ``errors`` or ``rate``) compared to ``threshold``."""

    text: str
    metric: str
    op: str
    threshold: float  # latency in milliseconds, errors as a count, rate in answers/s
    step: str | None = None  # latency: the step (None: the headline step); errors: the kind (None: all)

    def actual(self, report: dict[str, Any]) -> float | None:
        """The report's value for this clause, None when there is nothing to judge by."""
        if self.metric == "errors":
            if self.step is None:
                return float(report["errors_total"])
            return float(report["errors"].get(self.step, 0))
        if self.metric == "rate":
            return float(report["throughput"]["answers_per_s"])
        step = self.step or report["headline_step"]
        summary = report["latency_ms"].get(step) or {}
        if not summary.get("count"):
            return None
        return float(summary[self.metric])

    def check(self, report: dict[str, Any]) -> dict[str, Any]:
        """{clause, actual, ok} for this clause against ``report``."""
        actual = self.actual(report)
        ok = actual is not None and _OPS[self.op](actual, self.threshold)
        return {"clause": self.text, "actual": actual, "ok": ok}


def parse(text: str) -> tuple[Clause, ...]:
    """Parse an SLO; :class:`SloError` names the first clause that does not parse."""
    clauses = []
    for raw in text.split(","):
        compact = "".join(raw.split())
        if not compact:
            raise SloError(f"empty clause in SLO {text!r}")
        clauses.append(_clause(compact))
    return tuple(clauses)


def _clause(compact: str) -> Clause:
    match = _LATENCY.fullmatch(compact)
    if match:
        value = float(match["value"]) * (1.0 if match["unit"] == "ms" else 1000.0)
        return Clause(text=compact, metric=match["stat"], op=match["op"], threshold=value, step=match["step"])
    match = _ERRORS.fullmatch(compact)
    if match:
        return Clause(text=compact, metric="errors", op=match["op"], threshold=float(match["value"]),
                      step=match["kind"])
    match = _RATE.fullmatch(compact)
    if match:
        return Clause(text=compact, metric="rate", op=match["op"], threshold=float(match["value"]))
    raise SloError(
        f"cannot parse SLO clause {compact!r}: expected e.g. 'p99<50ms', 'p50(submit)<=5ms', 'max<2s', "
        "'errors=0', 'errors(http_503)<3' or 'rate>=1000'"
    )


def evaluate(clauses: tuple[Clause, ...], report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each clause checked against the report."""
    return [clause.check(report) for clause in clauses]
