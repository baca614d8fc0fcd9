"""The whole platform as processes, with every dependency the fault suite can take away.

- PostgreSQL (the machine's shared server) behind a :class:`TcpProxy` the suite can cut;
- the broker: Tansu in memory, or (``durable_broker``, for the broker-restart fault) storing its log in S3
  (moto in its own process), so a restart keeps topics, records and committed offsets, as Apache Kafka's disks
  do. Tansu's S3 storage lists a partition's objects on every fetch, so it slows down as records accumulate:
  only the fault that needs it uses it, with a longer fetch wait;
- the Telegram stand-in (flood limits on) and llmock as DeepSeek, both steerable at run time;
- a Git smart-HTTP server and moto S3 (versioned bucket) as the export targets;
- db-init, the worker, the API and the telebot as real processes (the same entry points as compose).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import boto3
import requests
from llmock.scenarios import Reply
from llmock.testing import LLMockServer

from gateways.local_broker import LocalBroker, free_port
from gateways.simulate.stack import FreshDatabase
from gateways.telegram_standin import StandinClient
from tests.chaos.tcp_proxy import TcpProxy
from tests.exports.git_server import GitServer
from tests.exports.moto_server import MotoServer
from tests.stack import ProcessStack

logger = logging.getLogger(__name__)

REGION = "us-east-1"
EXPORT_BUCKET = "trivia-chaos-exports"
BROKER_BUCKET = "tansu-chaos"
JWT_SECRET = "chaos-secret-0123456789-abcdefghijklmnop"
DEEPSEEK_KEY = "sk-chaos-not-a-real-key"
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": "chaos-secret"}
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def judge_reply(verdict: str = "correct") -> str:
    """What DeepSeek answers to a judging request when it is healthy."""
    return json.dumps({"verdict": verdict, "reason": "a misspelling of the answer"})


class ChaosEnvironment:
    """Starts everything in ``start``, stops everything (and drops its database) in ``stop``."""

    def __init__(self, work_dir: Path, *, admin_url: str | None = None, failpoints: str = "",
                 durable_broker: bool = False) -> None:
        self.work_dir = work_dir
        self.durable_broker = durable_broker
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.database = FreshDatabase(admin_url or os.environ.get("DATABASE_URL") or DEFAULT_ADMIN_URL)
        self.failpoints = failpoints
        self.git_token = f"gt-{secrets.token_hex(12)}"
        self.stack: ProcessStack | None = None
        self.proxy: TcpProxy | None = None
        self.broker: LocalBroker | None = None
        self.exports_s3: MotoServer | None = None
        self.git: GitServer | None = None
        self.deepseek: LLMockServer | None = None
        self.standin: StandinClient | None = None
        self.env: dict[str, str] = {}
        self.strikes = 0  # faults injected: kills, restarts after a failpoint, outages, storms
        self._generation = 0

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ChaosEnvironment:
        """Start the dependencies, run db-init, start worker, api and telebot; wait until ready."""
        database_url = self.database.create()
        self.proxy = TcpProxy(_host_port(database_url)).start()
        self.stack = ProcessStack({}, self.work_dir)
        self.broker = self._start_broker()
        self.exports_s3 = MotoServer().start()
        exports = _s3(self.exports_s3.endpoint)
        exports.create_bucket(Bucket=EXPORT_BUCKET)
        exports.put_bucket_versioning(Bucket=EXPORT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.git = GitServer(self.work_dir / "git-server", token=self.git_token).start()
        self.deepseek = LLMockServer().start()
        self.deepseek_healthy()
        standin_port = free_port()
        api_port = free_port()
        self.env = {
            "TRIVIA_ENV": "test",
            "DATABASE_URL": _with_port(database_url, self.proxy.port),
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "KAFKA_TOPIC_PREFIX": "chaos.",
            "KAFKA_PARTITIONS": "3",
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            "KAFKA_FETCH_MAX_WAIT_MS": "100" if self.durable_broker else "10",
            "JWT_SECRET": JWT_SECRET,
            "LOG_FORMAT": "json",
            "API_PORT": str(api_port),
            "API_URL": f"http://127.0.0.1:{api_port}",
            "OPS_PORT": "0",
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{standin_port}/bot",
            "QUESTION_TIME_LIMIT": "60",
            "DEEPSEEK_API_KEY": DEEPSEEK_KEY,
            "DEEPSEEK_BASE_URL": self.deepseek.base_url("openai"),
            "DEEPSEEK_TIMEOUT": "3",
            "GIT_REMOTE_URL": self.git.url,
            "GIT_TOKEN": self.git_token,
            "GIT_WORK_DIR": str(self.work_dir / "git-clone"),
            "S3_BUCKET": EXPORT_BUCKET,
            "AWS_ENDPOINT_URL": self.exports_s3.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.work_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.work_dir / "no-aws-credentials"),
            **AWS_KEYS,
        }
        self.stack.env.update(self.env)
        self.stack.start("standin", "gateways.telegram_standin", "--port", str(standin_port), "--flood-limits")
        self.standin = StandinClient(f"http://127.0.0.1:{standin_port}", timeout_s=30)
        _wait_http(f"http://127.0.0.1:{standin_port}/_standin/health", 30)
        init = self.stack.run("db-init", "gateways.db_init", timeout_s=120)
        if init.returncode != 0:
            raise RuntimeError(f"db-init failed: {init.stderr[-2000:]}")
        self.start_worker()
        self.start_api()
        self.start_telebot()
        return self

    def _start_broker(self) -> LocalBroker:
        assert self.stack is not None
        log = self.work_dir / "broker.log"
        if not self.durable_broker:
            return LocalBroker(log_path=log).start(timeout_s=30)
        storage_port = free_port()
        self.stack.start("broker-storage", "moto.server", "-H", "127.0.0.1", "-p", str(storage_port))
        storage = f"http://127.0.0.1:{storage_port}"
        _wait_http(f"{storage}/moto-api/", 30)
        _s3(storage).create_bucket(Bucket=BROKER_BUCKET)
        return LocalBroker(log_path=log, storage_url=f"s3://{BROKER_BUCKET}/", env={
            "AWS_ENDPOINT": storage, "AWS_ALLOW_HTTP": "true", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            **AWS_KEYS}).start(timeout_s=30)

    def stop(self) -> None:
        """Stop every process and server; drop the database."""
        errors: list[str] = []
        if self.standin is not None:
            self.standin.close()
        if self.stack is not None:
            for name in reversed(list(self.stack.processes)):  # dependents first: telebot before stand-in
                try:
                    self.stack.stop(name, timeout_s=20)
                except AssertionError as exc:
                    errors.append(str(exc))
        for server in (self.broker, self.exports_s3, self.git, self.deepseek, self.proxy):
            if server is not None:
                server.stop()
        try:
            self.database.drop()
        except Exception as exc:
            errors.append(f"dropping {self.database.name}: {exc}")
        if errors:
            logger.warning("chaos environment stopped with errors: %s", "; ".join(errors))

    def __enter__(self) -> ChaosEnvironment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the platform's processes ---------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.env["API_URL"]

    def _name(self, role: str) -> str:
        self._generation += 1
        return f"{role}-{self._generation}"

    def running(self, role: str) -> str | None:
        """The process name of the live ``role`` process, if any."""
        assert self.stack is not None
        for name, process in self.stack.processes.items():
            if name.startswith(f"{role}-") and process.poll() is None:
                return name
        return None

    def start_worker(self, *, wait_s: float = 60.0) -> None:
        """Start a worker and wait until it holds partitions (Tansu loses track of a member that leaves
        before its first join completes, so a worker is not stopped again before it is assigned)."""
        assert self.stack is not None
        env = {"TRIVIA_FAILPOINTS": self.failpoints} if self.failpoints else None
        name = self._name("worker")
        process = self.stack.start(name, "gateways.worker", env=env)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and process.poll() is None:
            if "assigned" in self.stack.log(name):
                return
            time.sleep(0.2)
        if process.poll() is None:
            logger.warning("%s not assigned partitions within %gs", name, wait_s)
        else:  # died at a failpoint before it logged its assignment: the supervisor starts another
            logger.info("%s exited (code %s) before it was assigned partitions", name, process.poll())

    def start_api(self) -> None:
        assert self.stack is not None
        self.stack.start(self._name("api"), "gateways.api.main")
        self.stack.wait_http(f"{self.api_url}/readyz", timeout_s=90)

    def start_telebot(self, *, wait_s: float = 90.0) -> None:
        """Start the telebot and wait until it polls Telegram and holds its results partitions, as the worker
        waits for its assignment: a fault is meant to strike a running platform, not one still starting (on a
        slow machine the first strike came before the telebot had even reached the broker)."""
        assert self.stack is not None
        name = self._name("telebot")
        process = self.stack.start(name, "gateways.telegram.main")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and process.poll() is None:
            log = self.stack.log(name)
            if "telebot polling" in log and "telebot: assigned" in log:
                return
            time.sleep(0.2)
        if process.poll() is None:
            logger.warning("%s not polling with its partitions assigned within %gs", name, wait_s)
        else:
            logger.info("%s exited (code %s) before it was ready", name, process.poll())

    def kill(self, role: str, sig: int = signal.SIGKILL) -> None:
        """Kill the live ``role`` process (it may have died already, e.g. at a failpoint)."""
        assert self.stack is not None
        name = self.running(role)
        if name is not None:
            self.strikes += 1
            self.stack.stop(name, sig)

    def ensure_running(self, role: str) -> None:
        """Restart ``role`` if it is not running (a failpoint or a fault killed it), as a supervisor does."""
        if self.running(role) is None:
            dead = [n for n, p in (self.stack.processes.items() if self.stack else ()) if n.startswith(f"{role}-")]
            self.strikes += len(dead)  # died on its own (a failpoint): counted once, when it is replaced
            for name in dead:
                assert self.stack is not None
                self.stack.processes.pop(name)
            {"worker": self.start_worker, "api": self.start_api, "telebot": self.start_telebot}[role]()

    def logs(self) -> str:
        """Every process log of the run, concatenated."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.work_dir.glob("*.log")))

    # --- steering the doubles ---------------------------------------------------------------------

    def deepseek_healthy(self) -> None:
        """DeepSeek answers every judging request (accepting the misspelling)."""
        assert self.deepseek is not None
        self.deepseek.state.scenarios.clear()
        self.deepseek.state.scenarios.add(Reply(text=judge_reply(), times=None))

    def deepseek_set(self, *behaviors: Any) -> None:
        """Replace DeepSeek's behaviour with ``behaviors`` (llmock scenario behaviours)."""
        assert self.deepseek is not None
        self.deepseek.state.scenarios.clear()
        self.deepseek.state.scenarios.add(*behaviors)

    def deepseek_calls(self) -> int:
        """Chat completion requests DeepSeek (llmock) received so far."""
        assert self.deepseek is not None
        return sum(r.path.endswith("/chat/completions") for r in self.deepseek.state.journal.records())

    def export_s3(self) -> Any:
        assert self.exports_s3 is not None
        return _s3(self.exports_s3.endpoint)


def _s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=AWS_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=AWS_KEYS["AWS_SECRET_ACCESS_KEY"])


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def _with_port(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {timeout_s:g}s")
