"""Runs the platform's entry points as real processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from gateways.local_broker import free_port


class ProcessStack:
    """Starts processes with a shared environment, logs each to a file, stops them all at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, name: str, module: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a one-shot entry point to completion."""
        return subprocess.run([sys.executable, "-m", module, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)

    def start(self, name: str, module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running entry point."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", module, *args], env={**self.env, **(env or {})},
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_http(self, url: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        logs = "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in self.processes)
        raise AssertionError(f"{url} not ready in {timeout_s}s\n{logs}")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise AssertionError(f"{name} did not exit within {timeout_s}s after {signal.Signals(sig).name}") from None

    def stop_all(self) -> None:
        failures = []
        for name in reversed(list(self.processes)):  # the last started depend on the first (telebot on stand-in)
            try:
                self.stop(name)
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, "; ".join(failures)


def ports() -> dict[str, str]:
    """Free ports for the api and the ops servers."""
    api = free_port()
    return {"API_PORT": str(api), "API_URL": f"http://127.0.0.1:{api}", "OPS_PORT": "0"}
