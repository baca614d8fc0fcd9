"""Exports of finished games: the deterministic transcript, the exporter port and the drainer actor."""

from trivia_actors.exports.drainer import ExportDrainerActor, scrub_text
from trivia_actors.exports.messages import Wake
from trivia_actors.exports.ports import TranscriptExporter
from trivia_actors.exports.transcript import Transcript, load_transcript, render

__all__ = ["ExportDrainerActor", "Transcript", "TranscriptExporter", "Wake", "load_transcript", "render", "scrub_text"]
