"""The S3 exporter and the Lambda handler against moto in server mode (S3, SQS, Lambda without Docker)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest

from gateways.aws_lambda import handler as lambda_handler
from gateways.aws_lambda.handler import TranscriptRejected, handle_event, handler
from gateways.exporters.s3_exporter import S3ExportError, S3TranscriptExporter, s3_event, transcript_key
from tests.exports.conftest import REGION
from tests.exports.documents import sample_document, sample_transcript

ROOT = Path(__file__).resolve().parents[2]


def _exporter(aws, bucket: str, **kwargs) -> S3TranscriptExporter:
    return S3TranscriptExporter(bucket=bucket, region=REGION, endpoint_url=aws.endpoint, **kwargs)


def _stats(s3, bucket: str, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _keys(s3, bucket: str, prefix: str = "") -> list[str]:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def _notify_queue(aws, s3, bucket: str):
    """An SQS queue that receives the bucket's ObjectCreated notifications for transcripts/."""
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=REGION)
    url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "transcripts-to-stats",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "transcripts/"}]}},
                }
            ]
        },
    )
    return sqs, url


def _drain_queue(sqs, url: str) -> list[dict]:
    """Every S3 event waiting in the queue (the s3:TestEvent skipped), deleted once read."""
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


def test_upload_lands_at_the_dated_key_as_json(aws, s3, bucket):
    transcript = sample_transcript("game-1", finished_at="2024-12-31T23:59:59.999Z")
    exporter = _exporter(aws, bucket)
    exporter.export([transcript])
    key = "transcripts/2024/12/31/game-1.json"
    assert transcript_key(transcript) == key
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == "application/json"
    assert stored["Body"].read() == transcript.json_bytes
    etag = stored["ETag"]
    exporter.export([transcript])
    assert _keys(s3, bucket) == [key]
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag
    exporter.close()


def test_server_side_encryption_is_requested_when_asked(aws, s3, bucket):
    _exporter(aws, bucket, sse="AES256").export([sample_transcript("game-1")])
    head = s3.head_object(Bucket=bucket, Key="transcripts/2024/05/01/game-1.json")
    assert head["ServerSideEncryption"] == "AES256"


def test_a_missing_bucket_fails_with_a_clear_error(aws):
    with pytest.raises(S3ExportError, match=r"s3://no-such-bucket-x/transcripts/2024/05/01/game-1.json.*NoSuchBucket"):
        _exporter(aws, "no-such-bucket-x").export([sample_transcript("game-1")])


def test_notification_through_sqs_carries_url_encoded_keys_the_handler_decodes(aws, s3, bucket):
    sqs, url = _notify_queue(aws, s3, bucket)
    game_id = "match 7+1 final"
    transcript = sample_transcript(game_id, category="Sci-Fi & Fantasy")
    _exporter(aws, bucket).export([transcript])
    events = _drain_queue(sqs, url)
    assert len(events) == 1
    raw_key = events[0]["Records"][0]["s3"]["object"]["key"]
    real_key = f"transcripts/2024/05/01/{game_id}.json"
    assert raw_key != real_key and " " not in raw_key and "%2B" in raw_key, raw_key
    assert unquote_plus(raw_key) == real_key

    summary = handler(events[0], None)
    assert summary == {"processed": 1, "counted": 1, "skipped": 0, "rejected": 0}
    daily = _stats(s3, bucket, "stats/daily/2024-05-01.json")
    assert daily["game_ids"] == [game_id]
    assert daily["games"] == 1 and daily["questions"] == 2 and daily["answers"] == 2
    assert daily["correct_answers"] == 1 and daily["points"] == 150 and daily["score"] == 150
    assert daily["statuses"] == {"finished": 1}
    category = _stats(s3, bucket, "stats/category/sci-fi-fantasy.json")
    assert category["names"] == ["Sci-Fi & Fantasy"] and category["games"] == 1
    assert category["questions"] == 2 and category["accuracy"] == 0.5


