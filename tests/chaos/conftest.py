"""One chaos environment for the module: starting it costs seconds, and every fault heals what it broke."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.environment import ChaosEnvironment
from tests.chaos.runner import client_credentials


@pytest.fixture(scope="module")
def chaos_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosEnvironment]:
    env = ChaosEnvironment(tmp_path_factory.mktemp("chaos")).start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="module")
def chaos_credentials(chaos_env: ChaosEnvironment) -> dict[str, str]:
    return client_credentials(chaos_env)
