"""The Telegram side of the held-games phase, inside a running :class:`BenchStack`: a stand-in with its flood
limits lifted and one telebot on a database of its own, which the phase can SIGKILL and start again.

The telebot gets a fresh database (db-init run on it, dropped afterwards) so that games an earlier phase left
open in the stack's database are not restored into this one's counts; it reaches the platform only through
the API and Kafka, which it shares with the rest of the stack.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from gateways.local_broker import free_port
from gateways.simulate.stack import BenchStack, FreshDatabase, StackError, backends_of, cpu_seconds

TELEBOT = "telebot"
STANDIN = "standin"
TELEBOT_GLOBAL_RATE = 1000  # calls/s: the most the telebot accepts (its own ceiling, out of the way)


class HeldStack:
    """Stand-in (``--flood-limits off``) and telebot (long question timers, no rate ceiling) for held games."""

    def __init__(self, stack: BenchStack, *, question_time_limit_s: int = 300) -> None:
        self.stack = stack
        self.question_time_limit_s = question_time_limit_s
        self.database = FreshDatabase(stack.database.admin_url)
        self.standin_url = ""
        self.env: dict[str, str] = {}

    def start(self) -> str:
        """The telebot's database, the stand-in and the telebot, ready; the stand-in's URL."""
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
                    "TELEGRAM_GLOBAL_RATE": str(TELEBOT_GLOBAL_RATE)}
        self.start_telebot()
        self.wait_ready(90)
        return self.standin_url

    def start_telebot(self) -> None:
        """Start the telebot (on a new ops port); :meth:`wait_ready` waits for it."""
        ops = free_port()
        self.stack.ops_ports[TELEBOT] = ops
        self.stack.start_process(TELEBOT, "gateways.telegram.main", env={**self.env, "OPS_PORT": str(ops)})

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
