"""The --slo grammar: what parses, what does not, and how clauses judge a report."""

from __future__ import annotations

import pytest

from gateways.simulate.slo import Clause, SloError, evaluate, parse


def _report(**latency):
    return {
        "headline_step": "result",
        "latency_ms": latency,
        "errors": {"http_503": 2, "result_timeout": 1},
        "errors_total": 3,
        "throughput": {"answers_per_s": 1200.0},
    }


def test_the_examples_of_the_grammar_parse():
    clauses = parse("p99<50ms, errors=0")
    assert clauses == (
        Clause(text="p99<50ms", metric="p99", op="<", threshold=50.0),
        Clause(text="errors=0", metric="errors", op="=", threshold=0.0),
    )
    (seconds,) = parse("max<=1.5s")
    assert (seconds.metric, seconds.op, seconds.threshold) == ("max", "<=", 1500.0)
    (step,) = parse("p50(submit)<5ms")
    assert (step.metric, step.step, step.threshold) == ("p50", "submit", 5.0)
    (kind,) = parse("errors(http_503)<3")
    assert (kind.metric, kind.step, kind.op) == ("errors", "http_503", "<")
    (rate,) = parse("rate >= 1000/s")
    assert (rate.metric, rate.op, rate.threshold) == ("rate", ">=", 1000.0)


@pytest.mark.parametrize("text", ["", "p99<50", "p99>50ms", "p95<50ms", "errors<1.5", "latency<5ms",
                                  "p99<50ms,,errors=0", "rate<10", "p99<-5ms", "p99(Submit)<5ms"])
def test_malformed_clauses_are_refused_with_the_clause_named(text):
    with pytest.raises(SloError) as raised:
        parse(text)
    assert "clause" in str(raised.value)


def test_clauses_judge_the_report():
    report = _report(result={"count": 10, "p50": 8.0, "p90": 20.0, "p99": 49.9, "max": 80.0, "mean": 9.0},
                     submit={"count": 10, "p50": 2.0, "p90": 3.0, "p99": 6.0, "max": 7.0, "mean": 2.5})
    outcomes = evaluate(parse("p99<50ms,p50(submit)<2ms,p50(submit)<=2ms,max<0.08s,errors=0,errors(http_503)<3,"
                              "errors(http_429)=0,rate>=1000"), report)
    assert [(o["clause"], o["ok"]) for o in outcomes] == [
        ("p99<50ms", True), ("p50(submit)<2ms", False), ("p50(submit)<=2ms", True), ("max<0.08s", False),
        ("errors=0", False), ("errors(http_503)<3", True), ("errors(http_429)=0", True), ("rate>=1000", True),
    ]
    assert outcomes[0]["actual"] == 49.9
    assert outcomes[4]["actual"] == 3


def test_a_step_without_samples_does_not_meet_its_slo():
    outcomes = evaluate(parse("p99<1s,p50(reply)<1s"), _report(result={"count": 0}))
    assert [(o["ok"], o["actual"]) for o in outcomes] == [(False, None), (False, None)]
