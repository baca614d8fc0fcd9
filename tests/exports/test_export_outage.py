"""An outage of both targets while games end: exports back off, and once both are back every transcript
arrives exactly once (Git: one file pair per game; S3: one object per game; Lambda stats: each game once)."""

from __future__ import annotations

import json

import boto3
import pytest

from gateways.aws_lambda.handler import handle_event
from gateways.exporters.runtime import DrainerOptions, start_exporters
from schema.models import ExportOutbox
from tests.exports.conftest import REGION
from tests.exports.documents import eventually
from tests.exports.games import play_game
from tests.exports.git_server import GitServer
from tests.exports.moto_server import MotoServer
from trivia_actors.runtime import Settings


def _rows(database) -> list[ExportOutbox]:
    with database.connection_context():
        return list(ExportOutbox.select().order_by(ExportOutbox.id))


def _queue_events(sqs, url: str) -> list[dict]:
    events = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return events
        for message in messages:
            body = json.loads(message["Body"])
            if "Records" in body:
                events.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.timeout(180)
def test_outage_of_git_and_s3_delays_exports_and_loses_none(export_db, aws, git_token, tmp_path):
    git_server = GitServer(tmp_path / "git-server", token=git_token).start()
    moto = MotoServer().start()
    bucket = "trivia-outage"
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto.endpoint, region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName="trivia-outage-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    _queue_events(sqs, queue)  # the s3:TestEvent

    # Both targets go down.
    git_server.stop()
    moto.stop()
    settings = Settings(environment="test", git_remote_url=git_server.url, git_token=git_token, s3_bucket=bucket,
                        aws_endpoint_url=moto.endpoint, aws_region=REGION)
    runtime = start_exporters(
        settings, export_db, git_work_dir=tmp_path / "git-export",
        options=DrainerOptions(poll_interval_s=0.05, backoff_base_s=0.05, backoff_max_s=0.4, jitter=0.2),
    )
    try:
        games = [play_game(export_db, moves=("correct", "wrong", None)) for _ in range(4)]
        games.append(play_game(export_db, moves=("correct", "correct", "correct"), stop_after=1))

        def all_retried():
            rows = _rows(export_db)
            return rows if len(rows) == 10 and all(r.attempts >= 2 and r.last_error for r in rows) else None

        rows = eventually(all_retried, timeout_s=60, message="exports were not retried during the outage")
        assert all(r.status in {"pending", "exporting"} and r.done_at is None for r in rows)
        assert all(git_token not in r.last_error for r in rows)
        errors = {r.target: r.last_error for r in rows}
        assert "git fetch failed" in errors["git"], errors["git"]
        assert "Could not connect to the endpoint URL" in errors["s3"], errors["s3"]

        # Both come back on the same addresses.
        git_server.start()
        moto.start()
        eventually(lambda: all(r.status == "done" for r in _rows(export_db)), timeout_s=60,
                   message="exports did not complete after the outage")
        # A game that ends after the recovery goes straight through.
        games.append(play_game(export_db, moves=("wrong",)))
        runtime.wake()
        eventually(lambda: len(_rows(export_db)) == 12 and all(r.status == "done" for r in _rows(export_db)),
                   timeout_s=30, message="the game after the recovery was not exported")
    finally:
        runtime.stop()

    try:
        # Git: exactly one JSON and one Markdown file per game, nothing else.
        names = git_server.file_names()
        assert len(names) == 2 * len(games)
        for game in games:
            assert sum(name.endswith(f"/{game}.json") for name in names) == 1
            assert sum(name.endswith(f"/{game}.md") for name in names) == 1
        assert git_token not in (tmp_path / "git-export" / ".git" / "config").read_text()

        # S3: one object per game.
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="transcripts/").get("Contents", [])
        keys = sorted(item["Key"] for item in listed)
        assert len(keys) == len(games)
        assert sorted(key.rsplit("/", 1)[1].removesuffix(".json") for key in keys) == sorted(games)

        # Lambda: every notification S3 sent (re-uploads included), delivered twice, counts each game once.
        events = _queue_events(sqs, queue)
        assert len(events) >= len(games)
        for event in events + events:
            handle_event(event, s3)
        daily_keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="stats/daily/")["Contents"]]
        counted: list[str] = []
        total_games = 0
        for key in daily_keys:
            stats = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            counted += stats["game_ids"]
            total_games += stats["games"]
        assert sorted(counted) == sorted(games)
        assert total_games == len(games)
        statuses = {}
        for key in daily_keys:
            for status, count in json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        assert statuses == {"finished": len(games) - 1, "stopped": 1}
    finally:
        s3.close()
        sqs.close()
        moto.stop()
        git_server.stop()
