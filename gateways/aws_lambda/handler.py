"""The Lambda function: aggregates session transcripts uploaded to S3 into daily and per-category statistics.

Triggered by S3 ``ObjectCreated`` events (an S3 notification, an SQS queue fed by one, or the exporter's
asynchronous invoke, which sends the same shape). For each record it reads the transcript, validates it and
adds it to two objects in the same bucket:

- ``stats/daily/YYYY-MM-DD.json``: games, questions, answers, correct answers and points of that UTC day;
- ``stats/category/<slug>.json``: the same per question category, over all time.

Each stats object keeps the sorted list of game ids already counted, so a replayed event (Lambda retries
asynchronous invocations, S3 delivers at least once) counts nothing twice. Writes are conditional
(``If-Match`` on the ETag read, ``If-None-Match: *`` for a new object) and re-read on a conflict, so two
concurrent invocations cannot lose each other's update.

Errors: every record is processed; a malformed transcript or a missing object is collected, and after the
last record one :class:`TranscriptRejected` (a ``ValueError``) names each bad key and its problem. The valid
records' statistics are already written then, and a retry of the whole event recounts none of them.

Only the standard library and boto3 (present in the Lambda Python runtime) are used.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import time
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

SCHEMA_VERSION = 1
STATS_SCHEMA_VERSION = 1
TRANSCRIPT_PREFIX = "transcripts/"
DAILY_PREFIX = "stats/daily/"
CATEGORY_PREFIX = "stats/category/"
MAX_WRITE_ATTEMPTS = 10
# 412: the object changed since we read it; 409: a concurrent conditional write is in progress (AWS).
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

_client: Any = None


class TranscriptRejected(ValueError):
    """One or more records could not be counted; the message names each object key and its problem."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        listed = "; ".join(f"s3 object {key!r}: {problem}" for key, problem in problems)
        super().__init__(f"{len(problems)} transcript(s) rejected: {listed}")


def _s3() -> Any:
    """The module's S3 client, made once per container (endpoint and region from the environment)."""
    global _client  # noqa: PLW0603 - one client per Lambda container, reused across invocations
    if _client is None:
        _client = boto3.client("s3")
    return _client


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: count each transcript named by ``event`` once in the daily and category stats."""
    return handle_event(event, _s3())


# --- events ---------------------------------------------------------------------------------------------


def iter_objects(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(bucket, key)`` of each S3 object-created record, keys decoded; SQS-wrapped S3 events unwrapped."""
    for record in event.get("Records") or []:
        if record.get("eventSource") == "aws:sqs" and isinstance(record.get("body"), str):
            try:
                inner = json.loads(record["body"])
            except json.JSONDecodeError:
                logger.warning("skipping an SQS record whose body is not JSON")
                continue
            if isinstance(inner, dict):
                yield from iter_objects(inner)
            continue
        s3 = record.get("s3")
        if not isinstance(s3, dict):
            continue  # e.g. the s3:TestEvent sent when a notification is configured
        name = str(record.get("eventName", "ObjectCreated"))
        if not name.startswith(("ObjectCreated", "s3:ObjectCreated")):
            continue
        bucket = s3.get("bucket", {}).get("name")
        raw_key = s3.get("object", {}).get("key")
        if bucket and raw_key:
            # S3 URL-encodes keys in notifications (a space arrives as '+', a '+' as '%2B').
            yield str(bucket), unquote_plus(str(raw_key))


# --- validation -----------------------------------------------------------------------------------------

_REQUIRED_GAME = {"id": str, "status": str, "created_at": str, "score": int, "question_count": int,
                  "correct_count": int}


def _parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value:
        raise ValueError("not a timestamp")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed.astimezone(dt.UTC)


def validate(document: Any) -> list[str]:
    """The problems that make ``document`` unfit to count (empty when it is a valid transcript)."""
    if not isinstance(document, dict):
        return ["the transcript is not a JSON object"]
    problems: list[str] = []
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        problems.append(f"unsupported schema_version {version!r} (expected {SCHEMA_VERSION})")
        return problems
    game = document.get("game")
    if not isinstance(game, dict):
        return ["missing 'game' object"]
    for field, kind in _REQUIRED_GAME.items():
        value = game.get(field)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is str and not value):
            problems.append(f"game.{field} is missing or not a {kind.__name__}")
    for field in ("created_at", "finished_at"):
        if game.get(field) is not None:
            try:
                _parse_time(game[field])
            except ValueError as exc:
                problems.append(f"game.{field} is not an RFC 3339 time: {exc}")
    questions = document.get("questions")
    if not isinstance(questions, list):
        problems.append("missing 'questions' list")
        return problems
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            problems.append(f"questions[{index}] is not an object")
            continue
        if not isinstance(question.get("category"), str):
            problems.append(f"questions[{index}].category is missing")
        answers = question.get("answers")
        if not isinstance(answers, list) or not all(
            isinstance(a, dict) and isinstance(a.get("verdict"), str)
            and isinstance(a.get("points"), int) and not isinstance(a.get("points"), bool)
            for a in answers
        ):
            problems.append(f"questions[{index}].answers must be a list of answers with verdict and points")
    return problems


# --- aggregation ----------------------------------------------------------------------------------------


