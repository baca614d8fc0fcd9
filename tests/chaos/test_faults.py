"""The bounded fault suite: every fault strikes while API and Telegram games are played through the whole
stack; afterwards the database, the stand-in's messages and the export targets must show nothing lost and
nothing twice. ``scripts/chaos`` runs the same faults longer and writes docs/reliability.md."""

from __future__ import annotations

import pytest

from tests.chaos.conftest import Environments
from tests.chaos.faults import FAULTS
from tests.chaos.runner import Plan, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.mark.parametrize("name", list(FAULTS))
def test_games_under_fault_lose_nothing_and_do_nothing_twice(chaos_envs: Environments, name: str) -> None:
    env, credentials = chaos_envs.get(durable_broker=FAULTS[name].durable_broker)
    tally = run_fault(env, FAULTS[name], Plan(), credentials)
    assert tally.strikes > 0, f"{name} never struck"
    assert tally.clean, "\n".join([str(tally), *tally.problems])
    assert tally.answers >= Plan().questions * (Plan().api_games + Plan().telegram_games)
    assert tally.exports == tally.games
    if name == "deepseek-trouble":
        assert tally.deepseek_calls > 0, "no answer reached DeepSeek: the fault was never exercised"
