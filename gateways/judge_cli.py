"""``trivia-judge``: judge typed answers from JSON lines on stdin, one JSON verdict line each on stdout.

Input line:  ``{"answer": "Paris", "aliases": ["Paree"], "given": "paris", "tolerance": 0.5}``
(``aliases`` and ``tolerance`` optional). Output line: ``{"verdict": "correct", "reason": "exact"}``, or
``{"error": "...", "line": N}`` for a malformed line, which is reported and skipped. Blank lines are
ignored. Exit status 0 when every line was judged, 1 when any line was malformed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from trivia_actors.rules import judge


class _LineError(ValueError):
    """A line that cannot be judged; the message says why."""


def _lines(stdin: TextIO) -> Iterator[str | None]:
    """Lines of stdin as text; None for a line that is not valid UTF-8 (bytes are read where possible)."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        yield from stdin
        return
    for raw in buffer:
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield None


def _parse(line: str) -> tuple[str, str, list[str], float | None]:
    """(given, answer, aliases, tolerance) from one JSON line, or :class:`_LineError`."""
    try:
        item: Any = json.loads(line)
    except RecursionError:
        raise _LineError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise _LineError(f"invalid JSON: {exc}") from None
    if not isinstance(item, dict):
        raise _LineError("each line must be a JSON object")
    answer = item.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise _LineError("'answer' must be a non-empty string")
    if "given" not in item:
        raise _LineError("'given' is missing")
    given = item["given"]
    if not isinstance(given, str):
        raise _LineError("'given' must be a string")
    aliases = item.get("aliases", [])
    if aliases is None:
        aliases = []
    if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
        raise _LineError("'aliases' must be a list of strings")
    tolerance = item.get("tolerance")
    if tolerance is not None:
        # bool is an int in Python, but "tolerance": true is a mistake, not 1.
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
            raise _LineError("'tolerance' must be a number")
        tolerance = float(tolerance)
        if not math.isfinite(tolerance) or tolerance < 0:
            raise _LineError("'tolerance' must be a finite number >= 0")
    return given, answer, aliases, tolerance


def _judge_line(line: str | None) -> dict[str, Any]:
    if line is None:
        raise _LineError("line is not valid UTF-8")
    given, answer, aliases, tolerance = _parse(line.lstrip("\ufeff"))  # tolerate a byte-order mark
    result = judge(given, answer, aliases, numeric_tolerance=tolerance)
    return {"verdict": result.verdict.value, "reason": result.reason}


def run(lines: Iterable[str | None], out: TextIO) -> int:
    """Judge every line, writing one JSON line each to ``out``; 0 if all were judged, else 1."""
    status = 0
    for number, line in enumerate(lines, start=1):
        if line is not None and not line.strip():
            continue
        try:
            result = _judge_line(line)
        except _LineError as exc:
            result = {"error": str(exc), "line": number}
            status = 1
        out.write(json.dumps(result) + "\n")
        out.flush()  # one verdict per line as it is judged, for callers talking over a pipe
    return status


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``trivia-judge``."""
    parser = argparse.ArgumentParser(
        prog="trivia-judge",
        description=(
            'Judge typed trivia answers. Reads JSON lines {"answer", "aliases", "given", "tolerance"} '
            'from stdin and writes {"verdict", "reason"} lines to stdout.'
        ),
    )
    parser.parse_args(argv)
    return run(_lines(sys.stdin), sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
