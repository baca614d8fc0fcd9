"""Retries, Retry-After, the circuit breaker, timeouts, back-pressure and the quota.

The rules are plain code, tested with a fake clock; the pool is tested with real actors against llmock."""

from __future__ import annotations

import datetime as dt
import queue
import time
import uuid

import pytest

from tests.deepseek.conftest import chat_requests, verdict_json
from trivia_actors.deepseek import AnswerJudged, ChatError, ChatRequest, RetryPolicy
from trivia_actors.deepseek.resilience import CircuitBreaker, DailyQuota, call_with_retries
from trivia_actors.rules import Evaluation
from trivia_actors.worker.evaluator import upgraded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_breaker_opens_after_threshold_and_probes_once_after_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.rejects() and not breaker.allow()
    clock.advance(30)
    assert breaker.state == "half_open"
    assert not breaker.rejects()
    assert breaker.allow(), "the first caller after the cooldown is the probe"
    assert not breaker.allow(), "only one probe at a time"
    assert breaker.rejects()
    breaker.record_failure()
    assert breaker.state == "open", "a failed probe opens the breaker for another cooldown"
    clock.advance(29)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and not breaker.rejects()


def test_success_resets_the_count_of_consecutive_failures():
    breaker = CircuitBreaker(threshold=2, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_a_lost_probe_does_not_block_the_breaker_forever():
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()  # the probe's thread dies without reporting
    clock.advance(10)
    assert breaker.allow()


def test_backoff_grows_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4)
    assert [policy.delay(n, None, 0.999999) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.5, 1, 2, 4, 4], rel=1e-3)
    assert [policy.delay(n, None, 0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert policy.delay(1, 3.0, 0.5) == 3.0, "Retry-After is a floor"
    assert policy.delay(4, 0.1, 0.0) == 2.0


class ScriptedClient:
    """A client replaying errors then a reply, for the retry loop without a network."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[float] = []

    def complete(self, request, *, timeout_s):
        self.calls.append(timeout_s)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self) -> None:
        pass


REQUEST = ChatRequest(purpose="judge", messages=(("user", "json"),), temperature=0, max_tokens=10)


def test_retries_stop_when_the_wait_would_pass_the_deadline():
    clock = FakeClock()
    waits: list[float] = []
    client = ScriptedClient(ChatError("rate_limited", retryable=True, retry_after_s=30), "never")
    with pytest.raises(ChatError) as caught:
        call_with_retries(client, REQUEST, breaker=CircuitBreaker(clock=clock), policy=RetryPolicy(),
                          deadline=clock() + 5, timeout_s=20, clock=clock, sleep=waits.append)
    assert caught.value.kind == "rate_limited"
    assert waits == [], "a Retry-After longer than the time left fails at once, for the fallback"
    assert client.calls == [5], "the attempt's timeout is cut to the time left"


def test_non_retryable_errors_are_not_retried():
    clock = FakeClock()
    client = ScriptedClient(ChatError("client_error", retryable=False, status=401))
    with pytest.raises(ChatError):
        call_with_retries(client, REQUEST, breaker=CircuitBreaker(clock=clock), policy=RetryPolicy(),
                          deadline=clock() + 5, timeout_s=20, clock=clock, sleep=lambda s: None)
    assert len(client.calls) == 1


def test_429_with_retry_after_is_honoured_against_the_server(client, llmock):
    llmock.fail(429, retry_after=0.4)
    llmock.reply(verdict_json("correct"))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    reply = call_with_retries(client, REQUEST, breaker=CircuitBreaker(), policy=RetryPolicy(base_delay_s=0.01),
                              deadline=time.monotonic() + 10, timeout_s=5, sleep=sleep)
    assert reply.content == verdict_json("correct")
    assert len(waits) == 1 and waits[0] >= 0.4, f"waited {waits} where the server asked for 0.4 s"
    first, second = chat_requests(llmock)
    assert (first.status, second.status) == (429, 200)
    assert second.started_at - first.started_at >= 0.4, "the retry came before Retry-After elapsed"


def _judge(pool, reply_to, given: str = "Tchaikovsky", question_id: int = 1) -> AnswerJudged | None:
    return pool.judge(token=uuid.uuid4().hex, game_id="g1", request_id=uuid.uuid4().hex, question_id=question_id,
                      question="Who composed Swan Lake?", answer="Pyotr Ilyich Tchaikovsky", aliases=(),
                      given=given, reply_to=reply_to)


CLOSE = Evaluation(verdict="close", given="Tchaikovsky", judged_by="local", reason="partial")


def test_500s_open_the_breaker_and_the_local_verdict_takes_over(make_pool, inbox, llmock):
    ref, out = inbox
    llmock.outage(status=500)
    pool = make_pool(breaker_threshold=3, breaker_cooldown_s=60)
    assert _judge(pool, ref) is None
    judged = out.get(timeout=10)
    assert (judged.verdict, judged.failure) == (None, "server_error")
    assert upgraded(CLOSE, judged) == CLOSE, "a failure leaves the local verdict standing"
    assert len(chat_requests(llmock)) == 3, "three attempts, then the breaker opened"
    assert pool.breaker.state == "open"
    refused = _judge(pool, ref, given="Chaikovsky", question_id=2)
    assert refused is not None and refused.failure == "breaker_open", "an open breaker refuses at once"
    assert upgraded(CLOSE, refused) == CLOSE
    assert len(chat_requests(llmock)) == 3, "no request while the breaker is open"


def test_a_timeout_ends_in_the_local_verdict(make_pool, inbox, llmock):
    ref, out = inbox
    llmock.delay(3.0)
    llmock.reply(verdict_json("correct"))
    pool = make_pool(judge_deadline_s=0.6)
    assert _judge(pool, ref) is None
    judged = out.get(timeout=10)
    assert (judged.verdict, judged.failure) == (None, "timeout")
    assert upgraded(CLOSE, judged) == CLOSE


def test_a_full_queue_refuses_at_once(make_pool, inbox, llmock):
    ref, out = inbox
    llmock.delay(1.0)
    llmock.reply(verdict_json("correct"), times=None)
    pool = make_pool(concurrency=1, max_pending=1)
    assert _judge(pool, ref, question_id=1) is None
    refused = _judge(pool, ref, question_id=2)
    assert refused is not None and refused.failure == "queue_full"
    assert out.get(timeout=10).verdict == "correct"
    assert pool.pending == 0
    assert _judge(pool, ref, question_id=3) is None, "admitted again once the queue drained"
    assert out.get(timeout=10).verdict == "correct"


def test_daily_quota_per_player_resets_the_next_day():
    day = [dt.date(2026, 1, 1)]
    quota = DailyQuota(2, today=lambda: day[0])
    assert quota.take("tg:1") and quota.take("tg:1")
    assert not quota.take("tg:1")
    assert quota.take("tg:2"), "each player has a quota of their own"
    quota.refund("tg:1")
    assert quota.remaining("tg:1") == 1
    day[0] = dt.date(2026, 1, 2)
    assert quota.remaining("tg:1") == 2


def test_generation_quota_refuses_without_a_request(make_pool, inbox, llmock):
    ref, out = inbox
    llmock.reply('{"questions": []}', times=None)
    pool = make_pool(daily_quota=1)

    def generate(charge: bool = True) -> str | None:
        return pool.generate(token=uuid.uuid4().hex, game_id="g", request_id="r", subject="tg:7", topic="volcanoes",
                             category="volcanoes", difficulty=None, count=3, avoid=(), reply_to=ref,
                             charge_quota=charge)

    assert generate() is None
    out.get(timeout=10)
    assert generate(charge=False) is None, "follow-up rounds of one game are not charged"
    out.get(timeout=10)
    assert generate() == "quota"
    assert len(chat_requests(llmock)) == 2
    with pytest.raises(queue.Empty):
        out.get(timeout=0.2)
