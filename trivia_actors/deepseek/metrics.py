"""DeepSeek's Prometheus metrics: calls, failures, latency, tokens, admission refusals, generated questions."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter("trivia_deepseek_calls_total", "HTTP requests made to DeepSeek", ["purpose", "outcome"])
FAILURES = Counter(
    "trivia_deepseek_failures_total", "DeepSeek jobs that ended without a usable answer (local fallback)",
    ["purpose", "reason"],
)
LATENCY = Histogram(
    "trivia_deepseek_request_seconds", "Duration of one HTTP request to DeepSeek", ["purpose"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
TOKENS = Counter("trivia_deepseek_tokens_total", "Tokens DeepSeek reported as used", ["purpose", "kind"])
CACHE_HITS = Counter("trivia_deepseek_cache_hits_total", "Judgements answered from the cache")
REJECTED = Counter(
    "trivia_deepseek_rejected_total", "Jobs refused at admission (breaker open, queue full, quota)",
    ["purpose", "reason"],
)
GENERATED = Counter("trivia_deepseek_generated_questions_total", "Generated questions by outcome", ["outcome"])
PENDING = Gauge("trivia_deepseek_pending_jobs", "Jobs admitted and not finished yet")
BREAKER_OPEN = Gauge("trivia_deepseek_breaker_open", "1 while the circuit breaker refuses calls")
