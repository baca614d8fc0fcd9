"""Export drainers: one actor per target that moves finished games' transcripts out of ``export_outbox``.

A drainer polls the outbox (every ``poll_interval_s``, or at once when told :class:`Wake`), claims up to
``batch_size`` due rows of its target, builds their transcripts, hands them to its
:class:`~trivia_actors.exports.ports.TranscriptExporter` and marks the rows done, or puts them back to pending
with exponential backoff and jitter and the (scrubbed) error. Nothing is lost:

- A claim is ``UPDATE ... SET status='exporting' WHERE id=? AND status='pending'``, so two drainers (threads
  or processes) never export the same row at once. While a row is ``exporting`` its ``next_attempt_at``
  holds the claim time, renewed every ``stale_after_s / 4`` while its export runs (a lease); rows whose lease
  is older than ``stale_after_s`` (their drainer was killed mid-batch) become pending again, on start and
  then periodically, so another worker exports them within about a minute.
- Database errors never stop the actor: outcomes that could not be written are kept and written first on
  the next cycle, and the poll goes on.
- Exporters are idempotent, so a batch exported again after a crash changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import peewee as pw
import pykka
from prometheus_client import Counter, Histogram

from schema.models import ExportOutbox, utcnow
from trivia_actors.exports.messages import Wake
from trivia_actors.exports.ports import TranscriptExporter
from trivia_actors.exports.transcript import Transcript, load_transcript
from trivia_actors.rules import ExportState
from trivia_actors.runtime import TRANSIENT_DB_ERRORS, DatabaseActor

logger = logging.getLogger(__name__)

EXPORTS_DONE = Counter("trivia_exports_done_total", "Transcripts exported", ["target"])
EXPORTS_FAILED = Counter(
    "trivia_exports_failed_total", "Transcript exports that failed and were rescheduled", ["target"]
)
EXPORT_BATCH_SECONDS = Histogram(
    "trivia_export_batch_seconds",
    "Time to export one batch of transcripts",
    ["target"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

MAX_ERROR_CHARS = 500
DEFAULT_BATCH_SIZE = 20

# userinfo in a URL (https://user:secret@host) and HTTP credentials that a library may echo in an error.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@")
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization|x-amz-security-token|x-amz-signature|signature)([=:]\s*)"
    r"(?:(?:basic|bearer|token|aws4-hmac-sha256)\s+)?[^\s,;]+"
)


def scrub_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with each secret, URL credentials and auth headers replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _AUTH_HEADER.sub(r"\1\2***", text)


def describe_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """A one-paragraph, scrubbed description of ``exc`` for ``export_outbox.last_error`` (at most 500 chars)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    text = " ".join(scrub_text(text, secrets).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def backoff_delay(attempts: int, *, base_s: float = 1.0, max_s: float = 300.0, jitter: float = 0.2,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failure (0-based): ``min(base * 2**attempts, max) +- jitter``."""
    delay = min(base_s * 2.0 ** min(attempts, 62), max_s)
    spread: float = (rng or random.Random()).uniform(-jitter, jitter) if jitter > 0 else 0.0
    return max(0.0, delay * (1.0 + spread))


@attrs.frozen(kw_only=True)
class _Claimed:
    row_id: int
    game_id: str
    attempts: int


@attrs.frozen(kw_only=True)
class _Outcome:
    """The result of exporting one claimed row, kept until it is written to the database."""

    row: _Claimed
    done: bool
    error: str | None = None
    at: dt.datetime


class ExportDrainerActor(DatabaseActor):
    """Drains ``export_outbox`` rows of one target into one exporter; owns (and closes) the exporter."""

    def __init__(
        self,
        database: pw.Database,
        *,
        target: str,
        exporter: TranscriptExporter,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 300.0,
        jitter: float = 0.2,
        stale_after_s: float = 60.0,
        secrets: Sequence[str | None] = (),
        transcript_loader: Callable[[str], Transcript] = load_transcript,
    ) -> None:
        super().__init__(database)
        self.target = target
        self.exporter = exporter
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.jitter = jitter
        self.stale_after_s = stale_after_s
        self.secrets = tuple(s for s in secrets if s)
        self.load = transcript_loader
        self._rng = random.Random()
        self._timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._stopped = False
        self._unsettled: list[_Outcome] = []
        self._next_stale_check = 0.0

    # --- lifecycle ----------------------------------------------------------------------------------

    def on_start(self) -> None:
        logger.info("export %s: drainer started (batch %d, poll %.2fs)", self.target, self.batch_size,
                    self.poll_interval_s)
        self.actor_ref.tell(Wake())

    def on_stop(self) -> None:
        self._shutdown()
        super().on_stop()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._shutdown()
        super().on_failure(exception_type, exception_value, traceback)

    def _shutdown(self) -> None:
        with self._timer_lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._unsettled:
            logger.warning("export %s: %d outcomes not written at stop; those rows are re-exported after %.0fs",
                           self.target, len(self._unsettled), self.stale_after_s)
        close = getattr(self.exporter, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - a failing close must not hide the stop itself
                logger.warning("export %s: closing the exporter failed: %s", self.target,
                               describe_error(exc, self.secrets))

    def _schedule(self, delay_s: float) -> None:
        with self._timer_lock:
            if self._stopped:
                return
            if self._timer is not None:
                self._timer.cancel()
            timer = threading.Timer(delay_s, self._tick)
            timer.daemon = True
            timer.name = f"export-{self.target}-poll"
            self._timer = timer
            timer.start()

    def _tick(self) -> None:
        try:
            self.actor_ref.tell(Wake())
        except pykka.ActorDeadError:
            logger.debug("export %s: poll after the drainer stopped", self.target)

    # --- messages -----------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Wake):
            self._cycle()
            return None
        logger.warning("export %s: unexpected message %s", self.target, type(message).__name__)
        return None

    def _cycle(self) -> None:
        more = False
        try:
            more = self.drain_once() >= self.batch_size
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            logger.warning("export %s: database unavailable, retrying at the next poll: %s", self.target,
                           describe_error(exc, self.secrets))
        except Exception:
            self.drop_connection()
            logger.exception("export %s: drain cycle failed; retrying at the next poll", self.target)
        if more:
            # A full batch: there may be more due rows, take them without waiting for the poll.
            with self._timer_lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            self.actor_ref.tell(Wake())
        else:
            self._schedule(self.poll_interval_s)

    # --- one cycle ----------------------------------------------------------------------------------

    def drain_once(self) -> int:
        """Settle earlier outcomes, recover stale claims, claim and export one batch; the rows claimed."""
        self.ensure_connection()
        self._settle()
        if time.monotonic() >= self._next_stale_check:
            self._recover_stale()
            self._next_stale_check = time.monotonic() + max(self.stale_after_s / 2, 1.0)
        claimed = self._claim()
        if not claimed:
            return 0
        transcripts: list[Transcript] = []
        exported: list[_Claimed] = []
        for row in claimed:
            try:
                transcripts.append(self.load(row.game_id))
                exported.append(row)
            except TRANSIENT_DB_ERRORS:
                # Give the whole claim back (written once the database answers again) and end the cycle.
                settled = {o.row.row_id for o in self._unsettled}
                rest = [r for r in claimed if r.row_id not in settled]
                self._unsettled.extend(self._failed(rest, "database unavailable while building the transcript"))
                raise
            except Exception as exc:  # noqa: BLE001 - one broken game must not block the others
                error = describe_error(exc, self.secrets)
                logger.warning("export %s: game %s: cannot build the transcript: %s", self.target, row.game_id,
                               error)
                self._unsettled.extend(self._failed([row], error))
        if exported:
            started = time.monotonic()
            lease = _Lease(self.database, [row.row_id for row in exported], every_s=self.stale_after_s / 4)
            try:
                self.exporter.export(transcripts)
            except Exception as exc:  # noqa: BLE001 - any exporter failure means "retry later"
                error = describe_error(exc, self.secrets)
                logger.warning("export %s: %d transcripts failed (games %s): %s", self.target, len(exported),
                               ", ".join(r.game_id for r in exported), error)
                self._unsettled.extend(self._failed(exported, error))
            else:
                now = utcnow()
                self._unsettled.extend(_Outcome(row=row, done=True, at=now) for row in exported)
                logger.info("export %s: %d transcripts exported (games %s)", self.target, len(exported),
                            ", ".join(r.game_id for r in exported))
            finally:
                lease.end()
                EXPORT_BATCH_SECONDS.labels(self.target).observe(time.monotonic() - started)
        self._settle()
        return len(claimed)

    def _failed(self, rows: Iterable[_Claimed], error: str) -> list[_Outcome]:
        now = utcnow()
        return [_Outcome(row=row, done=False, error=error, at=now) for row in rows]

    def _claim(self) -> list[_Claimed]:
        now = utcnow()
        claimed: list[_Claimed] = []
        with self.database.atomic():
            due = (
                ExportOutbox.select(ExportOutbox.id, ExportOutbox.game, ExportOutbox.attempts)
                .where(
                    ExportOutbox.target == self.target,
                    ExportOutbox.status == ExportState.PENDING,
                    ExportOutbox.next_attempt_at <= now,
                )
                .order_by(ExportOutbox.next_attempt_at, ExportOutbox.id)
                .limit(self.batch_size)
            )
            for row in list(due):
                # Guarded by status: of two drainers racing for a row, only one update matches.
                won = (
                    ExportOutbox.update(status=ExportState.EXPORTING, next_attempt_at=now)
                    .where(ExportOutbox.id == row.id, ExportOutbox.status == ExportState.PENDING)
                    .execute()
                )
                if won:
                    claimed.append(_Claimed(row_id=row.id, game_id=str(row.__data__["game"]), attempts=row.attempts))
        return claimed

    def _recover_stale(self) -> None:
        cutoff = utcnow() - dt.timedelta(seconds=self.stale_after_s)
        recovered = (
            ExportOutbox.update(status=ExportState.PENDING)
            .where(
                ExportOutbox.target == self.target,
                ExportOutbox.status == ExportState.EXPORTING,
                ExportOutbox.next_attempt_at < cutoff,
            )
            .execute()
        )
        if recovered:
            logger.warning("export %s: %d rows were left exporting by a stopped drainer; pending again",
                           self.target, recovered)

    def _settle(self) -> None:
        """Write the kept outcomes; on a database error keep the rest for the next cycle."""
        while self._unsettled:
            outcome = self._unsettled[0]
            row = outcome.row
            if outcome.done:
                ExportOutbox.update(status=ExportState.DONE, done_at=outcome.at, last_error=None).where(
                    ExportOutbox.id == row.row_id, ExportOutbox.status == ExportState.EXPORTING
                ).execute()
                EXPORTS_DONE.labels(self.target).inc()
            else:
                delay = backoff_delay(row.attempts, base_s=self.backoff_base_s, max_s=self.backoff_max_s,
                                      jitter=self.jitter, rng=self._rng)
                ExportOutbox.update(
                    status=ExportState.PENDING,
                    attempts=row.attempts + 1,
                    next_attempt_at=outcome.at + dt.timedelta(seconds=delay),
                    last_error=(outcome.error or "unknown error")[:MAX_ERROR_CHARS],
                ).where(ExportOutbox.id == row.row_id, ExportOutbox.status == ExportState.EXPORTING).execute()
                EXPORTS_FAILED.labels(self.target).inc()
            self._unsettled.pop(0)


class _Lease:
    """Keeps claimed rows' claim time fresh while their (possibly slow) export runs, from its own thread, so
    only a drainer that died lets its rows go stale."""

    def __init__(self, database: pw.Database, row_ids: list[int], *, every_s: float) -> None:
        self._database = database
        self._row_ids = row_ids
        self._every_s = max(every_s, 0.05)
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="export-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._ended.wait(self._every_s):
            try:
                with self._database.connection_context():
                    ExportOutbox.update(next_attempt_at=utcnow()).where(
                        ExportOutbox.id.in_(self._row_ids), ExportOutbox.status == ExportState.EXPORTING).execute()
            except pw.PeeweeException as exc:
                logger.warning("export: renewing the claim of %d rows failed: %s", len(self._row_ids),
                               type(exc).__name__)

    def end(self) -> None:
        """Stop renewing (the outcome is about to be written)."""
        self._ended.set()
        self._thread.join(timeout=5)
