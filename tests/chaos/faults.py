"""The faults: each injects trouble while games are played, and heals everything once they end.

``inject`` runs in its own thread beside the players and returns when ``stop`` is set (or its script is
done); ``heal`` runs after the players finished and leaves every dependency up and every process running,
as an operator or a supervisor (compose's ``restart: unless-stopped``) would.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable

import attrs
from llmock.scenarios import Delay, Fail, Reply

from tests.chaos.environment import ChaosEnvironment

# The worker dies at these places with these odds per pass (see trivia_actors/failpoints.py).
WORKER_FAILPOINTS = "bridge.mid_batch=0.01,bridge.before_commit=0.01,persist.after_commit=0.04,publish.after_send=0.02"
ROLES = ("worker", "api", "telebot")


@attrs.frozen
class Fault:
    name: str
    description: str
    inject: Callable[[ChaosEnvironment, threading.Event, random.Random], None]
    heal: Callable[[ChaosEnvironment], None] = lambda env: None
    durable_broker: bool = False  # runs in an environment whose broker keeps its log across a restart


def _pause(rng: random.Random, strike: int) -> float:
    """Seconds before a strike: the first lands early, while even a short round is still being played."""
    return rng.uniform(0.3, 1.2) if strike == 0 else rng.uniform(1.0, 4.0)


def _restart_everything(env: ChaosEnvironment) -> None:
    for role in ROLES:
        env.ensure_running(role)


def _kill_repeatedly(role: str, *, times: int = 2) -> Callable[[ChaosEnvironment, threading.Event, random.Random],
                                                                None]:
    def inject(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
        for n in range(times):
            if stop.wait(_pause(rng, n)):
                return
            env.kill(role, signal.SIGKILL)
            time.sleep(rng.uniform(0.5, 2.0))
            env.ensure_running(role)
    return inject


def _worker_failpoints(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
    env.failpoints = WORKER_FAILPOINTS
    env.kill("worker", signal.SIGTERM)
    env.ensure_running("worker")
    while not stop.wait(0.5):  # the supervisor: a worker that died at a failpoint is started again
        env.ensure_running("worker")


def _worker_failpoints_off(env: ChaosEnvironment) -> None:
    env.failpoints = ""
    env.kill("worker", signal.SIGTERM)
    env.ensure_running("worker")


def _broker_restart(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
    assert env.broker is not None
    for n, down_s in enumerate((rng.uniform(1.0, 4.0), rng.uniform(8.0, 15.0))):  # the second outlasts timeouts
        if stop.wait(_pause(rng, n)):
            return
        port = env.broker.port
        env.strikes += 1
        env.broker.stop()
        time.sleep(down_s)
        env.broker.requested_port = port
        env.broker.start(timeout_s=30)


def _postgres_outage(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
    assert env.proxy is not None
    for n in range(2):
        if stop.wait(_pause(rng, n)):
            return
        env.strikes += 1
        env.proxy.cut()
        time.sleep(rng.uniform(2.0, 6.0))
        env.proxy.restore()


def _postgres_heal(env: ChaosEnvironment) -> None:
    assert env.proxy is not None
    env.proxy.restore()
    _restart_everything(env)


def _deepseek_trouble(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
    troubles = [
        (Delay(seconds=8.0, times=None),),  # slower than the judge's deadline
        (Fail(status=500, times=None),),
        (Fail(status=429, retry_after=1.0, times=None),),
        (Reply(text="{\"verdict\": ", times=None),),  # garbled: not JSON
        (Reply(text="{\"verdict\": \"maybe\", \"reason\": 7}", times=None),),  # JSON, wrong shape
    ]
    while not stop.is_set():
        env.strikes += 1
        env.deepseek_set(*rng.choice(troubles))
        stop.wait(rng.uniform(2.0, 5.0))


def _telegram_storm(status: int) -> Callable[[ChaosEnvironment, threading.Event, random.Random], None]:
    def inject(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
        assert env.standin is not None
        for n in range(3):
            if stop.wait(_pause(rng, n)):
                return
            env.strikes += 1
            env.standin.set_faults(status, count=rng.randint(10, 30), retry_after=1)
    return inject


def _standin_calm(env: ChaosEnvironment) -> None:
    assert env.standin is not None
    env.standin.set_faults(429, count=0)


def _exports_down(env: ChaosEnvironment, stop: threading.Event, rng: random.Random) -> None:
    assert env.git is not None and env.exports_s3 is not None
    env.strikes += 1
    env.git.stop()
    env.exports_s3.stop()
    stop.wait()  # down until every game of the run has finished


def _exports_up(env: ChaosEnvironment) -> None:
    assert env.git is not None and env.exports_s3 is not None
    env.git.start()
    env.exports_s3.start()


FAULTS: dict[str, Fault] = {fault.name: fault for fault in (
    Fault("worker-sigkill", "worker SIGKILLed twice at random moments, restarted", _kill_repeatedly("worker"),
          _restart_everything),
    Fault("worker-failpoints", "worker dies at failpoints (mid-batch, after the DB commit, between publishes, "
          "before the offset commit); a supervisor restarts it", _worker_failpoints, _worker_failpoints_off),
    Fault("broker-restart", "broker stopped (1-4 s, then 8-15 s) and restarted on the same port, "
          "its log kept (durable storage)", _broker_restart,
          _restart_everything, durable_broker=True),
    Fault("postgres-outage", "PostgreSQL connections reset and refused for 2-6 s, twice", _postgres_outage,
          _postgres_heal),
    Fault("api-sigkill", "API SIGKILLed twice, restarted", _kill_repeatedly("api"), _restart_everything),
    Fault("telebot-sigkill", "telebot SIGKILLed twice, restarted", _kill_repeatedly("telebot"), _restart_everything),
    Fault("deepseek-trouble", "DeepSeek slow (8 s), 500s, 429s, garbled and ill-shaped replies, in turns",
          _deepseek_trouble, lambda env: env.deepseek_healthy()),
    Fault("telegram-429", "Telegram stand-in answers 429 (retry_after 1) to bursts of 10-30 calls",
          _telegram_storm(429), _standin_calm),
    Fault("telegram-5xx", "Telegram stand-in answers 502 to bursts of 10-30 calls", _telegram_storm(502),
          _standin_calm),
    Fault("exports-down", "Git server and S3 down while the games end, back after", _exports_down, _exports_up),
)}
