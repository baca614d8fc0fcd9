"""The e2e platform's fixtures (db-init, api and worker as processes) for the simulator's tiny runs."""

from tests.e2e.conftest import api_client, e2e_env, platform, platform_db  # noqa: F401
