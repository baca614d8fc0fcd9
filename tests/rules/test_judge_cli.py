"""The ``trivia-judge`` command: JSON lines in, one verdict (or error) line out per input line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateways.judge_cli import main, run

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run_cli(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gateways.judge_cli", *args],
        input=stdin,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _lines(*items: object) -> bytes:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items).encode()


def test_judges_every_line_and_reports_the_malformed_one() -> None:
    stdin = _lines(
        {"answer": "Paris", "aliases": ["Paree"], "given": "paris"},
        {"answer": "Paris", "aliases": ["Paree"], "given": "Paree!"},
        "",  # blank lines are skipped but still counted
        '{"answer": "Paris", "given": ',  # malformed JSON
        {"answer": "100", "aliases": [], "given": "104", "tolerance": 5},
        {"answer": "Australia", "aliases": [], "given": "Austria"},
        {"answer": "Paris", "aliases": [], "given": "paris, rome"},
        {"answer": "Neil Armstrong", "given": "armstrong"},
    )
    done = _run_cli(stdin)
    assert done.returncode == 1, done.stderr
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert out == [
        {"verdict": "correct", "reason": "exact"},
        {"verdict": "correct", "reason": "alias"},
        {"error": out[2]["error"], "line": 4},
        {"verdict": "correct", "reason": "within tolerance"},
        {"verdict": "incorrect", "reason": "near miss"},
        {"verdict": "incorrect", "reason": "scattershot"},
        {"verdict": "close", "reason": "partial"},
    ]
    assert out[2]["error"].startswith("invalid JSON")
    assert done.stderr == b""


def test_all_good_lines_exit_zero() -> None:
    stdin = _lines(
        {"answer": "seven", "aliases": [], "given": "7"},
        {"answer": "1984", "aliases": [], "given": "1948"},
        {"answer": "Paris", "aliases": [], "given": ""},
        {"answer": "Paris", "aliases": [], "given": "x" * 10_000},
        {"answer": "Paris", "given": "🤷", "tolerance": None},
    )
    done = _run_cli(stdin)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.decode().splitlines()] == [
        {"verdict": "correct", "reason": "number match"},
        {"verdict": "incorrect", "reason": "wrong number"},
        {"verdict": "incorrect", "reason": "empty"},
        {"verdict": "incorrect", "reason": "too long"},
        {"verdict": "incorrect", "reason": "empty"},
    ]


def test_empty_input_writes_nothing() -> None:
    done = _run_cli(b"\n\n")
    assert (done.returncode, done.stdout) == (0, b"")


def test_invalid_utf8_and_bom() -> None:
    stdin = b'\xef\xbb\xbf{"answer": "Paris", "given": "paris"}\r\n\xff\xfe\n'
    done = _run_cli(stdin)
    assert done.returncode == 1
    assert [json.loads(line) for line in done.stdout.decode().splitlines()] == [
        {"verdict": "correct", "reason": "exact"},
        {"error": "line is not valid UTF-8", "line": 2},
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "each line must be a JSON object"),
        ('"paris"', "each line must be a JSON object"),
        ('{"given": "paris"}', "'answer' must be a non-empty string"),
        ('{"answer": "", "given": "paris"}', "'answer' must be a non-empty string"),
        ('{"answer": 7, "given": "7"}', "'answer' must be a non-empty string"),
        ('{"answer": "Paris"}', "'given' is missing"),
        ('{"answer": "Paris", "given": null}', "'given' must be a string"),
        ('{"answer": "Paris", "given": "x", "aliases": "Paree"}', "'aliases' must be a list of strings"),
        ('{"answer": "Paris", "given": "x", "aliases": [1]}', "'aliases' must be a list of strings"),
        ('{"answer": "7", "given": "7", "tolerance": "1"}', "'tolerance' must be a number"),
        ('{"answer": "7", "given": "7", "tolerance": true}', "'tolerance' must be a number"),
        ('{"answer": "7", "given": "7", "tolerance": -1}', "'tolerance' must be a finite number >= 0"),
        ('{"answer": "7", "given": "7", "tolerance": NaN}', "'tolerance' must be a finite number >= 0"),
        ('{"answer": "7", "given": "7", "tolerance": 1e999}', "'tolerance' must be a finite number >= 0"),
        ("[" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_malformed_lines(line: str, message: str) -> None:
    out = io.StringIO()
    status = run(["", line, '{"answer": "Paris", "given": "paris"}'], out)
    assert status == 1
    assert [json.loads(text) for text in out.getvalue().splitlines()] == [
        {"error": message, "line": 2},
        {"verdict": "correct", "reason": "exact"},
    ]


def test_main_reads_stdin_and_writes_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"answer": "The Hague", "given": "hague"}\n'))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main([]) == 0
    assert json.loads(out.getvalue()) == {"verdict": "correct", "reason": "exact"}


def test_help() -> None:
    done = _run_cli(b"", "--help")
    assert done.returncode == 0
    assert b"trivia-judge" in done.stdout
