"""``trivia-api``: the HTTP API on uvicorn."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import uvicorn

from gateways.api.app import ApiContext, create_app
from gateways.api.auth import TokenService
from gateways.process import start_process
from schema.db import bind_database
from trivia_actors.runtime import SettingsError

logger = logging.getLogger(__name__)


def main() -> int:
    """Serve until SIGTERM/SIGINT; uvicorn stops accepting, finishes in-flight requests, then exits 0."""
    settings = start_process("api")
    try:
        # HS256: JWT_SECRET of at least 32 bytes; RS256: a readable RSA key pair of at least 2048 bits.
        can_issue = TokenService(settings).can_issue
    except SettingsError as exc:
        print(f"api: configuration error: {exc}", file=sys.stderr)
        return 2
    if not can_issue:
        print("api: configuration error: the API issues tokens: set JWT_PRIVATE_KEY_FILE for RS256", file=sys.stderr)
        return 2
    database = bind_database(settings.database_url, max_connections=24)
    app = create_app(ApiContext(settings, database))
    logger.info("api listening on %s:%d", settings.api_host, settings.api_port)
    # uvicorn handles SIGTERM/SIGINT itself (stop accepting, finish in-flight requests, run the lifespan's
    # shutdown) and then re-raises the signal to the handlers it found; these make that a clean exit 0.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, _stopped)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        lifespan="on",
    )
    logger.info("api stopped")
    return 0


def _stopped(signum: int, _frame: FrameType | None) -> None:
    logger.info("api shut down after %s", signal.Signals(signum).name)


if __name__ == "__main__":
    raise SystemExit(main())
