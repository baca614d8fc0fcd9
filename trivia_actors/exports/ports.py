"""The interface the export drainers need from a transcript store; gateways implement it (Git, S3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from trivia_actors.exports.transcript import Transcript


class TranscriptExporter(Protocol):
    """Stores a batch of transcripts in one target, all or nothing from the caller's point of view.

    ``export`` returns once every transcript is durably stored and raises on any failure (the drainer then
    retries the whole batch later), so it must be idempotent: exporting a transcript again stores the same
    bytes at the same place and changes nothing else. Exceptions must not carry secrets. An exporter with a
    ``close()`` method has it called when its drainer stops.
    """

    def export(self, transcripts: Sequence[Transcript]) -> None: ...

