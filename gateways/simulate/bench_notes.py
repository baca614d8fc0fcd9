"""The part of docs/benchmarks.md that the bench does not measure in the run: findings, what each change
bought, and the changes proposed for code the bench does not own. Edit here; ``scripts/bench`` appends it."""

NOTES = """
## Findings

(to be written from the measured runs)
"""
