"""``trivia-telebot``: the Telegram bot process (polling by default), hosting the session actors."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
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
from gateways.process import Shutdown, StartFailed, confirm_started, start_process, stop_remaining_actors
from gateways.telegram.api_client import HttpGameApi
from gateways.telegram.bot import BotHandlers
from gateways.telegram.commands import KafkaCommandSink
from gateways.telegram.ordering import ChatOrderedUpdateProcessor, chat_of_polls
from gateways.telegram.outbox import FloodLimits, TelegramOutbox
from gateways.telegram.reads import GameReads
from gateways.telegram.sent_marks import SentMarks
from gateways.telegram.webhook import create_webhook_app
from schema.db import DatabaseUnavailable, bind_database, wait_for_database
from trivia_actors.kafka import Completion, ConsumerBridgeActor, Drain, EventProducer, IsAssigned, make_consumer
from trivia_actors.runtime import Settings, SettingsError, TimerService
from trivia_actors.session import (
    LoadMessageIds,
    LoadPending,
    OutboundOp,
    PollIndex,
    ResultArrived,
    SentMark,
    SessionStoreActor,
    start_sessions,
)

logger = logging.getLogger(__name__)

TELEBOT_GROUP = "telebot"
DEFAULT_OPS_PORT = 9102
STANDIN_TOKEN = "1000000:local-standin-token"  # noqa: S105 - the stand-in accepts any token
STANDIN_BASE_URL = "http://127.0.0.1:8081/bot"
UPDATES_IN_FLIGHT = 256


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


def build_application(settings: Settings, polls: PollIndex | None = None) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application pointed at Telegram or the stand-in; ``polls`` keys a poll answer by its poll's chat."""
    token, base_url = bot_endpoint(settings)
    file_url = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        # Chats run concurrently, but one chat's updates are handled in the order they arrived.
        .concurrent_updates(ChatOrderedUpdateProcessor(UPDATES_IN_FLIGHT, key=chat_of_polls(polls or PollIndex())))
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


async def _confirm(ref: pykka.ActorRef[Any], name: str) -> None:
    await asyncio.to_thread(confirm_started, ref, name)


def _stopping(ref: pykka.ActorRef[Any]) -> Callable[[], Awaitable[Any]]:
    return lambda: asyncio.to_thread(ref.stop, timeout=10)