def test_sqs_wrapped_events_are_unwrapped(aws, s3, bucket):
    transcript = sample_transcript("game 2")
    _exporter(aws, bucket).export([transcript])
    key = transcript_key(transcript)
    s3_notification = s3_event(bucket=bucket, key=key, size=len(transcript.json_bytes), etag="x", region=REGION)
    sqs_event = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(s3_notification)}]}
    assert handle_event(sqs_event, s3)["counted"] == 1
    assert _stats(s3, bucket, "stats/daily/2024-05-01.json")["game_ids"] == ["game 2"]


def test_replayed_events_do_not_double_count(aws, s3, bucket):
    exporter = _exporter(aws, bucket)
    first, second = sample_transcript("game-a", category="art"), sample_transcript("game-b", category="art")
    exporter.export([first, second])

    def event_for(*transcripts):
        records = []
        for t in transcripts:
            records += s3_event(bucket=bucket, key=transcript_key(t), size=1, etag="e", region=REGION)["Records"]
        return {"Records": records}

    assert handler(event_for(first), None)["counted"] == 1
    assert handler(event_for(first), None)["counted"] == 0
    assert handler(event_for(first, second, first), None)["counted"] == 1
    daily = _stats(s3, bucket, "stats/daily/2024-05-01.json")
    assert daily["games"] == 2 and daily["game_ids"] == ["game-a", "game-b"]
    assert daily["answers"] == 4 and daily["points"] == 300
    art = _stats(s3, bucket, "stats/category/art.json")
    science = _stats(s3, bucket, "stats/category/science.json")
    assert art["games"] == 2 and art["questions"] == 2
    assert science["games"] == 2 and science["questions"] == 2


def test_concurrent_invocations_lose_no_update(aws, s3, bucket):
    from concurrent.futures import ThreadPoolExecutor

    transcripts = [sample_transcript(f"game-{i}") for i in range(8)]
    _exporter(aws, bucket).export(transcripts)
    events = [s3_event(bucket=bucket, key=transcript_key(t), size=1, etag="e", region=REGION) for t in transcripts]
    clients = [boto3.client("s3", endpoint_url=aws.endpoint, region_name=REGION) for _ in events]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(handle_event, events, clients))
    assert sum(r["counted"] for r in results) == 8
    daily = _stats(s3, bucket, "stats/daily/2024-05-01.json")
    assert daily["games"] == 8 and len(daily["game_ids"]) == 8


def test_malformed_transcripts_are_rejected_by_key_after_the_valid_ones(aws, s3, bucket):
    good = sample_transcript("game-ok")
    _exporter(aws, bucket).export([good])
    future = sample_document("game-v2")
    future["schema_version"] = 2
    no_score = sample_document("game-no-score")
    del no_score["game"]["score"]
    bad_objects = {
        "transcripts/2024/05/01/not json.json": b"{this is not json",
        "transcripts/2024/05/01/game-v2.json": json.dumps(future).encode(),
        "transcripts/2024/05/01/game-no-score.json": json.dumps(no_score).encode(),
    }
    for key, body in bad_objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    keys = [*bad_objects, transcript_key(good), "transcripts/2024/05/01/missing.json"]
    records = [r for k in keys for r in s3_event(bucket=bucket, key=k, size=1, etag="e", region=REGION)["Records"]]
    with pytest.raises(TranscriptRejected) as rejected:
        handler({"Records": records}, None)
    message = str(rejected.value)
    assert "4 transcript(s) rejected" in message
    assert "'transcripts/2024/05/01/not json.json': not valid JSON" in message
    assert "'transcripts/2024/05/01/game-v2.json': unsupported schema_version 2" in message
    assert "'transcripts/2024/05/01/game-no-score.json': game.score is missing" in message
    assert "'transcripts/2024/05/01/missing.json': object not found" in message
    assert isinstance(rejected.value, ValueError)
    # The valid record in the same event was counted.
    assert _stats(s3, bucket, "stats/daily/2024-05-01.json")["game_ids"] == ["game-ok"]


