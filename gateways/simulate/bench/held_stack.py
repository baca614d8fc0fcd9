"""The Telegram side of the held-games phase, inside a running :class:`BenchStack`: a stand-in with its flood
limits lifted and one telebot on a database of its own, which the phase can SIGKILL and start again.

The telebot gets a fresh database (db-init run on it, dropped afterwards) so that games an earlier phase left
open in the stack's database are not restored into this one's counts; it reaches the platform only through
the API and Kafka, which it shares with the rest of the stack. The telebot logs at INFO (the production
default, unlike the rest of the stack) so that its start-up lines say how many open games it resumed and when.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gateways.local_broker import free_port
from gateways.simulate.stack import BenchStack, FreshDatabase, StackError, backends_of, cpu_seconds

TELEBOT = "telebot"
STANDIN = "standin"
TELEBOT_GLOBAL_RATE = 1000  # calls/s: the most the telebot accepts (its own ceiling, out of the way)
_LINE_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_RESUMED = re.compile(r"(\d+) open games to resume")
_SHARD_ASLEEP = re.compile(r"session shard (\d+): (\d+) sessions asleep")


class HeldStack:
    """Stand-in (``--flood-limits off``) and telebot (long question timers, no rate ceiling) for held games."""

    def __init__(self, stack: BenchStack, *, question_time_limit_s: int = 300) -> None:
        self.stack = stack
        self.started_at = 0.0  # time.time() of the telebot's last spawn
        self._log_offset = 0
        self.question_time_limit_s = question_time_limit_s
        self.database = FreshDatabase(stack.database.admin_url)
        self.standin_url = ""
        self.env: dict[str, str] = {}

    def start(self) -> str:
        """The telebot's database, the stand-in and the telebot, ready; the stand-in's URL. The telebot's
        database can be filled (:attr:`database_url`) while it is stopped (:meth:`stop_telebot`)."""
        url = self.database.create()
        with open(self.stack.log_dir / "db-init-telebot.log", "ab") as log:
            done = subprocess.run([sys.executable, "-m", "gateways.db_init", "--skip-kafka"],
                                  env={**self.stack.env, "DATABASE_URL": url}, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL, timeout=120, check=False)
        if done.returncode != 0:
            raise StackError(f"db-init of the telebot's database failed; see {self.stack.log_dir}/db-init-telebot.log")
        port = free_port()
        self.standin_url = f"http://127.0.0.1:{port}"
        self.stack.start_process(STANDIN, "gateways.telegram_standin", "--port", str(port), "--log-level", "warning",
                                 "--flood-limits", "off")
        self.stack.wait_http(f"{self.standin_url}/_standin/health", 30)
        self.env = {"DATABASE_URL": url, "TELEGRAM_API_BASE_URL": f"{self.standin_url}/bot",
                    "QUESTION_TIME_LIMIT": str(self.question_time_limit_s),
                    "TELEGRAM_GLOBAL_RATE": str(TELEBOT_GLOBAL_RATE), "LOG_LEVEL": "INFO"}
        self.start_telebot()
        self.wait_ready(90)
        return self.standin_url

    @property
    def database_url(self) -> str:
        """The telebot's own database."""
        return self.database.url

    @property
    def log_path(self) -> Path:
        """The telebot's log (every start appends to it)."""
        return self.stack.log_dir / f"{TELEBOT}.log"

    def start_telebot(self) -> None:
        """Start the telebot (on a new ops port); :meth:`wait_ready` waits for it, :meth:`start_lines` reads
        what it logged since."""
        ops = free_port()
        self.stack.ops_ports[TELEBOT] = ops
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.started_at = time.time()
        self.stack.start_process(TELEBOT, "gateways.telegram.main", env={**self.env, "OPS_PORT": str(ops)})

    def stop_telebot(self) -> None:
        """Stop the telebot as an operator would (SIGTERM, a clean shutdown)."""
        self.stack.stop_process(TELEBOT, timeout_s=120)

    def start_lines(self) -> dict[str, Any]:
        """What the telebot logged since its last start about the open games it resumed: how many (its own
        count, and the sum over its shards), and the seconds from the process's spawn to those lines."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode("utf-8", "replace")
        resumed: int | None = None
        resumed_s: float | None = None
        shards: dict[int, int] = {}
        shards_s: float | None = None
        for line in text.splitlines():
            stamp = _LINE_TIME.match(line)
            at = None if stamp is None else _epoch(stamp[1]) - self.started_at
            if (found := _RESUMED.search(line)) is not None:
                resumed, resumed_s = int(found[1]), at
            elif (asleep := _SHARD_ASLEEP.search(line)) is not None:
                shards[int(asleep[1])] = int(asleep[2])
                shards_s = at
        return {"resumed": resumed or 0, "resumed_line_s": resumed_s, "asleep_in_shards": sum(shards.values()),
                "shards": len(shards), "shards_started_s": shards_s}

    def wait_ready(self, timeout_s: float) -> None:
        """Until the telebot's /readyz answers."""
        self.stack.wait_http(f"http://127.0.0.1:{self.stack.ops_ports[TELEBOT]}/readyz", timeout_s)

    def kill_telebot(self) -> None:
        """SIGKILL the telebot and reap it."""
        process = self.stack.processes.pop(TELEBOT)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def pid(self) -> int | None:
        """The running telebot's process id; None between a kill and the restart."""
        process = self.stack.processes.get(TELEBOT)
        return None if process is None else int(process.pid)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of every process of the stack, with the telebot's database's backends apart."""
        seconds = self.stack.cpu()
        seconds["postgres (telebot)"] = sum(cpu_seconds(pid) for pid in backends_of(self.database.name))
        return seconds

    def stop(self) -> None:
        """Stop the telebot and the stand-in, drop the telebot's database."""
        for name in (TELEBOT, STANDIN):
            if name in self.stack.processes:
                self.stack.stop_process(name)
        self.database.drop()


def _epoch(stamp: str) -> float:
    """A log line's local-time stamp (logging's asctime) as epoch seconds."""
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
