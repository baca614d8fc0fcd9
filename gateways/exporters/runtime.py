"""Starting and stopping the transcript export drainers of a process, from its settings.

Only configured targets get a drainer: Git when ``GIT_REMOTE_URL`` is set, S3 when ``S3_BUCKET`` is set.
Outbox rows of a target that is not configured stay pending (never marked done), so turning the target on
later exports every game that finished meanwhile.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs
import peewee as pw
import pykka

from gateways.exporters.git_exporter import GitTranscriptExporter
from gateways.exporters.s3_exporter import S3TranscriptExporter
from trivia_actors.exports import ExportDrainerActor, TranscriptExporter, Wake
from trivia_actors.rules import ExportTarget
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)

DEFAULT_GIT_WORK_DIR = Path("var") / "git-export"


@attrs.frozen(kw_only=True)
class DrainerOptions:
    """Tuning of every drainer (tests shrink the intervals)."""

    batch_size: int = 20
    poll_interval_s: float = 1.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    jitter: float = 0.2
    stale_after_s: float = 60.0  # a killed worker's claimed rows are exported by another after this


@attrs.define
class ExportRuntime:
    """The running drainers, by target; ``stop`` stops them (each closes its exporter)."""

    drainers: dict[str, pykka.ActorRef[Any]] = attrs.field(factory=dict)

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets being exported, sorted."""
        return tuple(sorted(self.drainers))

    def wake(self) -> None:
        """Ask every drainer to look at the outbox now (e.g. right after a game ended)."""
        for ref in self.drainers.values():
            try:
                ref.tell(Wake())
            except pykka.ActorDeadError:
                logger.warning("export: drainer %s is not running", ref)

    def is_alive(self) -> bool:
        """True while every drainer runs."""
        return all(ref.is_alive() for ref in self.drainers.values())

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the drainers; a batch in flight finishes first (its rows are marked, or re-exported later)."""
        for target, ref in sorted(self.drainers.items(), reverse=True):
            try:
                ref.stop(timeout=timeout_s)
            except pykka.Timeout:
                logger.warning("export %s: drainer did not stop within %.0fs", target, timeout_s)
            except pykka.ActorDeadError:
                logger.debug("export %s: drainer already stopped", target)
        survivors = [target for target, ref in self.drainers.items() if ref.is_alive()]
        if survivors:
            logger.warning("export: drainers still running after stop: %s", ", ".join(survivors))


def make_exporters(settings: Settings, *, git_work_dir: Path | str = DEFAULT_GIT_WORK_DIR,
                   git_ssl_ca_info: str | None = None, s3_sse: str | None = None) -> dict[str, TranscriptExporter]:
    """The exporters the settings configure, by outbox target name."""
    exporters: dict[str, TranscriptExporter] = {}
    if settings.git_remote_url:
        exporters[ExportTarget.GIT] = GitTranscriptExporter(
            remote_url=settings.git_remote_url,
            token=settings.git_token,
            branch=settings.git_branch,
            work_dir=git_work_dir,
            ssl_ca_info=git_ssl_ca_info,
        )
    if settings.s3_bucket:
        exporters[ExportTarget.S3] = S3TranscriptExporter(
            bucket=settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            lambda_function_name=settings.lambda_function_name,
            sse=s3_sse,
        )
    return exporters


def start_exporters(
    settings: Settings,
    database: pw.Database,
    *,
    git_work_dir: Path | str = DEFAULT_GIT_WORK_DIR,
    git_ssl_ca_info: str | None = None,
    s3_sse: str | None = None,
    options: DrainerOptions | None = None,
    exporters: dict[str, TranscriptExporter] | None = None,
) -> ExportRuntime:
    """Start one drainer per configured target (none when no target is configured).

    A drainer is not asked to confirm it runs: its first cycle may be a long export, and ``is_alive`` tells
    the same. ``exporters`` replaces the ones built from ``settings`` (tests, other stores).
    """
    options = options or DrainerOptions()
    if exporters is None:
        exporters = make_exporters(settings, git_work_dir=git_work_dir, git_ssl_ca_info=git_ssl_ca_info,
                                   s3_sse=s3_sse)
    runtime = ExportRuntime()
    secrets = [settings.git_token]
    try:
        for target, exporter in sorted(exporters.items()):
            ref = ExportDrainerActor.start(
                database,
                target=target,
                exporter=exporter,
                batch_size=options.batch_size,
                poll_interval_s=options.poll_interval_s,
                backoff_base_s=options.backoff_base_s,
                backoff_max_s=options.backoff_max_s,
                jitter=options.jitter,
                stale_after_s=options.stale_after_s,
                secrets=secrets,
            )
            runtime.drainers[target] = ref
    except Exception:
        runtime.stop()
        raise
    if runtime.drainers:
        logger.info("export: drainers started for %s", ", ".join(runtime.targets))
    else:
        logger.info("export: no target configured (GIT_REMOTE_URL, S3_BUCKET unset); transcripts stay queued")
    return runtime

