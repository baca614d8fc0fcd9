"""``trivia-telebot``: the Telegram bot process (polling by default), hosting the session actors."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any
from urllib.parse import urlsplit

import pykka
import uvicorn
from kafka.errors import KafkaError
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from gateways.api.auth import TokenService
from gateways.bridge import LoopBridge
from gateways.observability import OpsServer
from gateways.process import start_process
from gateways.telegram.api_client import HttpGameApi
from gateways.telegram.bot import BotHandlers
from gateways.telegram.commands import KafkaCommandSink
from gateways.telegram.outbox import FloodLimits, TelegramOutbox
from gateways.telegram.reads import GameReads
from gateways.telegram.webhook import create_webhook_app
from schema.db import DatabaseUnavailable, bind_database, wait_for_database
from trivia_actors.kafka import Completion, ConsumerBridgeActor, EventProducer, make_consumer
from trivia_actors.runtime import Settings, SettingsError
from trivia_actors.session import MarkSent, OutboundOp, PollSent, ResultArrived, SessionManagerActor, SessionStoreActor

logger = logging.getLogger(__name__)

TELEBOT_GROUP = "telebot"
DEFAULT_OPS_PORT = 9102
STANDIN_TOKEN = "1000000:local-standin-token"  # noqa: S105 - the stand-in accepts any token
STANDIN_BASE_URL = "http://127.0.0.1:8081/bot"


def bot_endpoint(settings: Settings) -> tuple[str, str]:
    """(token, Bot API base URL): without a token, the local stand-in."""
    if settings.telegram_bot_token:
        return settings.telegram_bot_token, settings.telegram_api_base_url
    if not settings.is_development:
        raise SettingsError("TELEGRAM_BOT_TOKEN is required outside development (TRIVIA_ENV)")
    base = settings.telegram_api_base_url
    if base.startswith("https://api.telegram.org"):
        base = STANDIN_BASE_URL
    return STANDIN_TOKEN, base


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application pointed at Telegram or the stand-in."""
    token, base_url = bot_endpoint(settings)
    file_url = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        .concurrent_updates(True)
        .connection_pool_size(64)
        .build()
    )


def service_token(settings: Settings) -> str:
    """The telebot's service token for the API (minted from JWT_SECRET; never logged)."""
    return TokenService(settings).issue(client_id="telebot", subject="service:telebot", scopes=("service",),
                                        ttl_s=365 * 24 * 3600)


async def _ask(ref: pykka.ActorRef[Any], message: Any) -> Any:
    """Ask an actor from the loop without blocking it (the wait happens in a worker thread)."""
    return await asyncio.to_thread(lambda: ref.ask(message, timeout=30))


