"""Prometheus metrics of the hot paths; each process exposes them at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CONSUMED = Counter("trivia_records_consumed_total", "Kafka records consumed", ["consumer"])
DEAD_LETTERED = Counter("trivia_records_dead_lettered_total", "Records sent to the DLQ", ["consumer"])
EVENTS_PROCESSED = Counter("trivia_events_processed_total", "Commands processed by the worker", ["type", "outcome"])
PROCESS_SECONDS = Histogram(
    "trivia_event_process_seconds",
    "From command received by the worker to results acknowledged",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PERSIST_BATCH = Histogram(
    "trivia_persist_batch_size", "Commands written per persistence transaction", buckets=(1, 2, 5, 10, 20, 50, 100, 200)
)
HTTP_REQUESTS = Counter("trivia_http_requests_total", "API requests", ["route", "status"])
HTTP_SECONDS = Histogram(
    "trivia_http_request_seconds",
    "API request handling time",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TELEGRAM_UPDATES = Counter("trivia_telegram_updates_total", "Telegram updates handled", ["kind"])
TELEGRAM_SENT = Counter("trivia_telegram_sent_total", "Telegram API calls made", ["method", "outcome"])