def slugify(name: str) -> str:
    """A category name as a file name: ASCII lower case, words joined by '-' (``uncategorized`` if empty)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:80] or "uncategorized"


def _tally(questions: list[dict[str, Any]]) -> dict[str, Any]:
    answers = [a for q in questions for a in q.get("answers", [])]
    return {
        "questions": len(questions),
        "answers": len(answers),
        "correct_answers": sum(1 for a in answers if a.get("verdict") == "correct"),
        "points": sum(int(a.get("points", 0)) for a in answers),
    }


def contributions(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The stats object keys this transcript adds to, with what it adds to each."""
    game = document["game"]
    ended = _parse_time(game.get("finished_at") or game["created_at"])
    questions = list(document.get("questions", []))
    daily = _tally(questions)
    daily.update(games=1, score=int(game["score"]), statuses={str(game["status"]): 1})
    result: dict[str, dict[str, Any]] = {f"{DAILY_PREFIX}{ended.date().isoformat()}.json": daily}
    by_slug: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, set[str]] = {}
    for question in questions:
        name = str(question.get("category") or "")
        slug = slugify(name)
        by_slug.setdefault(slug, []).append(question)
        names.setdefault(slug, set()).add(name or "uncategorized")
    for slug, subset in sorted(by_slug.items()):
        part = _tally(subset)
        part.update(games=1, names=sorted(names[slug]))
        result[f"{CATEGORY_PREFIX}{slug}.json"] = part
    return result


def _empty_stats(key: str) -> dict[str, Any]:
    if key.startswith(DAILY_PREFIX):
        base: dict[str, Any] = {"date": key[len(DAILY_PREFIX):-len(".json")], "score": 0, "statuses": {}}
    else:
        base = {"category": key[len(CATEGORY_PREFIX):-len(".json")], "names": []}
    base.update(schema_version=STATS_SCHEMA_VERSION, games=0, questions=0, answers=0, correct_answers=0,
                points=0, game_ids=[])
    return base


def merge(stats: dict[str, Any], game_id: str, part: Mapping[str, Any]) -> bool:
    """Add ``part`` of game ``game_id`` to ``stats`` unless that game is counted already; True if added."""
    counted = set(stats.get("game_ids", []))
    if game_id in counted:
        return False
    counted.add(game_id)
    stats["game_ids"] = sorted(counted)
    for field in ("games", "questions", "answers", "correct_answers", "points", "score"):
        if field in part:
            stats[field] = int(stats.get(field, 0)) + int(part[field])
    if "statuses" in part:
        statuses = dict(stats.get("statuses", {}))
        for status, count in part["statuses"].items():
            statuses[status] = int(statuses.get(status, 0)) + int(count)
        stats["statuses"] = dict(sorted(statuses.items()))
    if "names" in part:
        stats["names"] = sorted(set(stats.get("names", [])) | set(part["names"]))
    answers = int(stats.get("answers", 0))
    stats["accuracy"] = round(int(stats.get("correct_answers", 0)) / answers, 4) if answers else None
    return True


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _read_stats(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any], str | None]:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND_CODES:
            return _empty_stats(key), None
        raise
    document = json.loads(response["Body"].read())
    return document, str(response["ETag"])


def add_to_stats(s3: Any, bucket: str, key: str, game_id: str, part: Mapping[str, Any]) -> bool:
    """Count ``game_id`` in the stats object ``key`` once (optimistic concurrency); True if it was added."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        stats, etag = _read_stats(s3, bucket, key)
        if not merge(stats, game_id, part):
            return False
        body = (json.dumps(stats, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
            return True
        except ClientError as exc:
            if _code(exc) not in _CONFLICT_CODES:
                raise
            # Someone else wrote the object since we read it: read it again and re-apply.
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise RuntimeError(f"stats object {key!r} kept changing; gave up after {MAX_WRITE_ATTEMPTS} attempts")


def _load_transcript(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND_CODES:
            return None, "object not found"
        raise
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc.__class__.__name__}: {exc})"
    problems = validate(document)
    if problems:
        return None, "; ".join(problems)
    return document, None


def handle_event(event: Mapping[str, Any], s3: Any) -> dict[str, Any]:
    """Process every record of ``event`` with ``s3``; raise :class:`TranscriptRejected` at the end if any failed."""
    processed = counted = skipped = 0
    problems: list[tuple[str, str]] = []
    for bucket, key in iter_objects(event):
        if not key.startswith(TRANSCRIPT_PREFIX):
            skipped += 1
            continue
        processed += 1
        document, problem = _load_transcript(s3, bucket, key)
        if document is None:
            logger.warning("rejected s3://%s/%s: %s", bucket, key, problem)
            problems.append((key, problem or "invalid"))
            continue
        game_id = str(document["game"]["id"])
        added = [add_to_stats(s3, bucket, stats_key, game_id, part)
                 for stats_key, part in contributions(document).items()]
        if any(added):
            counted += 1
            logger.info("counted game %s from s3://%s/%s", game_id, bucket, key)
        else:
            logger.info("game %s from s3://%s/%s was counted before", game_id, bucket, key)
    summary = {"processed": processed, "counted": counted, "skipped": skipped, "rejected": len(problems)}
    if problems:
        raise TranscriptRejected(problems)
    return summary
