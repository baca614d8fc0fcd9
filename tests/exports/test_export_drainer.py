"""The export drainer actor on a real PostgreSQL outbox: claims, batches, backoff, recovery, wiring."""

from __future__ import annotations

import datetime as dt
import random
from urllib.parse import urlsplit

import psycopg2
import pytest

from gateways.exporters.runtime import DrainerOptions, start_exporters
from schema.models import ExportOutbox, utcnow
from tests.exports.documents import eventually
from tests.exports.dummy_exporters import RecordingExporter
from tests.exports.games import play_game
from trivia_actors.exports import Wake
from trivia_actors.exports.drainer import (
    MAX_ERROR_CHARS,
    ExportDrainerActor,
    backoff_delay,
    describe_error,
    scrub_text,
)
from trivia_actors.runtime import Settings

FAST = {"poll_interval_s": 0.05, "backoff_base_s": 0.05, "backoff_max_s": 0.2, "jitter": 0.0}


def _rows(database, target: str | None = None) -> list[ExportOutbox]:
    with database.connection_context():
        query = ExportOutbox.select().order_by(ExportOutbox.id)
        if target:
            query = query.where(ExportOutbox.target == target)
        return list(query)


def _all_done(database, target: str, count: int) -> list[ExportOutbox] | None:
    rows = _rows(database, target)
    return rows if len(rows) == count and all(r.status == "done" for r in rows) else None


@pytest.fixture
def drainers():
    started = []

    def start(database, exporter, target="git", **kwargs):
        options = {**FAST, **kwargs}
        ref = ExportDrainerActor.start(database, target=target, exporter=exporter, **options)
        started.append(ref)
        return ref

    yield start
    for ref in started:
        if ref.is_alive():
            ref.stop(timeout=10)


