"""``scripts/bench`` without a stack: its command line, and the document it writes from a run's results."""

from __future__ import annotations

import pytest

from gateways.simulate.bench import PHASES, main, render
from gateways.simulate.bench.document import summary


def test_help_lists_the_sizes_and_the_smoke_run(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: scripts/bench")
    for flag in ("--quick", "--skip", "--reuse", "--sessions", "--out"):
        assert flag in text
    assert f"phases to skip: {', '.join(PHASES)}" in " ".join(text.split())  # argparse wraps the help


def test_an_unknown_phase_to_skip_is_refused_before_anything_starts(capsys) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--skip", "pipeline,nope"])
    assert refused.value.code == 2
    assert "unknown phases to skip: nope" in capsys.readouterr().err


def test_the_document_reports_a_failed_phase_and_keeps_the_rest() -> None:
    results = {
        "started_at": "2026-01-01T00:00:00+00:00", "seconds": 90.0,
        "machine": {"cores": 2, "cpu": "", "memory_gib": 1.0, "python": "3.11.7", "platform": "Linux",
                    "load_average": [0.5, 0.4, 0.3], "load_average_after": [1.0, 0.9, 0.8]},
        "config": {"stack_log_level": "WARNING", "rate": 100.0},
        "idle": {"api": 0.1, "worker-1": 0.2},
        "pipeline": {"error": "RuntimeError: the stack fell over"},
    }
    document = render(results, notes="## Notes\n\nfixed notes")
    assert document.startswith("# Benchmarks\n")
    assert "the run took 1.5 min" in document
    assert "Load average before the run 0.5 / 0.4 / 0.3, after 1.0 / 0.9 / 0.8" in document
    assert "worker-1 0.20, api 0.10 (together 0.30)" in document
    assert "## Phases that failed in this run\n\n- pipeline: RuntimeError: the stack fell over" in document
    assert "## The API pipeline" not in document
    assert document.endswith("fixed notes\n")
    assert summary(document).startswith("Machine: **2 cores** (unknown CPU)")
