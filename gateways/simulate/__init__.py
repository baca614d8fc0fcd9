"""Scripted load: many virtual players at once, through the HTTP API or as Telegram users, and the bench.

``trivia-simulate`` (:mod:`gateways.simulate.cli`) drives a running deployment and reports throughput,
latency percentiles per step and errors by kind (JSON, Markdown, PNG), optionally checked against an SLO.
``scripts/bench`` (:mod:`gateways.simulate.bench`) starts the local stack itself, measures the pipeline and
the floors it stands on, and writes ``docs/benchmarks.md``. See ``docs/simulation.md``.
"""
