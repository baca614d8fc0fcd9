"""``scripts/bench`` (``python -m gateways.simulate.bench``): the local stack measured phase by phase.

- ``cli``: the command line (sizes as flags) and what it writes.
- ``run``: one run: the stack, the warm-up, each phase not skipped.
- ``phases``: the API pipeline, a fixed rate, one worker against two, the floors, Telegram mode.
- ``probe``: many games held open by one telebot, and answer -> reply latency while they are held.
- ``system``: the machine, CPU time per process, a worker's own figures.
- ``document``: docs/benchmarks.md from the results.
"""

from gateways.simulate.bench.cli import main
from gateways.simulate.bench.config import PHASES, BenchConfig
from gateways.simulate.bench.document import render
from gateways.simulate.bench.run import run_bench

__all__ = ["PHASES", "BenchConfig", "main", "render", "run_bench"]
