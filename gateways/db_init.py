"""``trivia-db-init``: wait for the database, migrate, seed the question bank, ensure the Kafka topics."""

from __future__ import annotations

import argparse
import logging
import time

from kafka.errors import KafkaError

from gateways.process import start_process
from schema.bank import BankError, load_bank, seed_questions
from schema.db import DatabaseUnavailable, bind_database, describe_target, wait_for_database
from schema.migrations import apply_migrations
from trivia_actors.kafka import ensure_topics
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)


def _ensure_topics_with_retry(settings: Settings, timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return ensure_topics(settings, timeout_s=min(10.0, timeout_s))
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            logger.info("waiting for the broker at %s: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
            time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    """Initialise everything; exit 0 when done (a second run changes nothing), 1 with a clear error."""
    parser = argparse.ArgumentParser(prog="trivia-db-init", description=__doc__)
    parser.add_argument("--skip-kafka", action="store_true", help="do not create the Kafka topics")
    args = parser.parse_args(argv)
    settings = start_process("db-init")
    try:
        database = bind_database(settings.database_url, max_connections=2)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    try:
        wait_for_database(database, settings.database_url, timeout_s=settings.db_init_timeout_s)
    except DatabaseUnavailable as exc:
        logger.error("%s", exc)
        return 1
    try:
        with database.connection_context():
            applied = apply_migrations(database)
            inserted = seed_questions(database, load_bank())
    except BankError as exc:
        logger.error("question bank invalid: %s", exc)
        return 1
    logger.info(
        "database %s ready: migrations applied %s, %d new questions",
        describe_target(settings.database_url), applied or "none", inserted,
    )
    if not args.skip_kafka:
        try:
            created = _ensure_topics_with_retry(settings, settings.db_init_timeout_s)
        except KafkaError as exc:
            logger.error("broker at %s unreachable: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
            return 1
        logger.info("kafka topics ready (created: %s)", ", ".join(created) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
