"""Flood windows and storm plans on their own, without a server: what a bot call meets before the world acts."""

from __future__ import annotations

from gateways.telegram_standin import FaultPlan, FloodLimits
from gateways.telegram_standin.limits import FloodMeter


def test_a_counted_storm_hits_that_many_calls_then_stops() -> None:
    plan = FaultPlan(status=500, count=2)
    assert [plan.hits("sendmessage") for _ in range(3)] == [True, True, False]
    assert plan.count == 0


def test_a_storm_spares_getupdates_unless_it_names_it() -> None:
    assert not FaultPlan(count=1).hits("getupdates")
    scoped = FaultPlan(count=5, methods=frozenset({"getupdates"}))
    assert scoped.hits("getupdates") and not scoped.hits("sendmessage")
    assert scoped.count == 4


def test_a_fractional_storm_draws_for_each_call_once_the_count_is_spent() -> None:
    always = FaultPlan(count=1, fraction=1.0)
    assert all(always.hits("editmessagetext") for _ in range(5))
    assert not any(FaultPlan(fraction=0.0).hits("sendmessage") for _ in range(5))


def test_a_hit_call_gets_telegrams_error_for_the_status() -> None:
    too_many = FaultPlan(status=429, retry_after=3).error()
    assert (too_many.code, too_many.retry_after) == (429, 3)
    assert too_many.description == "Too Many Requests: retry after 3"
    assert FaultPlan(status=500).error().description == "Internal Server Error"
    assert FaultPlan(status=503).error().description == "Bad Gateway"


def test_the_meter_names_every_window_a_send_would_break() -> None:
    limits = FloodLimits(global_per_second=100, chat_messages=2, chat_window_s=3.0, group_messages=2,
                         group_window_s=60.0)
    meter = FloodMeter()
    for now in (0.0, 0.5):
        assert meter.breaches(limits, -1, True, "send", now) == []
        meter.record(-1, True, "send", now)
    assert meter.breaches(limits, -1, True, "send", 1.0) == [("chat", 2), ("group", 59)]
    assert meter.breaches(limits, -1, True, "edit", 1.0) == []  # edits have their own window
    assert meter.breaches(limits, -1, True, "send", 3.6) == [("group", 57)]  # the chat window has slid
