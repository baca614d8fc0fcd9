"""``trivia-local-stack`` (what ``scripts/run`` starts): the whole system as local processes, no Docker.

Broker (Tansu), SQLite unless DATABASE_URL is set, db-init, api, worker, telebot, and, without
TELEGRAM_BOT_TOKEN, the Telegram stand-in plus a terminal chat to play in. Ctrl-C stops everything it started.
Process logs go to ``var/logs/``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from gateways.local_broker import LocalBroker, free_port

VAR = Path("var")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _dev_secret() -> str:
    path = VAR / "dev-jwt-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Stack:
    """The processes of the local stack, stopped in reverse order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.broker: LocalBroker | None = None

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(VAR / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(args, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it", file=sys.stderr)
                process.kill()
        if self.broker is not None:
            self.broker.stop()


def _wait_http(url: str, timeout_s: float, stack: Stack) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, process in stack.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see var/logs/{name}.log")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready within {timeout_s:g}s")


def main(argv: list[str] | None = None) -> int:
    """Start the stack; with a terminal and the stand-in, open the chat; stop all on Ctrl-C."""
    parser = argparse.ArgumentParser(prog="trivia-local-stack", description=__doc__)
    parser.add_argument("--no-chat", action="store_true", help="do not open the terminal chat")
    parser.add_argument("--standin-port", type=int, default=8081)
    args = parser.parse_args(argv)
    (VAR / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("TRIVIA_ENV", "development")
    env.setdefault("DATABASE_URL", f"sqlite:///{(VAR / 'trivia.sqlite3').resolve()}")
    env.setdefault("JWT_SECRET", _dev_secret())
    env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "3000")
    env.setdefault("API_PORT", "8000" if _port_free(8000) else str(free_port()))
    env.setdefault("API_URL", f"http://127.0.0.1:{env['API_PORT']}")
    env.setdefault("OPS_PORT", "0")
    stack = Stack()
    python = sys.executable
    try:
        requested = 9092 if _port_free(9092) else None
        stack.broker = LocalBroker(requested, log_path=VAR / "logs" / "broker.log").start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = stack.broker.bootstrap
        print(f"broker      {stack.broker.bootstrap} (Tansu, in memory)")
        standin_url = None
        if not env.get("TELEGRAM_BOT_TOKEN"):
            port = args.standin_port if _port_free(args.standin_port) else free_port()
            standin_url = f"http://127.0.0.1:{port}"
            env["TELEGRAM_API_BASE_URL"] = f"{standin_url}/bot"
            stack.spawn("telegram-standin", [python, "-m", "gateways.telegram_standin", "--port", str(port)], env)
            _wait_http(f"{standin_url}/_standin/health", 15, stack)
            print(f"telegram    {standin_url} (local Bot API stand-in)")
        init = subprocess.run([python, "-m", "gateways.db_init"], env=env, check=False,
                              stdout=open(VAR / "logs" / "db-init.log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
        if init.returncode != 0:
            print("db-init failed; see var/logs/db-init.log", file=sys.stderr)
            return 1
        print(f"database    {env['DATABASE_URL'].split('@')[-1]}")
        stack.spawn("api", [python, "-m", "gateways.api.main"], env)
        stack.spawn("worker", [python, "-m", "gateways.worker"], env)
        stack.spawn("telebot", [python, "-m", "gateways.telegram.main"], env)
        _wait_http(f"{env['API_URL']}/readyz", 60, stack)
        print(f"api         {env['API_URL']}  (logs in var/logs/)")
        if standin_url and not args.no_chat and sys.stdin.isatty():
            print("\nChat with the bot: type /play, answer with the button number. Ctrl-D or Ctrl-C quits.\n")
            subprocess.run([python, "-m", "gateways.telegram_standin.chat", "--url", standin_url], env=env, check=False)
        else:
            print("stack running; Ctrl-C stops it")
            while all(p.poll() is None for _n, p in stack.processes):
                time.sleep(1)
            for name, process in stack.processes:
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see var/logs/{name}.log", file=sys.stderr)
                    return 1
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"local stack: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…")
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
