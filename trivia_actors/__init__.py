"""The game engine, as subsystem packages; each package's ``__init__`` is its facade (the rest is private).

- ``rules``: pure game code and the shared vocabulary (no threads, no I/O).
- ``runtime``: settings, failpoints, metrics, the database actor base.
- ``kafka``: the consumer bridge, the event producer, completions.
- ``session``: the telebot's engine (one session per chat game).
- ``worker``: the worker's engine (question master, evaluators, persistence, results publisher).
- ``deepseek``: DeepSeek judging and generation behind a small client port.
- ``exports``: transcripts of finished games and the export drainer.

docs/design-notes.md has the map of what each package may import.
"""
