"""``scripts/run`` stops everything it started when Ctrl-C ends it, even with its output piped into tee, which
the same Ctrl-C ends first (the clean-up then writes to a closed pipe)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from gateways.local_broker import free_port
from tests.conftest import TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateways.local_stack", "tansu", "gateways.telegram_standin", "gateways.api.main", "gateways.worker",
            "gateways.telegram.main")

pytestmark = pytest.mark.e2e


def _processes() -> dict[int, tuple[int, str, str]]:
    """Live (not zombie) processes: pid -> (parent pid, start time, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), fields[19], command)
    return found


def _descendants(root: int) -> dict[tuple[int, str], str]:
    """Every process started under ``root``, by (pid, start time), whatever session or group it moved to."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _started, _command) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[(pid, processes[pid][1])] = processes[pid][2]
        todo.extend(children.get(pid, []))
    return found


def _still_running(started: dict[tuple[int, str], str]) -> dict[tuple[int, str], str]:
    processes = _processes()
    return {key: command for key, command in started.items()
            if key[0] in processes and processes[key[0]][1] == key[1]}


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait(condition, timeout_s: float, what: str, details=lambda: "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout_s:g} s\n{details()}")
        time.sleep(0.2)


def _logs(run_log: Path) -> str:
    parts = [f"--- run.log\n{run_log.read_text(errors='replace') if run_log.exists() else ''}"]
    for log in sorted((ROOT / "var" / "logs").glob("*.log")):
        parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)


def test_ctrl_c_with_the_output_piped_into_tee_stops_every_process_and_frees_the_ports(pg_factory, tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TELEGRAM_", "KAFKA_", "API_", "OPS_"))}
    api_port, standin_port = free_port(), free_port()
    env.update({"TRIVIA_ENV": "test", "DATABASE_URL": pg_factory(), "JWT_SECRET": TEST_JWT_SECRET,
                "API_PORT": str(api_port)})
    run_log = tmp_path / "run.log"
    pipeline = subprocess.Popen(
        ["bash", "-c", 'scripts/run --no-chat --standin-port "$1" 2>&1 | tee "$2"', "run", str(standin_port),
         str(run_log)],
        cwd=ROOT, env=env, start_new_session=True,  # its process group plays the terminal's foreground group
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: dict[tuple[int, str], str] = {}
    try:
        _wait(lambda: "stack running" in (run_log.read_text() if run_log.exists() else "") or
              pipeline.poll() is not None, 240, "the stack had not started", lambda: _logs(run_log))
        assert pipeline.poll() is None, f"the stack ended on its own\n{_logs(run_log)}"
        broker = re.search(r"broker\s+127\.0\.0\.1:(\d+)", run_log.read_text())
        assert broker, run_log.read_text()
        ports = {"api": api_port, "stand-in": standin_port, "broker": int(broker.group(1))}
        assert requests.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{standin_port}/_standin/health", timeout=5).status_code == 200
        assert _answers(ports["broker"])
        started = _descendants(pipeline.pid)
        running = " | ".join(started.values())
        for service in SERVICES:
            assert service in running, f"{service} is not running: {running}"

        os.killpg(pipeline.pid, signal.SIGINT)  # what Ctrl-C does to the terminal's foreground group

        pipeline.wait(timeout=90)
        _wait(lambda: not _still_running(started), 60, "processes started by scripts/run were still running",
              lambda: "\n".join(_still_running(started).values()) + "\n" + _logs(run_log))
        _wait(lambda: not any(_answers(port) for port in ports.values()), 30, "ports were still answering",
              lambda: str({name: _answers(port) for name, port in ports.items()}))
    finally:
        for pid, _started in _still_running(started):
            os.kill(pid, signal.SIGKILL)
        if pipeline.poll() is None:
            pipeline.kill()
            pipeline.wait()
