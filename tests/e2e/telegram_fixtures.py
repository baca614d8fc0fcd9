"""The whole platform plus the Telegram stand-in, with the telebot as a real process."""

from __future__ import annotations

import pytest

from gateways.local_broker import free_port
from gateways.telegram_standin import StandinClient
from tests.stack import ProcessStack


@pytest.fixture
def telegram(e2e_env, tmp_path):
    """db-init, api, worker, stand-in and telebot as processes; yields (stack, stand-in client)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"{url}/bot", "QUESTION_TIME_LIMIT": "30"})
    stack = ProcessStack(e2e_env, tmp_path)
    stack.start("standin", "gateways.telegram_standin", "--port", str(port), "--flood-limits")
    stack.wait_http(f"{url}/_standin/health")
    init = stack.run("db-init", "gateways.db_init")
    assert init.returncode == 0, init.stderr
    stack.start("worker", "gateways.worker")
    stack.start("api", "gateways.api.main")
    stack.wait_http(f"{e2e_env['API_URL']}/readyz")
    stack.start("telebot", "gateways.telegram.main")
    client = StandinClient(url)
    yield stack, client
    client.close()
    stack.stop_all()


WEBHOOK_SECRET = "hook-secret-0123456789"


@pytest.fixture
def telegram_webhook(e2e_env, tmp_path):
    """As ``telegram``, with the telebot on a webhook; yields (stack, stand-in client, hook URL, secret)."""
    port, hook_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    hook = f"http://127.0.0.1:{hook_port}/telegram/hook"
    e2e_env.update({"TELEGRAM_API_BASE_URL": f"{url}/bot", "TELEGRAM_WEBHOOK_URL": hook,
                    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{hook_port}",
                    "QUESTION_TIME_LIMIT": "30"})
    stack = ProcessStack(e2e_env, tmp_path)
    client = StandinClient(url)
    try:
        stack.start("standin", "gateways.telegram_standin", "--port", str(port))
        stack.wait_http(f"{url}/_standin/health")
        init = stack.run("db-init", "gateways.db_init")
        assert init.returncode == 0, init.stderr
        stack.start("worker", "gateways.worker")
        stack.start("api", "gateways.api.main")
        stack.wait_http(f"{e2e_env['API_URL']}/readyz")
        stack.start("telebot", "gateways.telegram.main")
        stack.wait_http(f"http://127.0.0.1:{hook_port}/healthz")
        yield stack, client, hook, WEBHOOK_SECRET
    finally:
        client.close()
        stack.stop_all()
