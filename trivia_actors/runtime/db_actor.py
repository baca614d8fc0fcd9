"""A base for actors that use the database from their own thread (one pooled connection each)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import peewee as pw
import pykka

logger = logging.getLogger(__name__)

# Errors that mean "the database is unreachable or the connection broke": retry later, never drop.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (pw.OperationalError, pw.InterfaceError)


class DatabaseActor(pykka.ThreadingActor):
    """Opens its thread's connection lazily and discards it after a connection error."""

    def __init__(self, database: pw.Database) -> None:
        super().__init__()
        self.database = database

    def ensure_connection(self) -> None:
        """Connect this actor's thread if it has no open connection."""
        if self.database.is_closed():
            self.database.connect()

    def drop_connection(self) -> None:
        """Forget a broken connection so the next message reconnects."""
        try:
            if not self.database.is_closed():
                self.database.close()
        except pw.PeeweeException as exc:
            logger.warning("closing a broken connection failed: %s", type(exc).__name__)

    def pending_timers(self) -> Iterable[threading.Timer]:
        """The timers this actor armed and has not seen fire; cancelled when it stops or fails."""
        return ()

    def on_stop(self) -> None:
        self._cancel_timers()
        self.drop_connection()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("%s failed: %s", type(self).__name__, exception_value)
        self._cancel_timers()
        self.drop_connection()

    def _cancel_timers(self) -> None:
        for timer in list(self.pending_timers()):
            timer.cancel()
