"""Transcripts to S3 (boto3), and optionally an asynchronous invoke of the statistics Lambda per upload.

Objects go to ``transcripts/YYYY/MM/DD/<game_id>.json`` (the day the game ended, UTC): the same game always
gives the same key and the same bytes, so an upload repeated after a retry changes nothing. Credentials come
from the standard AWS chain (environment, shared files, instance or task role); ``AWS_ENDPOINT_URL`` points
the clients at an S3-compatible endpoint (MinIO, LocalStack, moto).

When a function name is given, each uploaded key is also announced with ``lambda.invoke(InvocationType=
"Event")`` and an S3 ``ObjectCreated`` event as payload (keys URL-encoded as S3 does). The Lambda counts a
game once however often it is told, so a retried batch is harmless. With an S3 bucket notification wired to
the function instead, leave the function name unset.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from trivia_actors.exports import Transcript

logger = logging.getLogger(__name__)

KEY_PREFIX = "transcripts"


class S3ExportError(RuntimeError):
    """An upload or invoke failed; the message names the bucket/key/function and AWS's error code."""


def transcript_key(transcript: Transcript, prefix: str = KEY_PREFIX) -> str:
    """The object key of a transcript: ``transcripts/YYYY/MM/DD/<game_id>.json``."""
    return f"{prefix}/{transcript.date_path}/{transcript.game_id}.json"


def s3_event(*, bucket: str, key: str, size: int, etag: str, region: str,
             event_time: dt.datetime | None = None) -> dict[str, Any]:
    """An S3 ``ObjectCreated:Put`` notification for one object, shaped as S3 sends it to Lambda."""
    when = (event_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "trivia-exporter",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"')},
                },
            }
        ]
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code', 'error')} (HTTP {status}): {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


class S3TranscriptExporter:
    """Uploads transcripts to ``bucket`` and, with ``lambda_function_name``, invokes the Lambda for each."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        lambda_function_name: str | None = None,
        sse: str | None = None,
        prefix: str = KEY_PREFIX,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_attempts: int = 3,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.sse = sse
        self.lambda_function_name = lambda_function_name
        config = botocore.config.Config(
            region_name=region,
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"mode": "standard", "max_attempts": max_attempts},
            # Custom endpoints (MinIO, moto, LocalStack) rarely resolve bucket subdomains.
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        session = session or boto3.session.Session()
        self._s3: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._lambda: Any = (
            session.client("lambda", endpoint_url=endpoint_url, config=config) if lambda_function_name else None
        )

    def key(self, transcript: Transcript) -> str:
        """Where ``transcript`` is stored in the bucket."""
        return transcript_key(transcript, self.prefix)

    def export(self, transcripts: Sequence[Transcript]) -> None:
        """Upload each transcript (and announce it to the Lambda); raise :class:`S3ExportError` on failure."""
        for transcript in transcripts:
            key = self.key(transcript)
            body = transcript.json_bytes
            extra: dict[str, Any] = {"ServerSideEncryption": self.sse} if self.sse else {}
            try:
                response = self._s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **extra
                )
            except (ClientError, BotoCoreError) as exc:
                raise S3ExportError(f"upload of s3://{self.bucket}/{key} failed: {_describe(exc)}") from None
            logger.debug("s3 export: stored s3://%s/%s (game %s)", self.bucket, key, transcript.game_id)
            if self._lambda is not None:
                self._invoke(key, len(body), str(response.get("ETag", "")))

    def _invoke(self, key: str, size: int, etag: str) -> None:
        event = s3_event(bucket=self.bucket, key=key, size=size, etag=etag, region=self.region)
        try:
            response = self._lambda.invoke(
                FunctionName=self.lambda_function_name,
                InvocationType="Event",
                Payload=json.dumps(event).encode("utf-8"),
            )
        except (ClientError, BotoCoreError) as exc:
            raise S3ExportError(
                f"invoke of Lambda {self.lambda_function_name} for s3://{self.bucket}/{key} failed: {_describe(exc)}"
            ) from None
        if response.get("StatusCode") != 202:
            raise S3ExportError(
                f"Lambda {self.lambda_function_name} did not accept the event for {key}: "
                f"status {response.get('StatusCode')}"
            )

    def close(self) -> None:
        """Close the clients' connection pools."""
        for client in (self._s3, self._lambda):
            if client is not None:
                client.close()