# --- plain functions -----------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter():
    assert [backoff_delay(n, jitter=0) for n in range(10)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff_delay(1000, jitter=0) == 300
    rng = random.Random(7)
    delays = [backoff_delay(3, jitter=0.2, rng=rng) for _ in range(200)]
    assert all(6.4 <= d <= 9.6 for d in delays)
    assert len({round(d, 3) for d in delays}) > 50, "no jitter"


def test_errors_are_scrubbed_and_truncated():
    error = RuntimeError("push to https://bot:hunter2@git.example/repo failed, token tok-123456 refused " + "x" * 900)
    text = describe_error(error, ["tok-123456"])
    assert "hunter2" not in text and "tok-123456" not in text
    assert text.startswith("RuntimeError: push to https://***@git.example/repo failed, token *** refused")
    assert len(text) == MAX_ERROR_CHARS and text.endswith("...")
    assert scrub_text("header Authorization: Bearer abc.def, next") == "header Authorization: ***, next"
    assert scrub_text("Authorization=Basic Ym90OnNlY3JldA==") == "Authorization=***"
    assert scrub_text("no secret here", [None, ""]) == "no secret here"


# --- the actor -------------------------------------------------------------------------------------------


def test_drainer_exports_every_finished_game_once_and_marks_it_done(export_db, drainers):
    games = [play_game(export_db) for _ in range(3)]
    exporter = RecordingExporter()
    drainers(export_db, exporter, target="git")
    rows = eventually(lambda: _all_done(export_db, "git", 3), message="git rows not all done")
    assert sorted(exporter.exported) == sorted(games)
    assert all(r.done_at is not None and r.last_error is None and r.attempts == 0 for r in rows)
    # The other target's rows are not this drainer's business.
    assert [r.status for r in _rows(export_db, "s3")] == ["pending"] * 3


def test_batches_hold_at_most_batch_size_rows(export_db, drainers):
    games = [play_game(export_db, moves=("correct",)) for _ in range(5)]
    exporter = RecordingExporter()
    drainers(export_db, exporter, batch_size=2)
    eventually(lambda: _all_done(export_db, "git", 5), message="rows not done")
    assert max(len(b) for b in exporter.batches) == 2
    assert sorted(exporter.exported) == sorted(games)


def test_a_failing_export_is_retried_with_backoff_and_a_scrubbed_error(export_db, drainers):
    secret = "sekrit-0123456789"
    game = play_game(export_db)
    error = f"403 from https://bot:{secret}@git.example: token {secret} refused " + "y" * 800
    exporter = RecordingExporter(error=error)
    exporter.failing = True
    drainers(export_db, exporter, secrets=[secret], backoff_base_s=0.02, backoff_max_s=0.1)

    def failed_twice():
        row = _rows(export_db, "git")[0]
        return row if row.attempts >= 2 and row.status == "pending" else None

    row = eventually(failed_twice, message="the export was not retried")
    assert secret not in row.last_error and "***" in row.last_error
    assert row.last_error.startswith("RuntimeError: 403 from https://***@git.example")
    assert len(row.last_error) <= MAX_ERROR_CHARS
    assert row.next_attempt_at > row.created_at
    assert row.done_at is None
    exporter.failing = False
    done = eventually(lambda: _all_done(export_db, "git", 1), message="never exported after recovery")[0]
    assert done.last_error is None and done.attempts >= 2
    assert exporter.exported == [game]


def test_a_failed_row_waits_for_its_backoff_which_doubles(export_db, drainers):
    play_game(export_db, moves=("correct",))
    exporter = RecordingExporter()
    exporter.failing = True
    ref = drainers(export_db, exporter, poll_interval_s=3600, backoff_base_s=3600, backoff_max_s=4 * 3600)
    # on_start queued the first cycle; each ask runs one more cycle after it, synchronously.
    ref.ask(Wake(), timeout=10)
    row = _rows(export_db, "git")[0]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at >= utcnow() + dt.timedelta(minutes=59)
    for _ in range(3):
        ref.ask(Wake(), timeout=10)
    assert exporter.attempts == 1, "a row was retried before its backoff ran out"
    # As if the hour had passed: the row is retried, and the next wait is twice as long.
    with export_db.connection_context():
        ExportOutbox.update(next_attempt_at=utcnow() - dt.timedelta(seconds=1)).where(
            ExportOutbox.target == "git").execute()
    ref.ask(Wake(), timeout=10)
    row = _rows(export_db, "git")[0]
    assert (row.status, row.attempts, exporter.attempts) == ("pending", 2, 2)
    assert row.next_attempt_at >= utcnow() + dt.timedelta(minutes=119)


def test_two_drainers_never_export_the_same_row(export_db, drainers):
    games = [play_game(export_db, moves=("correct",)) for _ in range(24)]
    exporter = RecordingExporter(delay_s=0.02)
    drainers(export_db, exporter, batch_size=3)
    drainers(export_db, exporter, batch_size=3)
    eventually(lambda: _all_done(export_db, "git", 24), message="rows not done")
    exported = exporter.exported
    assert sorted(exported) == sorted(games), "a game was exported twice or not at all"


def test_rows_left_exporting_by_a_dead_drainer_are_recovered_on_start(export_db, drainers):
    stale_game, live_game = play_game(export_db), play_game(export_db)
    with export_db.connection_context():
        ExportOutbox.update(status="exporting", next_attempt_at=utcnow() - dt.timedelta(hours=1)).where(
            ExportOutbox.game == stale_game, ExportOutbox.target == "git").execute()
        # Claimed just now by a drainer that is still working on it: not to be taken away.
        ExportOutbox.update(status="exporting", next_attempt_at=utcnow() + dt.timedelta(minutes=5)).where(
            ExportOutbox.game == live_game, ExportOutbox.target == "git").execute()
    exporter = RecordingExporter()
    drainers(export_db, exporter, stale_after_s=60)

    def stale_done():
        rows = {r.__data__["game"]: r for r in _rows(export_db, "git")}
        return rows if rows[stale_game].status == "done" else None

    rows = eventually(stale_done, message="the stale row was not recovered")
    assert rows[live_game].status == "exporting"
    assert exporter.exported == [stale_game]


def test_an_export_slower_than_the_stale_limit_keeps_its_claim(export_db, drainers):
    game = play_game(export_db)
    slow = RecordingExporter(delay_s=1.5)
    drainers(export_db, slow, stale_after_s=0.4)
    eventually(lambda: slow.attempts == 1 or None, message="the slow export never started")
    # A second drainer checks for stale claims every 0.2 s while the first one's export runs for 1.5 s.
    other = RecordingExporter()
    drainers(export_db, other, stale_after_s=0.4)
    eventually(lambda: _all_done(export_db, "git", 1), message="the slow export was not marked done")
    assert slow.exported == [game]
    assert other.exported == [], "the live claim was taken over and exported twice"


def test_a_killed_drainers_claim_is_exported_by_another_once_its_lease_expires(export_db, drainers):
    game = play_game(export_db)
    with export_db.connection_context():  # claimed by a drainer that was killed 2 s ago: no lease renewal
        ExportOutbox.update(status="exporting", next_attempt_at=utcnow() - dt.timedelta(seconds=2)).where(
            ExportOutbox.game == game, ExportOutbox.target == "git").execute()
    exporter = RecordingExporter()
    drainers(export_db, exporter, stale_after_s=1.0)
    eventually(lambda: _all_done(export_db, "git", 1), message="the dead drainer's row was not recovered")
    assert exporter.exported == [game]


def test_a_restart_resumes_pending_rows(export_db, drainers):
    games = [play_game(export_db, moves=("wrong",)) for _ in range(2)]
    broken = RecordingExporter()
    broken.failing = True
    first = drainers(export_db, broken)
    eventually(lambda: all(r.attempts >= 1 for r in _rows(export_db, "git")), message="no failed attempt")
    first.stop(timeout=10)
    assert broken.closed, "the drainer did not close its exporter"
    assert all(r.status == "pending" for r in _rows(export_db, "git"))
    working = RecordingExporter()
    drainers(export_db, working)
    eventually(lambda: _all_done(export_db, "git", 2), message="rows not done after the restart")
    assert sorted(working.exported) == sorted(games)


def test_wake_exports_without_waiting_for_the_next_poll(export_db, drainers):
    exporter = RecordingExporter()
    ref = drainers(export_db, exporter, poll_interval_s=3600)
    ref.ask(Wake(), timeout=10)  # the first cycle has run: nothing to do
    game = play_game(export_db)
    ref.tell(Wake())
    eventually(lambda: _all_done(export_db, "git", 1), message="wake did not drain")
    assert exporter.exported == [game]


def _terminate_connections(database) -> int:
    params = database.connect_params
    conn = psycopg2.connect(host=params["host"], port=params["port"], user=params.get("user") or "postgres",
                            password=params.get("password"), dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (database.database,))
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def test_a_lost_database_connection_does_not_stop_the_drainer(export_db, drainers):
    exporter = RecordingExporter()
    ref = drainers(export_db, exporter)
    first = play_game(export_db)
    eventually(lambda: _all_done(export_db, "git", 1), message="first game not exported")
    assert _terminate_connections(export_db) >= 1
    # The pool's idle connections were killed too; the test's own next queries must not pick them up.
    export_db.close_idle()
    second = play_game(export_db)
    eventually(lambda: _all_done(export_db, "git", 2), message="not exported after the connection loss")
    assert ref.is_alive()
    assert sorted(exporter.exported) == sorted([first, second])


# --- wiring ----------------------------------------------------------------------------------------------


def _settings(**values) -> Settings:
    return Settings(environment="test", **values)


def test_runtime_starts_only_configured_targets_and_leaves_the_rest_pending(export_db, git_server, git_token,
                                                                            tmp_path):
    games = [play_game(export_db, moves=("correct", "wrong")) for _ in range(2)]
    settings = _settings(git_remote_url=git_server.url, git_token=git_token)
    runtime = start_exporters(settings, export_db, git_work_dir=tmp_path / "git-export",
                              options=DrainerOptions(poll_interval_s=0.05))
    try:
        assert runtime.targets == ("git",)
        eventually(lambda: _all_done(export_db, "git", 2), message="git rows not done")
        names = git_server.file_names()
        for game in games:
            assert any(name.endswith(f"/{game}.json") for name in names)
            assert any(name.endswith(f"/{game}.md") for name in names)
        assert git_server.commit_count() >= 1
        s3_rows = _rows(export_db, "s3")
        assert [(r.status, r.attempts, r.done_at) for r in s3_rows] == [("pending", 0, None)] * 2
        assert runtime.is_alive()
    finally:
        runtime.stop()
    assert not runtime.is_alive()


def test_runtime_without_targets_starts_nothing(export_db):
    play_game(export_db, moves=("correct",))
    runtime = start_exporters(_settings(), export_db)
    assert runtime.targets == ()
    runtime.wake()
    runtime.stop()
    assert {r.status for r in _rows(export_db)} == {"pending"}


def test_git_url_with_credentials_refuses_to_start(export_db, tmp_path):
    settings = _settings(git_remote_url="https://bot:hunter2@example.invalid/r.git")
    with pytest.raises(ValueError, match="must not contain credentials") as failure:
        start_exporters(settings, export_db, git_work_dir=tmp_path)
    assert "hunter2" not in str(failure.value)
    assert urlsplit(settings.git_remote_url).password == "hunter2"
