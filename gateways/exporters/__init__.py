"""Transcript exporters (Git over HTTPS, S3 + Lambda) and the wiring that starts their drainers."""

from gateways.exporters.git_exporter import GitExportError, GitTranscriptExporter
from gateways.exporters.runtime import DrainerOptions, ExportRuntime, make_exporters, start_exporters
from gateways.exporters.s3_exporter import S3ExportError, S3TranscriptExporter, s3_event, transcript_key

__all__ = [
    "DrainerOptions",
    "ExportRuntime",
    "GitExportError",
    "GitTranscriptExporter",
    "S3ExportError",
    "S3TranscriptExporter",
    "make_exporters",
    "s3_event",
    "start_exporters",
    "transcript_key",
]
