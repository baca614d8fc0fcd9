"""``scripts/bench`` (``python -m gateways.simulate.bench``): the local stack measured phase by phase.

- ``cli``: the command line (sizes as flags) and what it writes.
- ``run``: one run: the stack, the warm-up, each phase not skipped.
- ``phases``: the API pipeline, a fixed rate, one worker against two, the floors, Telegram mode.
- ``probe``: many games held open by one telebot, and answer -> reply latency while they are held.
- ``held``: the held-games phase (issue 15's targets), with ``held_stack`` (its stand-in and telebot),
  ``opening`` (many games opened at once, /proc sampled meanwhile) and ``held_probe`` (probe players, and
  the answers after a SIGKILL and restart); ``document_held`` writes its part of the document.
- ``system``: the machine, CPU time per process, a worker's own figures.
- ``document``: docs/benchmarks.md from the results.
"""

from gateways.simulate.bench.cli import main
from gateways.simulate.bench.config import PHASES, BenchConfig
from gateways.simulate.bench.document import render
from gateways.simulate.bench.run import run_bench

__all__ = ["PHASES", "BenchConfig", "main", "render", "run_bench"]
