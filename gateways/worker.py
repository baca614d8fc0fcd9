"""``trivia-worker``: the Kafka consumer group that judges, scores and persists game commands."""

from __future__ import annotations

import logging
import socket

from kafka.errors import KafkaError

from gateways.deepseek_client import client_factory
from gateways.exporters import start_exporters
from gateways.exporters.work_dir import ExclusiveWorkDir, WorkDirBusy
from gateways.observability import OpsServer
from gateways.process import start_process, stop_event_on_signals
from schema.db import DatabaseUnavailable, bind_database, wait_for_database
from trivia_actors.kafka import EventProducer
from trivia_actors.worker import WorkerRuntime

logger = logging.getLogger(__name__)

DEFAULT_OPS_PORT = 9101


def main() -> int:
    """Run the worker until SIGTERM/SIGINT, then drain, commit and exit 0."""
    settings = start_process("worker")
    stop = stop_event_on_signals()
    try:
        database = bind_database(settings.database_url)
        wait_for_database(database, settings.database_url, timeout_s=settings.db_init_timeout_s)
    except (DatabaseUnavailable, ValueError) as exc:
        logger.error("%s", exc)
        return 1
    try:
        producer = EventProducer.connect(settings)
    except KafkaError as exc:
        logger.error("broker unreachable at %s: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
        return 1
    # Each worker drains the export outbox too; its Git clone is its own (rows are claimed, never shared).
    work_dir = ExclusiveWorkDir(settings.git_work_dir or f"var/git-export-{socket.gethostname()}")
    try:
        exports = start_exporters(settings, database, git_work_dir=work_dir.acquire())
    except (ValueError, WorkDirBusy) as exc:
        logger.error("%s", exc)
        producer.close()
        return 1
    runtime = WorkerRuntime(settings, database, producer, evaluators=settings.worker_evaluators,
                            persistence_shards=settings.worker_persistence_shards,
                            deepseek_client_factory=client_factory(settings))
    ops = OpsServer(
        settings.api_host,
        DEFAULT_OPS_PORT if settings.ops_port is None else settings.ops_port,
        ready=runtime.is_assigned,
        alive=lambda: runtime.is_alive() and exports.is_alive(),
    ).start()
    logger.info("worker started (ops port %d, topics prefix %r)", ops.port, settings.kafka_topic_prefix)
    try:
        while not stop.wait(1.0):
            if not (runtime.is_alive() and exports.is_alive()):
                logger.error("worker: an actor died; exiting so the supervisor restarts the process")
                return 1
    finally:
        runtime.stop()
        exports.stop()
        work_dir.release()
        ops.stop()
        logger.info("worker stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
