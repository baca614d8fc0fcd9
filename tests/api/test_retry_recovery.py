"""A retry with the same Idempotency-Key recovers a request whose command never reached the broker (the API
died between recording and producing it), and never reopens one the worker settled."""

from __future__ import annotations

import datetime as dt
import uuid

from gateways.api.store import ApiStore
from schema.events import decode
from schema.models import RequestStatus, utcnow
from tests.api.conftest import ApiHarness
from tests.kafka_helpers import TopicReader


def _commands_for(topics, request_id: str, *, at_least: int) -> int:
    reader = TopicReader(topics, "commands")
    try:
        records = reader.poll_until(lambda rs: sum(decode(r.value).request_id == request_id for r in rs) >= at_least,
                                    timeout_s=10)
        return sum(decode(r.value).request_id == request_id for r in records)
    finally:
        reader.close()


def test_a_stalled_pending_request_is_produced_again_on_retry(harness: ApiHarness, topics) -> None:
    api = harness.start()
    client = harness.new_client("player")
    key = f"k-{uuid.uuid4()}"
    headers = {**harness.bearer(api, client, player="pat"), "Idempotency-Key": key}
    # What an API killed after recording the request and before producing it leaves behind.
    request_id, game_id = str(uuid.uuid4()), str(uuid.uuid4())
    old = utcnow() - dt.timedelta(seconds=60)
    with harness.database.connection_context():
        RequestStatus.create(id=request_id, client_id=client["client_id"], subject=f"api:{client['client_id']}:pat",
                             kind="game.create", game_id=game_id, idempotency_key=key, status="pending",
                             created_at=old, updated_at=old)
    retry = api.post("/v1/games", json={"question_count": 3}, headers=headers)
    assert retry.status_code == 202, retry.text
    assert retry.json()["request_id"] == request_id
    assert _commands_for(topics, request_id, at_least=1) == 1, "the lost command was produced on the retry"
    again = api.post("/v1/games", json={"question_count": 3}, headers=headers)
    assert again.json()["request_id"] == request_id
    assert _commands_for(topics, request_id, at_least=1) == 1, "a retry right after does not produce it again"


def test_a_settled_request_is_never_reopened_by_a_retry(harness: ApiHarness, topics) -> None:
    api = harness.start()
    client = harness.new_client("player")
    key = f"k-{uuid.uuid4()}"
    headers = {**harness.bearer(api, client, player="pat"), "Idempotency-Key": key}
    request_id = api.post("/v1/games", json={"question_count": 3}, headers=headers).json()["request_id"]
    old = utcnow() - dt.timedelta(seconds=60)
    with harness.database.connection_context():
        RequestStatus.update(status="done", result={"type": "game.created"}, updated_at=old).where(
            RequestStatus.id == request_id).execute()
    # The worker settles it between a retry's read and its reopen: the guarded update refuses.
    assert not ApiStore(harness.database).reopen(request_id, from_status="pending", unchanged_since=old)
    retry = api.post("/v1/games", json={"question_count": 3}, headers=headers)
    assert retry.status_code == 202
    with harness.database.connection_context():
        assert RequestStatus.get_by_id(request_id).status == "done", "a settled request stays settled"
    assert _commands_for(topics, request_id, at_least=1) == 1


def test_a_retry_after_a_503_is_pending_again_not_the_old_failure(harness: ApiHarness, topics) -> None:
    """What a 503 leaves (failed: broker_unavailable) is retried: the command is produced and the answer says
    pending, even with ?wait (it used to be the stale 'failed' read before the retry)."""
    api = harness.start()
    client = harness.new_client("player")
    key = f"k-{uuid.uuid4()}"
    headers = {**harness.bearer(api, client, player="pat"), "Idempotency-Key": key}
    request_id, game_id = str(uuid.uuid4()), str(uuid.uuid4())
    with harness.database.connection_context():
        RequestStatus.create(id=request_id, client_id=client["client_id"], subject=f"api:{client['client_id']}:pat",
                             kind="game.create", game_id=game_id, idempotency_key=key, status="failed",
                             error={"code": "broker_unavailable", "message": "the broker did not accept the request"})
    retry = api.post("/v1/games?wait=1", json={"question_count": 3}, headers=headers)
    assert retry.status_code == 202, retry.text
    assert retry.json()["request_id"] == request_id and retry.json()["status"] == "pending"
    assert _commands_for(topics, request_id, at_least=1) == 1
    with harness.database.connection_context():
        assert RequestStatus.get_by_id(request_id).status == "pending"
