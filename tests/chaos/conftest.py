"""One chaos environment for the module: starting it costs seconds, and every fault heals what it broke."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.environment import ChaosEnvironment
from tests.chaos.runner import client_credentials


class Environments:
    """Started on first use: the shared environment, and the one whose broker keeps its log."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.started: dict[bool, tuple[ChaosEnvironment, dict[str, str]]] = {}

    def get(self, *, durable_broker: bool) -> tuple[ChaosEnvironment, dict[str, str]]:
        if durable_broker not in self.started:
            env = ChaosEnvironment(self.factory.mktemp("chaos"), durable_broker=durable_broker).start()
            self.started[durable_broker] = (env, client_credentials(env))
        return self.started[durable_broker]

    def stop(self) -> None:
        for env, _credentials in self.started.values():
            env.stop()


@pytest.fixture(scope="module")
def chaos_envs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environments]:
    envs = Environments(tmp_path_factory)
    try:
        yield envs
    finally:
        envs.stop()