async def run(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT: stop polling, drain the outbox, commit offsets, exit 0."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = bind_database(settings.database_url, max_connections=8)
    try:
        await asyncio.to_thread(wait_for_database, database, settings.database_url,
                                timeout_s=settings.db_init_timeout_s)
    except DatabaseUnavailable as exc:
        logger.error("%s", exc)
        return 1
    try:  # before any actor starts: a broker restarting as the bot starts delays it, it does not stop it
        producer = await asyncio.to_thread(EventProducer.connect, settings, wait_s=settings.db_init_timeout_s)
    except KafkaError as exc:
        logger.error("broker unreachable at %s: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
        return 1
    application = build_application(settings)
    await application.initialize()
    store = SessionStoreActor.start(database)

    manager_ref: list[pykka.ActorRef[Any]] = []

    def on_sent(op: OutboundOp, message_id: int | None, poll_id: str | None) -> None:
        if op.ledger_id is not None:
            store.tell(MarkSent(ledger_id=op.ledger_id, message_id=message_id, poll_id=poll_id))
        if poll_id is not None and manager_ref:
            manager_ref[0].tell(PollSent(chat_id=op.chat_id, key=op.key, poll_id=poll_id))

    outbox = TelegramOutbox(application.bot, LoopBridge(loop), on_sent=on_sent,
                            limits=FloodLimits(global_per_second=settings.telegram_global_rate))
    # Calls decided before a restart but not yet made go first, with the message ids they may edit.
    pending: list[OutboundOp] = await _ask(store, "load_pending")
    outbox.message_ids.update(await _ask(store, ("message_ids", sorted({op.chat_id for op in pending}))))
    outbox.deliver(pending)
    api = HttpGameApi(settings.api_url, service_token(settings))
    commands = KafkaCommandSink(producer, settings.topic("commands"))
    manager = SessionManagerActor.start(outbox=outbox, api=api, commands=commands, store=store)
    manager_ref.append(manager)
    restored_chats: list[int] = await _ask(manager, "chats")
    outbox.message_ids.update(await _ask(store, ("message_ids", restored_chats)))

    def dispatch(event: Any, completion: Completion) -> None:
        manager.tell(ResultArrived(event=event, completion=completion))

    bridge = ConsumerBridgeActor.start(
        name="telebot",
        # "earliest": a result produced before this group's first join must still reach its session.
        consumer_factory=lambda: make_consumer(settings, group_id=f"{settings.kafka_topic_prefix}{TELEBOT_GROUP}",
                                               client_id="trivia-telebot",
                                               auto_offset_reset="earliest"),
        topics=(settings.topic("results"),),
        dispatch=dispatch,
        dlq=producer,
        dlq_topic=settings.topic("dlq"),
    )
    ops = OpsServer(settings.api_host, DEFAULT_OPS_PORT if settings.ops_port is None else settings.ops_port,
                    ready=lambda: bridge.is_alive() and bool(bridge.ask("is_assigned", timeout=2)),
                    alive=lambda: manager.is_alive() and bridge.is_alive()).start()
    reads = GameReads(settings.api_url, service_token(settings))
    handlers = BotHandlers(manager, default_question_count=settings.default_question_count, store=store, outbox=outbox,
                           reads=reads,
                           default_timer_s=settings.question_time_limit_s)
    handlers.install(application)
    outbox.start()
    await application.start()
    assert application.updater is not None
    webhook_server: uvicorn.Server | None = None
    webhook_task: asyncio.Task[None] | None = None
    if settings.telegram_webhook_url and settings.telegram_webhook_secret:
        path = urlsplit(settings.telegram_webhook_url).path or "/"
        host, _, port = settings.telegram_webhook_listen.rpartition(":")
        webhook_app = create_webhook_app(application, path=path, secret=settings.telegram_webhook_secret)
        webhook_server = uvicorn.Server(uvicorn.Config(webhook_app, host=host or "0.0.0.0", port=int(port),  # noqa: S104
                                                       log_config=None, access_log=False, lifespan="off"))
        webhook_task = loop.create_task(webhook_server.serve())
        await application.bot.set_webhook(settings.telegram_webhook_url, secret_token=settings.telegram_webhook_secret,
                                          allowed_updates=Update.ALL_TYPES)
        logger.info("telebot in webhook mode on %s (path %s)", settings.telegram_webhook_listen, path)
    else:
        await application.bot.delete_webhook()
        await application.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)
        logger.info("telebot polling (ops port %d)", ops.port)
    await stop.wait()
    logger.info("telebot shutting down")
    if webhook_server is not None and webhook_task is not None:
        webhook_server.should_exit = True
        await webhook_task
    else:
        await application.updater.stop()
    await application.stop()
    await asyncio.to_thread(bridge.ask, "drain", timeout=5)
    await outbox.drain(timeout_s=10)
    await asyncio.to_thread(bridge.stop, timeout=10)
    await asyncio.to_thread(manager.stop, timeout=10)
    await asyncio.to_thread(store.stop, timeout=10)
    await asyncio.to_thread(api.stop)
    await outbox.stop()
    await application.shutdown()
    await reads.close()
    await asyncio.to_thread(producer.close)
    ops.stop()
    return 0


def main() -> int:
    """Entry point."""
    settings = start_process("telebot")
    try:
        bot_endpoint(settings)
        service_token(settings)
    except SettingsError as exc:
        print(f"telebot: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(settings))
    finally:
        # Actor threads are not daemons: after a start that failed half-way they would keep alive a process that
        # never polls Telegram, and a supervisor only restarts a process that exits.
        pykka.ActorRegistry.stop_all(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
