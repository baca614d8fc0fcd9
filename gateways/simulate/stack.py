"""The local stack as processes for the bench: a fresh PostgreSQL database, the broker, db-init, api,
workers, and (for the Telegram measurements) the stand-in and the telebot. Everything it starts it stops,
and the database it created it drops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

from gateways.local_broker import LocalBroker, free_port

logger = logging.getLogger(__name__)

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class StackError(RuntimeError):
    """A process of the stack did not start; the message points at its log."""


def _death_signal() -> Callable[[], None] | None:
    """A pre-exec hook giving the child SIGTERM when the bench dies (Linux), so no process outlives a killed
    run; None elsewhere (the bench's own cleanup still stops everything it started)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError as exc:
        logger.info("no parent-death signal for children: %s", exc)
        return None

    def hook() -> None:
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG

    return hook


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) and Threads of a process, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in {"VmRSS", "VmHWM", "Threads"}:
                values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0.0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_of(database: str) -> list[int]:
    """PostgreSQL backend processes serving ``database`` on this machine (by their process titles)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                title = handle.read()
        except OSError:
            continue
        if title.startswith(b"postgres:") and f" {database} ".encode() in title:
            pids.append(int(entry))
    return pids


class FreshDatabase:
    """A PostgreSQL database created for the run on the server of ``admin_url`` and dropped after it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"trivia_bench_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _connect(self) -> psycopg2.extensions.connection:
        parts = urlsplit(self.admin_url)
        conn = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                                user=parts.username or "postgres", password=parts.password, dbname="postgres",
                                connect_timeout=5)
        conn.autocommit = True
        return conn

    def create(self) -> str:
        """Create it; its URL."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            conn.close()
        return self.url

    def drop(self) -> None:
        """Drop it (closing any connection still open)."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            conn.close()


