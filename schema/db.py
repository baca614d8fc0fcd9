"""Database binding: one Peewee proxy, bound late to PostgreSQL or SQLite from a URL."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase

logger = logging.getLogger(__name__)

database_proxy = pw.DatabaseProxy()

# No transaction of ours waits on its own client for long: one left open by a vanished client is ended.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message names the host, never the password."""


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def describe_target(url: str) -> str:
    """A short human description of where the database lives (host:port/name or file path)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return f"SQLite file {parts.path[1:] or ':memory:'}"
    return f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.lstrip('/')}"


def make_database(url: str, *, max_connections: int = 32) -> pw.Database:
    """Build (not connect) the database for ``url``: ``postgresql://...`` or ``sqlite:///path``."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        raw_path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        path = raw_path or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        sqlite: pw.Database = pw.SqliteDatabase(
            path,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000, "synchronous": 1},
            timeout=10,
            autoconnect=False,
            check_same_thread=False,
        )
        return sqlite
    if scheme in {"postgres", "postgresql"}:
        pooled: pw.Database = PooledPostgresqlDatabase(
            unquote(parts.path.lstrip("/")) or "postgres",
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,
            autoconnect=False,
            connect_timeout=3,
            # A peer that vanished (network cut, crashed host) is noticed in about a minute on both sides:
            # keepalives end our blocked reads, and the server ends a transaction whose client went silent
            # instead of holding its row locks until the kernel gives up (hours).
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            options=f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
        )
        return pooled
    raise ValueError(f"unsupported DATABASE_URL scheme {parts.scheme!r}: use postgresql:// or sqlite:///")


def bind_database(url: str, *, max_connections: int = 32) -> pw.Database:
    """Build the database for ``url`` and bind every model to it through the proxy."""
    database = make_database(url, max_connections=max_connections)
    database_proxy.initialize(database)
    return database


def wait_for_database(database: pw.Database, url: str, *, timeout_s: float) -> None:
    """Connect, retrying until ``timeout_s``; raise :class:`DatabaseUnavailable` naming the target."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    last_error = "no attempt made"
    while True:
        try:
            database.connect(reuse_if_open=True)
            database.execute_sql("SELECT 1")
            database.close()
            return
        except pw.OperationalError as exc:
            last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if not database.is_closed():
                database.close()
        if time.monotonic() + delay > deadline:
            raise DatabaseUnavailable(
                f"database not reachable: {describe_target(url)} did not answer within {timeout_s:g}s "
                f"(last error: {_scrub(last_error, url)})"
            )
        logger.info("waiting for %s: %s", describe_target(url), _scrub(last_error, url))
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _scrub(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
