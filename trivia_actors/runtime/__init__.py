"""What every process's engine runs on: settings, failpoints, metrics, the database actor base, timers."""

from trivia_actors.runtime import failpoints
from trivia_actors.runtime.db_actor import TRANSIENT_DB_ERRORS, DatabaseActor
from trivia_actors.runtime.metrics import (
    CONSUMED,
    DEAD_LETTERED,
    EVENTS_PROCESSED,
    HTTP_REQUESTS,
    HTTP_SECONDS,
    PERSIST_BATCH,
    PROCESS_SECONDS,
    TELEGRAM_SENT,
    TELEGRAM_UPDATES,
)
from trivia_actors.runtime.settings import Settings, SettingsError, inherited_environment, load_settings
from trivia_actors.runtime.timers import ManualClock, TimerHandle, TimerService, TimerTarget, process_timers

__all__ = [
    "CONSUMED",
    "DEAD_LETTERED",
    "EVENTS_PROCESSED",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "PERSIST_BATCH",
    "PROCESS_SECONDS",
    "TELEGRAM_SENT",
    "TELEGRAM_UPDATES",
    "TRANSIENT_DB_ERRORS",
    "DatabaseActor",
    "ManualClock",
    "Settings",
    "SettingsError",
    "TimerHandle",
    "TimerService",
    "TimerTarget",
    "failpoints",
    "inherited_environment",
    "load_settings",
    "process_timers",
]
