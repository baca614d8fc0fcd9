"""The whole platform plus the Telegram stand-in, with the telebot as a real process."""

from __future__ import annotations

import pytest

from gateways.local_broker import free_port
from gateways.telegram_standin import StandinClient
from tests.stack import ProcessStack

WEBHOOK_SECRET = "hook-secret-0123456789"


def _start(stack: ProcessStack, e2e_env: dict[str, str], port: int, *standin_args: str, telebot: bool = True) -> None:
    """Stand-in, db-init, worker, api (ready), then the telebot (unless the test starts its own)."""
    stack.start("standin", "gateways.telegram_standin", "--port", str(port), *standin_args)
    stack.wait_http(f"http://127.0.0.1:{port}/_standin/health")
    init = stack.run("db-init", "gateways.db_init")
    assert init.returncode == 0, init.stderr
    stack.start("worker", "gateways.worker")
    stack.start("api", "gateways.api.main")
    stack.wait_http(f"{e2e_env['API_URL']}/readyz")
    if telebot:
        stack.start("telebot", "gateways.telegram.main")


@pytest.fixture
def telegram(e2e_env, tmp_path):
    """db-init, api, worker, stand-in and telebot as processes; yields (stack, stand-in client)."""
    port = free_port()
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot", "QUESTION_TIME_LIMIT": "30"})
    stack = ProcessStack(e2e_env, tmp_path)
    client = StandinClient(f"http://127.0.0.1:{port}")
    try:
        _start(stack, e2e_env, port, "--flood-limits")
        yield stack, client
    finally:
        client.close()
        stack.stop_all()


@pytest.fixture
def telegram_without_bot(e2e_env, tmp_path):
    """As ``telegram``, but the test starts the telebot itself; yields (stack, stand-in client)."""
    port = free_port()
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot", "QUESTION_TIME_LIMIT": "30"})
    stack = ProcessStack(e2e_env, tmp_path)
    client = StandinClient(f"http://127.0.0.1:{port}")
    try:
        _start(stack, e2e_env, port, "--flood-limits", telebot=False)
        yield stack, client
    finally:
        client.close()
        stack.stop_all()


@pytest.fixture
def telegram_webhook(e2e_env, tmp_path):
    """As ``telegram``, with the telebot on a webhook; yields (stack, stand-in client, hook URL, secret)."""
    port, hook_port = free_port(), free_port()
    hook = f"http://127.0.0.1:{hook_port}/telegram/hook"
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot", "TELEGRAM_WEBHOOK_URL": hook,
                    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{hook_port}",
                    "QUESTION_TIME_LIMIT": "30"})
    stack = ProcessStack(e2e_env, tmp_path)
    client = StandinClient(f"http://127.0.0.1:{port}")
    try:
        _start(stack, e2e_env, port)
        stack.wait_http(f"http://127.0.0.1:{hook_port}/healthz")
        yield stack, client, hook, WEBHOOK_SECRET
    finally:
        client.close()
        stack.stop_all()
