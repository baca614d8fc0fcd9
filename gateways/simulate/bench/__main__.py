"""``python -m gateways.simulate.bench``: what ``scripts/bench`` runs."""

from gateways.simulate.bench.cli import main

raise SystemExit(main())