async def start(settings: Settings, shutdown: Shutdown) -> None:
    """Start the telebot's parts in dependency order, confirming each actor, until it takes updates.

    Each part pushes its stop onto ``shutdown`` as soon as it runs, so that the caller, which runs ``shutdown``
    in a ``finally``, stops exactly what started, in reverse order, also when a step here raised.
    """
    loop = asyncio.get_running_loop()
    database = bind_database(settings.database_url, max_connections=8)
    await asyncio.to_thread(wait_for_database, database, settings.database_url,
                            timeout_s=settings.db_init_timeout_s)
    # Before any actor starts: a broker restarting as the bot starts delays it, it does not stop it.
    producer = await asyncio.to_thread(EventProducer.connect, settings, wait_s=settings.db_init_timeout_s)
    shutdown.push("the event producer", lambda: asyncio.to_thread(producer.close))
    polls = PollIndex()
    application = build_application(settings, polls)
    await application.initialize()
    shutdown.push("the Telegram application", application.shutdown)
    timers = TimerService(name="telebot-timers").start()
    shutdown.push("the timer service", lambda: asyncio.to_thread(timers.stop))
    writers = [SessionStoreActor.start(database) for _ in range(settings.telebot_store_writers)]
    for index, writer in enumerate(writers):
        shutdown.push(f"session store writer {index}", _stopping(writer))
        await _confirm(writer, f"session store writer {index}")
    store = writers[0]
    marks = SentMarks(writers, timers)

    def on_sent(op: OutboundOp, message_id: int | None, poll_id: str | None) -> None:
        if op.ledger_id is not None:
            marks.add(op.chat_id, SentMark(ledger_id=op.ledger_id, message_id=message_id, poll_id=poll_id))
        if poll_id is not None:
            polls.add(poll_id, op.chat_id, op.key)

    outbox = TelegramOutbox(application.bot, LoopBridge(loop), on_sent=on_sent,
                            limits=FloodLimits(global_per_second=settings.telegram_global_rate))
    shutdown.push("the outbox", outbox.stop)
    shutdown.push("the sent marks", lambda: asyncio.to_thread(marks.flush))
    # Calls decided before a restart but not yet made go first, with the message ids they may edit.
    pending: list[OutboundOp] = await _ask(store, LoadPending())
    outbox.remember(await _ask(store, LoadMessageIds(chat_ids=tuple(sorted({op.chat_id for op in pending})))))
    outbox.deliver(pending)
    api = HttpGameApi(settings.api_url, service_token(settings), loop=loop, timers=timers)
    shutdown.push("the API client", api.close)
    commands = KafkaCommandSink(producer, settings.topic("commands"), timers=timers)
    router = await asyncio.to_thread(
        start_sessions, shards=settings.telebot_session_shards, outbox=outbox, api=api, timers=timers,
        commands=commands, writers=writers, polls=polls)
    shutdown.push("the session shards", lambda: asyncio.to_thread(router.stop))
    for index, shard in enumerate(router.shards):
        await _confirm(shard, f"session shard {index}")

    def dispatch(event: Any, completion: Completion) -> None:
        router.tell(ResultArrived(event=event, completion=completion))

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
        timers=timers,
    )
    shutdown.push("the results consumer", _stopping(bridge))
    await _confirm(bridge, "the results consumer")
    ops = OpsServer(settings.api_host, DEFAULT_OPS_PORT if settings.ops_port is None else settings.ops_port,
                    ready=lambda: bridge.is_alive() and bool(bridge.ask(IsAssigned(), timeout=2)),
                    alive=lambda: all(shard.is_alive() for shard in router.shards) and bridge.is_alive()).start()
    shutdown.push("the ops server", ops.stop)
    reads = GameReads(settings.api_url, service_token(settings))
    shutdown.push("the game reads client", reads.close)
    handlers = BotHandlers(router, default_question_count=settings.default_question_count, store=store, outbox=outbox,
                           reads=reads,
                           default_timer_s=settings.question_time_limit_s)
    handlers.install(application)
    # Once updates stop and before anything above stops: results in flight still complete (and are committed),
    # and the calls they decided are made.
    shutdown.push("draining the outbox", lambda: outbox.drain(timeout_s=10))
    shutdown.push("draining the results consumer", lambda: asyncio.to_thread(bridge.ask, Drain(), timeout=5))
    outbox.start()
    await application.start()
    shutdown.push("the Telegram application's updates", application.stop)
    assert application.updater is not None
    if settings.telegram_webhook_url and settings.telegram_webhook_secret:
        path = urlsplit(settings.telegram_webhook_url).path or "/"
        host, _, port = settings.telegram_webhook_listen.rpartition(":")
        webhook_app = create_webhook_app(application, path=path, secret=settings.telegram_webhook_secret)
        webhook_server = uvicorn.Server(uvicorn.Config(webhook_app, host=host or "0.0.0.0", port=int(port),  # noqa: S104
                                                       log_config=None, access_log=False, lifespan="off"))
        webhook_task = loop.create_task(webhook_server.serve())

        async def stop_webhook() -> None:
            webhook_server.should_exit = True
            await webhook_task

        shutdown.push("the webhook server", stop_webhook)
        await application.bot.set_webhook(settings.telegram_webhook_url, secret_token=settings.telegram_webhook_secret,
                                          allowed_updates=Update.ALL_TYPES)
        logger.info("telebot in webhook mode on %s (path %s)", settings.telegram_webhook_listen, path)
    else:
        await application.bot.delete_webhook()
        await application.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)
        shutdown.push("polling", application.updater.stop)
        logger.info("telebot polling (ops port %d)", ops.port)


async def serve(settings: Settings, stop: asyncio.Event) -> int:
    """Start, run until ``stop`` is set, then stop in reverse order: nothing started outlives it, even after a
    failed start."""
    shutdown = Shutdown("telebot")
    try:
        try:
            await start(settings, shutdown)
        except DatabaseUnavailable as exc:
            logger.error("%s", exc)
            return 1
        except KafkaError as exc:
            logger.error("broker unreachable at %s: %s", settings.kafka_bootstrap_servers, type(exc).__name__)
            return 1
        except StartFailed as exc:
            logger.error("telebot did not start: %s", exc)
            return 1
        await stop.wait()
        logger.info("telebot shutting down")
        return 0
    finally:
        await shutdown.run()
        await asyncio.to_thread(stop_remaining_actors, "telebot")


async def run(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT: stop polling, drain the outbox, commit offsets, exit 0."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await serve(settings, stop)


def main() -> int:
    """Entry point."""
    settings = start_process("telebot")
    try:
        bot_endpoint(settings)
        service_token(settings)
    except SettingsError as exc:
        print(f"telebot: configuration error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run(settings))


if __name__ == "__main__":
    raise SystemExit(main())