def _package(tmp_path: Path) -> Path:
    result = subprocess.run([str(ROOT / "scripts" / "package-lambda"), str(tmp_path / "dist")], capture_output=True,
                            text=True, check=True, timeout=60)
    return Path(result.stdout.strip().splitlines()[-1])


def test_package_lambda_builds_a_self_contained_zip(tmp_path):
    archive = _package(tmp_path)
    assert archive.name == "trivia-lambda.zip"
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
    assert names == ["gateways/aws_lambda/__init__.py", "gateways/aws_lambda/handler.py"]
    # Lambda unpacks the zip into its task folder: importable from there alone, without the project on the
    # path (only stdlib + boto3 needed). -S skips the .pth files (the project's editable install);
    # site-packages is added back for boto3 only.
    task = tmp_path / "task"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(task)
    probe = ("import sys, site; sys.path.insert(0, sys.argv[1]); sys.path += site.getsitepackages(); "
             "import gateways.aws_lambda.handler as h; "
             "assert h.__file__.startswith(sys.argv[1]), h.__file__; print(h.handler.__name__)")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(task)], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "handler"
    assert _package(tmp_path).read_bytes() == archive.read_bytes(), "the zip is not reproducible"


def test_exporter_invokes_the_lambda_asynchronously(aws, s3, bucket, tmp_path):
    aws.configure_lambda_without_docker()
    iam = boto3.client("iam", endpoint_url=aws.endpoint, region_name=REGION)
    role = iam.create_role(RoleName="trivia-lambda", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = boto3.client("lambda", endpoint_url=aws.endpoint, region_name=REGION)
    function.create_function(
        FunctionName="trivia-stats",
        Runtime="python3.11",
        Role=role,
        Handler="gateways.aws_lambda.handler.handler",
        Code={"ZipFile": _package(tmp_path).read_bytes()},
    )
    transcript = sample_transcript("game 9+1")
    _exporter(aws, bucket, lambda_function_name="trivia-stats").export([transcript])
    assert _keys(s3, bucket, "transcripts/") == ["transcripts/2024/05/01/game 9+1.json"]
    # moto accepts the invocation but cannot run Python without Docker: run the payload the exporter
    # sends (same builder) through the handler against the same S3.
    payload = s3_event(bucket=bucket, key=transcript_key(transcript), size=1, etag="e", region=REGION)
    assert payload["Records"][0]["s3"]["object"]["key"] == "transcripts/2024/05/01/game+9%2B1.json"
    assert handler(payload, None)["counted"] == 1


def test_handler_module_client_comes_from_the_environment(aws, s3, bucket):
    assert lambda_handler._client is None
    transcript = sample_transcript("game-env")
    _exporter(aws, bucket).export([transcript])
    handler(s3_event(bucket=bucket, key=transcript_key(transcript), size=1, etag="e", region=REGION), None)
    assert lambda_handler._client is not None
    assert _stats(s3, bucket, "stats/daily/2024-05-01.json")["game_ids"] == ["game-env"]


def test_non_transcript_objects_and_test_events_are_skipped(aws, s3, bucket):
    event = {"Records": [
        *s3_event(bucket=bucket, key="stats/daily/2024-05-01.json", size=1, etag="e", region=REGION)["Records"],
        {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
         "s3": {"bucket": {"name": bucket}, "object": {"key": "transcripts/x.json"}}},
    ]}
    assert handle_event(event, s3) == {"processed": 0, "counted": 0, "skipped": 1, "rejected": 0}
    assert handle_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}, s3)["processed"] == 0
    assert _keys(s3, bucket) == []


def test_package_lambda_rebuilds_in_place(tmp_path):
    # The package is a valid zip even when built twice into the same folder (no stale entries).
    archive = _package(tmp_path)
    (tmp_path / "dist" / "junk.txt").write_text("x")
    again = _package(tmp_path)
    assert zipfile.ZipFile(io.BytesIO(again.read_bytes())).testzip() is None
    assert archive == again
