"""Tiny simulator runs against the real processes: the report's counts, the outputs, the SLO's exit status."""

from __future__ import annotations

import json

from gateways.simulate.cli import EXIT_SLO, EXIT_USAGE, main
from tests.e2e.telegram_fixtures import telegram  # noqa: F401 - the fixture


def test_api_mode_plays_the_games_it_was_asked_for(platform, api_client, e2e_env, tmp_path):
    credentials = tmp_path / "client.json"
    credentials.write_text(json.dumps(api_client))
    out = tmp_path / "report.json"
    # Seed 1: one player picks options, the other types its answers.
    status = main(["--mode", "api", "--api-url", e2e_env["API_URL"], "--credentials", str(credentials),
                   "--players", "2", "--games", "2", "--text-fraction", "0.5", "--wrong-rate", "0.5", "--seed", "1",
                   "--json-out", str(out), "--md-out", str(tmp_path / "report.md"),
                   "--plot-out", str(tmp_path / "report.png"), "--slo", "errors=0,p99(submit)<60s", "--quiet"])
    assert status == 0, (tmp_path / "report.md").read_text()
    report = json.loads(out.read_text())
    assert report["counts"]["games_started"] == 2
    assert report["counts"]["games_finished"] == 2
    assert report["counts"]["answers"] == 10
    assert report["errors_total"] == 0, report["errors"]
    verdicts = {k: v for k, v in report["counts"].items() if k.startswith("verdict_")}
    assert sum(verdicts.values()) == 10 and set(verdicts) <= {"verdict_correct", "verdict_incorrect"}
    assert report["latency_ms"]["result"]["count"] == 10
    assert report["latency_ms"]["submit"]["count"] == 10
    assert report["latency_ms"]["created"]["count"] == 2
    assert [o["ok"] for o in report["slo"]] == [True, True]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| result |" in (tmp_path / "report.md").read_text()


def test_a_missed_slo_exits_non_zero(platform, e2e_env, tmp_path, monkeypatch):
    # No credentials given: the simulator creates its own client with trivia-admin in this environment.
    monkeypatch.setenv("DATABASE_URL", e2e_env["DATABASE_URL"])
    monkeypatch.setenv("TRIVIA_ENV", "test")
    out = tmp_path / "report.json"
    status = main(["--api-url", e2e_env["API_URL"], "--players", "1", "--games", "1", "--questions", "2",
                   "--hint-rate", "1", "--json-out", str(out), "--slo", "p99<0.001ms,errors=0", "--quiet"])
    assert status == EXIT_SLO
    report = json.loads(out.read_text())
    assert report["counts"]["answers"] == 2
    assert report["counts"]["hints"] == 2
    assert [(o["clause"], o["ok"]) for o in report["slo"]] == [("p99<0.001ms", False), ("errors=0", True)]


def test_usage_errors_exit_2(capsys):
    assert main(["--slo", "p99 under 50ms"]) == EXIT_USAGE
    assert "cannot parse SLO clause" in capsys.readouterr().err
    assert main(["--mode", "api", "--group-size", "3"]) == EXIT_USAGE
    assert main(["--players", "0"]) == EXIT_USAGE


def test_telegram_mode_plays_solo_and_group_games_through_the_bot(telegram, tmp_path):  # noqa: F811
    _stack, client = telegram
    out = tmp_path / "solo.json"
    # Seed 1: one player taps options, the other sets /settings type text and types.
    status = main(["--mode", "telegram", "--standin-url", client.base_url, "--players", "2", "--games", "2",
                   "--questions", "2", "--text-fraction", "0.5", "--seed", "1", "--hint-rate", "0.5",
                   "--json-out", str(out), "--slo", "errors=0", "--quiet", "--result-timeout", "60"])
    report = json.loads(out.read_text())
    assert status == 0, report
    assert report["counts"]["games_finished"] == 2
    assert report["counts"]["answers"] >= 4
    assert report["latency_ms"]["reply"]["count"] == report["counts"]["answers"]
    assert report["standin"]["rate_limited_429"] == 0

    out = tmp_path / "group.json"
    status = main(["--mode", "telegram", "--standin-url", client.base_url, "--players", "3", "--group-size", "3",
                   "--games", "1", "--questions", "2", "--think-ms", "300", "--seed", "2", "--json-out", str(out),
                   "--slo", "errors=0", "--quiet", "--result-timeout", "60"])
    report = json.loads(out.read_text())
    assert status == 0, report
    assert report["counts"]["games_finished"] == 1
    assert report["latency_ms"]["question"]["count"] == 1
    assert report["counts"].get("verdict_correct", 0) + report["counts"].get("verdict_nobody", 0) == 2
