"""The report's maths on fixed samples: percentiles, summaries, counters, the progress histogram."""

from __future__ import annotations

import io
import math

import pytest

from gateways.simulate.progress import Progress, progress_line
from gateways.simulate.report import LogHistogram, Recorder, markdown, percentile, summarize
from gateways.simulate.telegram_mode import group_members, question_text, verdict_of


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_percentile_interpolates_between_closest_ranks():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 10.0
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 90) == pytest.approx(9.1)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile([42.0], 99) == 42.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summary_reports_milliseconds_from_seconds():
    summary = summarize([0.004, 0.001, 0.003, 0.002, 0.100])
    assert summary["count"] == 5
    assert summary["min"] == pytest.approx(1.0)
    assert summary["p50"] == pytest.approx(3.0)
    assert summary["p90"] == pytest.approx(61.6)
    assert summary["max"] == pytest.approx(100.0)
    assert summary["mean"] == pytest.approx(22.0)
    assert summarize([]) == {"count": 0}


def test_log_histogram_is_within_two_percent():
    histogram = LogHistogram()
    assert histogram.percentile(99) is None
    for n in range(1, 1001):
        histogram.add(n / 1000)  # 1 ms .. 1 s
    for q, exact in ((50, 0.5), (90, 0.9), (99, 0.99)):
        assert math.isclose(histogram.percentile(q), exact, rel_tol=0.021)


def test_recorder_report_counts_throughput_errors_and_steps():
    clock = Clock()
    recorder = Recorder(headline="result", clock=clock)
    for latency in (0.010, 0.020, 0.030, 0.040):
        recorder.record("result", latency)
        recorder.record("submit", latency / 10)
        recorder.count("answers")
    recorder.count("games_started", 2)
    recorder.count("games_finished")
    recorder.error("http_503")
    recorder.error("http_503")
    recorder.error("result_timeout")
    clock.now += 2.0
    recorder.finish()
    report = recorder.report(mode="api", config={"players": 2})
    assert report["duration_s"] == pytest.approx(2.0)
    assert report["counts"] == {"answers": 4, "games_started": 2, "games_finished": 1}
    assert report["throughput"]["answers_per_s"] == pytest.approx(2.0)
    assert report["throughput"]["games_per_s"] == pytest.approx(0.5)
    assert report["errors"] == {"http_503": 2, "result_timeout": 1}
    assert report["errors_total"] == 3
    assert list(report["latency_ms"]) == ["submit", "result"]
    assert report["latency_ms"]["result"]["p50"] == pytest.approx(25.0)
    assert report["latency_ms"]["result"]["max"] == pytest.approx(40.0)
    text = markdown(report)
    assert "| result | POST answer -> result (in the POST with ?wait=, else its long poll) | 4 | 25.00 |" in text
    assert "| http_503 | 2 |" in text


def test_progress_line_and_plain_output_when_not_a_terminal():
    clock = Clock()
    recorder = Recorder(headline="result", clock=clock)
    recorder.count("answers", 1)
    recorder.record("result", 0.012)
    clock.now += 1.0
    line = progress_line(recorder.progress(), headline="result")
    assert "answers 1" in line and "errors 0" in line and "p99 result 12." in line
    stream = io.StringIO()
    with Progress(recorder, stream, plain_interval_s=60):
        pass
    assert stream.getvalue().count("\n") == 1
    assert "\r" not in stream.getvalue()


def test_telegram_texts_are_read_as_the_bot_writes_them():
    question = {"kind": "message", "plain": "❓ Question 2/5 · Art · easy\n\nWho painted the 'Mona Lisa'?\n\n"
                                             "⏱ 30 s to answer — tap an option or type it."}
    assert question_text(question) == "Who painted the 'Mona Lisa'?"
    assert verdict_of({"plain": "❓ Question 2/5\n\nQ\n\n✅ Correct! +120 points\nTotal: 120"}) == "correct"
    assert verdict_of({"plain": "❓ Question 2/5\n\nQ\n\n❌ Wrong. The answer is X.\nTotal: 0"}) == "incorrect"
    assert group_members([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4, 5]]
    assert group_members([1, 2, 3, 4], 3) == [[1, 2, 3, 4]]
    assert group_members([1, 2], 0) == []
    with pytest.raises(ValueError):
        group_members([1], 2)
