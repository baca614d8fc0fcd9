"""Shared start-up of the processes: settings, logging, and a stop event set by SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from gateways.observability import configure_logging
from trivia_actors.runtime import Settings, SettingsError, failpoints, load_settings

logger = logging.getLogger(__name__)


def start_process(name: str) -> Settings:
    """Load settings and configure logging, or exit 2 with a clear message naming the bad setting."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings, name)
    failpoints.arm(settings)
    return settings


def stop_event_on_signals() -> threading.Event:
    """An event set on SIGTERM or SIGINT, for processes whose main thread waits on it."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
