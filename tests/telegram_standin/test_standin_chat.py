"""The terminal chat as a person uses it: a subprocess fed lines on stdin, playing against a real PTB bot."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from gateways.telegram_standin import StandinServer
from tests.telegram_standin.ptb_harness import DemoRecord, build_application, install_demo_bot, polling

REPO = Path(__file__).resolve().parents[2]


class ChatProcess:
    """``python -m gateways.telegram_standin.chat`` with its output collected line by line."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateways.telegram_standin.chat", "--url", url, "--user-id", "555",
             "--name", "Carol"],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._incoming: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = 10.0) -> str:
        """The first output line so far or to come that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if regex.search(line):
                    return line
            try:
                self.lines.append(self._incoming.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                transcript = "\n".join(self.lines)
                raise AssertionError(f"chat never printed {pattern!r}; it printed:\n{transcript}") from None

    def close(self) -> int:
        """Ctrl-D, then the exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _play(url: str) -> None:
    chat = ChatProcess(url)
    try:
        chat.expect(r"You are Carol \(user 555\)")
        chat.type("/start")
        chat.expect(r"bot: Welcome")
        chat.expect(r"\[1\] Science\s+\[2\] History")
        chat.type("2")
        chat.expect(r"you pressed: History")
        chat.expect(r"bot \(edited\): You chose history")
        chat.expect(r"bot \(notice\): chose cat:history")
        chat.type("hello bot")
        chat.expect(r"bot: echo: hello bot")
        chat.type("1")  # nothing to press any more: sent as text
        chat.expect(r"bot: echo: 1")
        chat.type("/quiz")
        chat.expect(r"\[quiz\] 2 \+ 2 = \?")
        chat.expect(r"\[2\] 4")
        chat.type("#2")
        chat.expect(r"you answered: 4")
        chat.expect(r"bot: Carol answered 1")
        assert chat.close() == 0
        chat.expect(r"^bye$")
    finally:
        chat.kill()


def test_terminal_chat_plays_against_a_ptb_bot() -> None:
    async def scenario() -> None:
        record = DemoRecord()
        with StandinServer() as server:
            app = build_application(server)
            install_demo_bot(app, record)
            async with polling(app):
                await asyncio.to_thread(_play, server.url)
            assert [answer[1:] for answer in record.poll_answers] == [(555, (1,))]
            assert record.errors == []

    asyncio.run(scenario())


def test_terminal_chat_reports_an_unreachable_standin() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "gateways.telegram_standin.chat", "--url", "http://127.0.0.1:9"],
        cwd=REPO, input="", capture_output=True, text=True, timeout=30, check=False,
    )
    assert completed.returncode == 1 and "cannot use the stand-in" in completed.stderr
