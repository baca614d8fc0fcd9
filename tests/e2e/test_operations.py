"""Operations under load: a worker killed mid-stream, SIGTERM on api and worker. Nothing may be lost."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from schema.models import Answer, RequestStatus
from tests.stack import ProcessStack


def _token(base: str, credentials: dict) -> str:
    response = requests.post(f"{base}/v1/auth/token", data={"grant_type": "client_credentials", **credentials},
                             timeout=10)
    return response.json()["access_token"]


def _post(base, path, headers, body, attempts_s=60.0):
    """POST with retries on connection errors and 503, as a well-behaved client does (same Idempotency-Key)."""
    deadline = time.monotonic() + attempts_s
    while True:
        try:
            response = requests.post(f"{base}{path}", json=body, headers=headers, timeout=10)
            if response.status_code != 503:
                return response
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never accepted")
        time.sleep(0.2)


def _get(base, path, headers, attempts_s=60.0):
    deadline = time.monotonic() + attempts_s
    while True:
        try:
            response = requests.get(f"{base}{path}", headers=headers, timeout=40)
            if response.status_code != 503:
                return response
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never answered")
        time.sleep(0.2)


class Load:
    """Players answering their games' questions in a loop; every request id it got is remembered."""

    def __init__(self, base: str, token: str, players: int, questions: int) -> None:
        self.base = base
        self.token = token
        self.players = players
        self.questions = questions
        self.request_ids: list[str] = []
        self.game_ids: list[str] = []
        self.lock = threading.Lock()
        self.progress = threading.Event()

    def play(self, index: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "X-Player-Id": f"p{index}"}
        created = _post(self.base, "/v1/games", {**headers, "Idempotency-Key": f"game-{index}"},
                        {"question_count": self.questions})
        assert created.status_code == 202, created.text
        game_id = created.json()["game_id"]
        ready = _result(self.base, created.json()["request_id"], headers)
        assert ready["status"] == "done", ready
        with self.lock:
            self.game_ids.append(game_id)
        for no in range(self.questions):
            answer = _post(self.base, f"/v1/games/{game_id}/answers",
                           {**headers, "Idempotency-Key": f"a-{index}-{no}"}, {"question_no": no, "option": 0})
            assert answer.status_code == 202, answer.text
            request_id = answer.json()["request_id"]
            with self.lock:
                self.request_ids.append(request_id)
            self.progress.set()
            result = _result(self.base, request_id, headers)
            assert result["status"] == "done", result

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.players) as pool:
            for future in [pool.submit(self.play, i) for i in range(self.players)]:
                future.result()


def _result(base, request_id, headers, within_s=120.0) -> dict:
    """Long-poll a request until it is settled (a failover may take a rebalance or two)."""
    deadline = time.monotonic() + within_s
    while True:
        body = _get(base, f"/v1/requests/{request_id}?wait=10", headers).json()
        if body["status"] in {"done", "failed"} or time.monotonic() > deadline:
            return body


def _check_nothing_lost(database, load: Load) -> None:
    with database.connection_context():
        statuses = {row.id: row.status for row in RequestStatus.select().where(RequestStatus.id.in_(load.request_ids))}
        assert len(statuses) == len(load.request_ids) == load.players * load.questions
        assert set(statuses.values()) == {"done"}
        answers = Answer.select().where(Answer.game.in_(load.game_ids)).count()
        assert answers == load.players * load.questions, "every answer recorded exactly once"


def _stack(e2e_env, tmp_path, workers: int) -> ProcessStack:
    stack = ProcessStack(e2e_env, tmp_path)
    assert stack.run("db-init", "gateways.db_init").returncode == 0
    for n in range(workers):
        stack.start(f"worker{n}", "gateways.worker")
    stack.start("api", "gateways.api.main")
    stack.wait_http(f"{e2e_env['API_URL']}/readyz")
    return stack


def _credentials(stack: ProcessStack) -> dict:
    import json

    return json.loads(stack.run("admin", "gateways.admin", "create-client", "ops").stdout)


def test_a_worker_killed_mid_stream_loses_nothing(e2e_env, tmp_path, platform_db):
    stack = _stack(e2e_env, tmp_path, workers=2)
    try:
        base = e2e_env["API_URL"]
        load = Load(base, _token(base, _credentials(stack)), players=12, questions=4)
        runner = threading.Thread(target=load.run)
        runner.start()
        assert load.progress.wait(60), "load never started"
        time.sleep(0.5)
        stack.stop("worker0", signal.SIGKILL)
        runner.join(timeout=180)
        assert not runner.is_alive()
        _check_nothing_lost(platform_db, load)
    finally:
        stack.stop_all()


def test_sigterm_on_worker_and_api_during_load_exits_0_and_loses_nothing(e2e_env, tmp_path, platform_db):
    stack = _stack(e2e_env, tmp_path, workers=1)
    try:
        base = e2e_env["API_URL"]
        load = Load(base, _token(base, _credentials(stack)), players=8, questions=4)
        runner = threading.Thread(target=load.run)
        runner.start()
        assert load.progress.wait(60), "load never started"
        assert stack.stop("worker0", signal.SIGTERM) == 0, stack.log("worker0")[-2000:]
        stack.start("worker1", "gateways.worker")
        time.sleep(1.0)
        assert stack.stop("api", signal.SIGTERM) == 0, stack.log("api")[-2000:]
        stack.start("api2", "gateways.api.main")
        runner.join(timeout=180)
        assert not runner.is_alive()
        _check_nothing_lost(platform_db, load)
    finally:
        stack.stop_all()