class BenchStack:
    """The processes of one bench run; ``stop`` ends them in reverse order."""

    def __init__(self, log_dir: Path, admin_url: str, *, extra_env: dict[str, str] | None = None,
                 base_env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.database = FreshDatabase(admin_url)
        self.broker: LocalBroker | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ops_ports: dict[str, int] = {}
        self._logs: list[IO[bytes]] = []
        self.base_env = dict(base_env or {})
        self.extra_env = extra_env or {}
        self.env: dict[str, str] = {}
        self.credentials: dict[str, str] = {}
        self.standin_url = ""

    @property
    def api_url(self) -> str:
        """Where the API listens."""
        return self.env["API_URL"]

    def start(self) -> BenchStack:
        """Database, broker, db-init, api and one worker, ready; then an API client's credentials."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        url = self.database.create()
        self.broker = LocalBroker(log_path=self.log_dir / "broker.log").start()
        api_port = free_port()
        self.env = {
            **self.base_env,
            "TRIVIA_ENV": "development",
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
            "KAFKA_PARTITIONS": "6",
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(api_port),
            "API_URL": f"http://127.0.0.1:{api_port}",
            "OPS_PORT": "0",
            "LOG_FORMAT": "text",
            **self.extra_env,
        }
        init = self.run("db-init", "gateways.db_init")
        if init.returncode != 0:
            raise StackError(f"db-init failed ({init.returncode}); see {self.log_dir / 'db-init.log'}")
        self.start_process("api", "gateways.api.main")
        self.wait_http(f"{self.api_url}/readyz", 60)
        self.start_worker("worker-1")
        created = self.run("admin", "gateways.admin", "create-client", "bench")
        if created.returncode != 0:
            raise StackError(f"trivia-admin create-client failed; see {self.log_dir / 'admin.log'}")
        self.credentials = json.loads(created.stdout)
        return self

    def run(self, name: str, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a one-shot entry point; stderr goes to its log."""
        with open(self.log_dir / f"{name}.log", "ab") as log:
            done = subprocess.run([sys.executable, "-m", module, *args], env=self.env, stdout=subprocess.PIPE,
                                  stderr=log, stdin=subprocess.DEVNULL, timeout=120, check=False)
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), "")

    def start_process(self, name: str, module: str, *args: str,
                      env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running entry point with its log in the log directory."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", module, *args], env={**self.env, **(env or {})},
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=_death_signal())  # noqa: PLW1509 - only prctl, no locks taken
        self.processes[name] = process
        return process

    def start_worker(self, name: str) -> None:
        """Start a worker and wait until it has joined the consumer group and holds partitions."""
        port = free_port()
        self.ops_ports[name] = port
        self.start_process(name, "gateways.worker", env={"OPS_PORT": str(port)})
        self.wait_http(f"http://127.0.0.1:{port}/readyz", 90)

    def stop_process(self, name: str, timeout_s: float = 30.0) -> None:
        """SIGTERM one process and wait for it (SIGKILL after the timeout)."""
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs; killing it", name, timeout_s)
            process.kill()
            process.wait(timeout=5)

    def start_telegram(self, *, question_time_limit_s: int = 300, flood_limits: bool = True,
                       telegram_rate: int | None = None) -> str:
        """The stand-in and one telebot (long question timers so games stay open); the stand-in's URL.

        ``telegram_rate`` raises the telebot's overall calls per second (TELEGRAM_GLOBAL_RATE); use it with
        ``flood_limits=False`` where Telegram's own ceiling is not what is measured.
        """
        port = free_port()
        self.standin_url = f"http://127.0.0.1:{port}"
        args = ["--port", str(port), "--log-level", "warning"] + (["--flood-limits"] if flood_limits else [])
        self.start_process("standin", "gateways.telegram_standin", *args)
        self.wait_http(f"{self.standin_url}/_standin/health", 30)
        ops = free_port()
        self.ops_ports["telebot"] = ops
        self.start_process("telebot", "gateways.telegram.main",
                           env={"TELEGRAM_API_BASE_URL": f"{self.standin_url}/bot", "OPS_PORT": str(ops),
                                "QUESTION_TIME_LIMIT": str(question_time_limit_s),
                                **({"TELEGRAM_GLOBAL_RATE": str(telegram_rate)} if telegram_rate else {})})
        self.wait_http(f"http://127.0.0.1:{ops}/readyz", 90)
        return self.standin_url

    def pid(self, name: str) -> int:
        """The process id of a running process."""
        return int(self.processes[name].pid)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process of the stack, the broker, this database's PostgreSQL backends
        (summed) and this process (the load generator)."""
        seconds = {name: cpu_seconds(process.pid) for name, process in self.processes.items()}
        if self.broker is not None and self.broker.process is not None:
            seconds["broker"] = cpu_seconds(self.broker.process.pid)
        seconds["postgres"] = sum(cpu_seconds(pid) for pid in backends_of(self.database.name))
        seconds["load generator"] = cpu_seconds(os.getpid())
        return seconds

    def metrics(self, name: str) -> str:
        """The Prometheus text of a worker or the telebot (from its ops server)."""
        response = requests.get(f"http://127.0.0.1:{self.ops_ports[name]}/metrics", timeout=10)
        return response.text

    def wait_http(self, url: str, timeout_s: float) -> None:
        """Wait for ``url`` to answer 200; fail early when a process exits."""
        deadline = time.monotonic() + timeout_s
        with requests.Session() as session:
            session.trust_env = False
            while time.monotonic() < deadline:
                for name, process in self.processes.items():
                    if process.poll() is not None:
                        raise StackError(f"{name} exited with {process.returncode}; see {self.log_dir}/{name}.log")
                try:
                    if session.get(url, timeout=2).status_code == 200:
                        return
                except requests.RequestException as exc:
                    logger.debug("%s not ready yet: %s", url, type(exc).__name__)
                time.sleep(0.2)
        raise StackError(f"{url} was not ready within {timeout_s:.0f}s; logs in {self.log_dir}")

    def stop(self) -> None:
        """Stop every process (reverse order), the broker, and drop the database."""
        for name in reversed(list(self.processes)):
            try:
                self.stop_process(name)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("stopping %s failed: %s", name, exc)
        for log in self._logs:
            log.close()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        try:
            self.database.drop()
        except psycopg2.Error as exc:
            logger.warning("could not drop %s: %s", self.database.name, type(exc).__name__)

    def __enter__(self) -> BenchStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
