"""``trivia-local-stack`` (what ``scripts/run`` starts): the whole system as local processes, no Docker.

Broker (Tansu), SQLite unless DATABASE_URL is set, db-init, api, worker, telebot, and, without
TELEGRAM_BOT_TOKEN, the Telegram stand-in plus a terminal chat to play in. Ctrl-C (or SIGTERM, SIGHUP) stops
everything it started, in reverse order, even when its own output has gone (``scripts/run | tee run.log``: the
same Ctrl-C ends tee). Process logs go to ``var/logs/``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

import requests

from gateways.local_broker import LocalBroker, free_port
from trivia_actors.runtime import SettingsError, inherited_environment, load_settings

VAR = Path("var")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(text: str, *, stream: TextIO | None = None) -> None:
    """Print a line; a stream whose reader has gone (a closed pipe, a hung-up terminal) is muted, not fatal.

    The clean-up prints as it stops the services: a write that raised there would leave them running.
    """
    out = stream if stream is not None else sys.stdout
    try:
        print(text, file=out, flush=True)
    except (OSError, ValueError):
        _mute(out)


def _mute(out: TextIO) -> None:
    # Point the descriptor at /dev/null, so the interpreter's last flush at exit does not fail either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _port_free(port: int) -> bool:
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


def stack_environment(inherited: dict[str, str]) -> dict[str, str]:
    """The services' environment: this process's, with local defaults for what it does not set."""
    env = dict(inherited)
    env.setdefault("TRIVIA_ENV", "development")
    env.setdefault("DATABASE_URL", f"sqlite:///{(VAR / 'trivia.sqlite3').resolve()}")
    env.setdefault("JWT_SECRET", _dev_secret())
    env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "3000")
    env.setdefault("API_PORT", "8000" if _port_free(8000) else str(free_port()))
    env.setdefault("API_URL", f"http://127.0.0.1:{env['API_PORT']}")
    env.setdefault("OPS_PORT", "0")
    return env


def in_foreground() -> bool:
    """True when this process is in its terminal's foreground process group (started straight from a shell).

    Under ``scripts/run`` it is not: the script runs it as a job of its own, takes Ctrl-C itself and asks it to
    stop with SIGTERM.
    """
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


class Stack:
    """The processes of the local stack, stopped in reverse order.

    With ``own_sessions`` each service gets a session of its own, out of reach of the terminal's Ctrl-C (which
    would hit them all at once): this process stops them in order. Otherwise they share this process's group,
    which ``scripts/run`` sweeps once this process has ended, however it ended.
    """

    def __init__(self, *, own_sessions: bool = False) -> None:
        self.own_sessions = own_sessions
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.broker: LocalBroker | None = None

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(VAR / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(args, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   start_new_session=self.own_sessions)
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
                say(f"{name} did not stop in time; killing it", stream=sys.stderr)
                process.kill()
                process.wait()
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


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Start the stack; with a terminal and the stand-in, open the chat; stop all on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="trivia-local-stack", description=__doc__)
    parser.add_argument("--no-chat", action="store_true", help="do not open the terminal chat")
    parser.add_argument("--standin-port", type=int, default=8081)
    args = parser.parse_args(argv)
    (VAR / "logs").mkdir(parents=True, exist_ok=True)
    env = stack_environment(inherited_environment())
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        say(f"local stack: configuration error: {exc}", stream=sys.stderr)
        return 2
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    stack = Stack(own_sessions=in_foreground())
    python = sys.executable
    try:
        requested = 9092 if _port_free(9092) else None
        # Known before it starts: a Ctrl-C while it starts must still stop it.
        stack.broker = LocalBroker(requested, log_path=VAR / "logs" / "broker.log", log_level=settings.tansu_log)
        stack.broker.start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = stack.broker.bootstrap
        say(f"broker      {stack.broker.bootstrap} (Tansu, in memory)")
        standin_url = None
        if not settings.telegram_bot_token:
            port = args.standin_port if _port_free(args.standin_port) else free_port()
            standin_url = f"http://127.0.0.1:{port}"
            env["TELEGRAM_API_BASE_URL"] = f"{standin_url}/bot"
            stack.spawn("telegram-standin", [python, "-m", "gateways.telegram_standin", "--port", str(port)], env)
            _wait_http(f"{standin_url}/_standin/health", 15, stack)
            say(f"telegram    {standin_url} (local Bot API stand-in)")
        with open(VAR / "logs" / "db-init.log", "ab") as init_log:
            init = subprocess.run([python, "-m", "gateways.db_init"], env=env, check=False, stdin=subprocess.DEVNULL,
                                  stdout=init_log, stderr=subprocess.STDOUT, start_new_session=stack.own_sessions)
        if init.returncode != 0:
            say("db-init failed; see var/logs/db-init.log", stream=sys.stderr)
            return 1
        say(f"database    {settings.database_url.split('@')[-1]}")
        stack.spawn("api", [python, "-m", "gateways.api.main"], env)
        stack.spawn("worker", [python, "-m", "gateways.worker"], env)
        stack.spawn("telebot", [python, "-m", "gateways.telegram.main"], env)
        _wait_http(f"{settings.api_url}/readyz", 60, stack)
        say(f"api         {settings.api_url}  (logs in var/logs/)")
        if standin_url and not args.no_chat and sys.stdin.isatty():
            say("\nChat with the bot: type /play, answer with the button number. Ctrl-D or Ctrl-C quits.\n")
            # The chat reads the terminal, so it joins the terminal's foreground group (under scripts/run this
            # process is a background job, where a read would stop it).
            subprocess.run([python, "-m", "gateways.telegram_standin.chat", "--url", standin_url], env=env,
                           check=False, process_group=os.tcgetpgrp(sys.stdin.fileno()))
        else:
            say("stack running; Ctrl-C stops it")
            while all(p.poll() is None for _n, p in stack.processes):
                time.sleep(1)
            for name, process in stack.processes:
                if process.poll() is not None:
                    say(f"{name} exited with {process.returncode}; see var/logs/{name}.log", stream=sys.stderr)
                    return 1
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        say(f"local stack: {exc}", stream=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C (or the terminal closing) must not cut the clean-up short: it is bounded anyway.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        say("stopping…")
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
