"""Seeded held games: open games written straight into a telebot's own store, as it holds them once they went idle.

Why seeded: the real pipeline opens only 10-30 games a second on this box (the API, worker, broker and
PostgreSQL share 2 cores), and a game nobody answers stops itself after three 300 s question timers, so at most
about 900 s x the opening rate are ever held at once: 100,000 cannot be opened live here. What a telebot holds
of an open game that has gone quiet is a sleeping session (after 60 s idle only its chat id and wake time stay
in memory) and its row in ``chat_sessions``; so the phase writes those rows before the telebot starts, and the
telebot starts over them exactly as it restarts over its own open games.

Each seeded game is what a solo ``/play`` leaves behind once its first question is shown: a version-2 snapshot
(phase asking, a game id, ``questions`` questions, question 0 open) whose deadline and ``wake_at`` lie hours
ahead, so none fires during the run; and its two ledger rows (the "preparing" reply and the question message,
both marked sent). They are written through the telebot's own :class:`SessionStoreActor` (its group commit's
multi-row statements), in chunks. The API does not know these games: they are held, never played.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, cast

import attrs
import pykka

from schema.db import make_database
from schema.events import QuestionView
from schema.telebot_models import TELEBOT_MODELS
from trivia_actors.rules import Phase
from trivia_actors.session import (
    LoadPolls,
    LoadSchedule,
    MarkSentMany,
    OpKind,
    OutboundOp,
    Player,
    SaveSessions,
    SentMark,
    SessionState,
    SessionStoreActor,
    SessionWrite,
    keys,
    rendering,
)

SEED_CHAT_BASE = 9_000_000_000  # far above the stand-in's user ids (100,001 up), so no real chat collides
CHUNK = 2_000  # chats per SaveSessions (one transaction; the store splits it into 500-row statements)
STORE_TIMEOUT_S = 300.0
POLL_CHUNK = 5_000  # chats per LoadPolls, as the telebot's engine asks after a restart
_OPTIONS = ("Mercury", "Venus", "Mars", "Jupiter")


@attrs.frozen(kw_only=True)
class SeedReport:
    """What was seeded, and how long it took."""

    games: int
    first_chat: int
    seconds: float
    wake_at: float  # epoch seconds: every seeded game's deadline (nothing of theirs is due before)
    snapshot_bytes: int  # the JSON of one seeded snapshot

    def to_json(self) -> dict[str, Any]:
        """As the results document keeps it."""
        return attrs.asdict(self)


class Seeder:
    """Builds seeded open games: one real snapshot and message set (``SessionState(...).to_snapshot()`` and the
    session's own rendering) as the template, each game a copy with its own chat, player and game id."""

    def __init__(self, *, wake_at: float, questions: int, time_limit_s: float) -> None:
        self.wake_at = wake_at
        self.views = [QuestionView(no=no, text=f"Which planet of the solar system is number {no + 2} from the sun?",
                                   options=_OPTIONS, category="science", difficulty="easy") for no in range(questions)]
        template = SessionState(chat_id=0, player=Player(telegram_id=0, name="Seeded"), phase=Phase.ASKING,
                                game_id="", game_tag="", questions=self.views, current_no=0,
                                time_limit_s=time_limit_s, deadline=wake_at)
        self.template = template.to_snapshot()
        self.preparing = rendering.preparing_text(topic=None, category=None)
        self.question = rendering.question_message(self.views[0], questions, question_type=template.question_type,
                                                   group=False, time_limit_s=time_limit_s)

    def write(self, chat_id: int) -> SessionWrite:
        """One seeded open game: its snapshot (first question open until ``wake_at``) and its two messages."""
        game_id = str(uuid.uuid4())
        tag = keys.game_tag(game_id)
        snapshot = {**self.template, "chat_id": chat_id, "player": {**self.template["player"], "telegram_id": chat_id,
                                                                     "name": f"Seeded {chat_id}"},
                    "game_id": game_id, "game_tag": tag, "handled_events": [f"{game_id}:created"]}
        ops = (
            OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=keys.reply_key(keys.Reply.PREPARING, chat_id),
                       text=self.preparing),
            OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=keys.question_key(tag, 0), text=self.question,
                       keyboard=rendering.answer_keyboard(tag, self.views[0])),
        )
        return SessionWrite(chat_id=chat_id, game_id=game_id, phase=Phase.ASKING, snapshot=snapshot,
                            wake_at=self.wake_at, ops=ops)


def seed_held_games(database_url: str, games: int, *, questions: int, time_limit_s: float,
                    asleep_for_s: float = 6 * 3600.0, writers: int = 2) -> SeedReport:
    """Write ``games`` open games into the telebot database at ``database_url`` (the telebot not running), in
    chunks spread over ``writers`` store actors (each a connection of its own) while the next chunk is built."""
    seeder = Seeder(wake_at=time.time() + asleep_for_s, questions=questions, time_limit_s=time_limit_s)
    first = seeder.write(SEED_CHAT_BASE)
    SessionState.from_snapshot(first.snapshot)  # the copies are snapshots the telebot reads
    databases = [make_database(database_url, max_connections=1) for _ in range(writers)]
    stores = [SessionStoreActor.start(database) for database in databases]
    began = time.monotonic()
    saving: list[tuple[pykka.ActorRef[Any], pykka.Future[Any]]] = []
    marking: list[pykka.Future[Any]] = []
    try:
        for n, start in enumerate(range(0, games, CHUNK)):
            chats = range(SEED_CHAT_BASE + start, SEED_CHAT_BASE + min(start + CHUNK, games))
            writes = tuple(first if chat == SEED_CHAT_BASE else seeder.write(chat) for chat in chats)
            store = stores[n % writers]
            saving.append((store, store.ask(SaveSessions(writes=writes), block=False)))
            if len(saving) >= writers:
                marking.append(_mark_sent(*saving.pop(0)))
        marking.extend(_mark_sent(store, future) for store, future in saving)
        for future in marking:
            future.get(timeout=STORE_TIMEOUT_S)
    finally:
        for store in stores:
            store.stop()
        for database in databases:
            _close(database)
    return SeedReport(games=games, first_chat=SEED_CHAT_BASE, seconds=time.monotonic() - began,
                      wake_at=seeder.wake_at,
                      snapshot_bytes=len(json.dumps(first.snapshot, separators=(",", ":"))))


def _mark_sent(store: pykka.ActorRef[Any], saved: pykka.Future[Any]) -> pykka.Future[Any]:
    """Once a chunk is saved: its ledger rows marked sent, as the outbox does once Telegram took them (message
    ids made up: nothing edits them)."""
    new = cast(tuple[tuple[OutboundOp, ...], ...], saved.get(timeout=STORE_TIMEOUT_S))
    marks = tuple(SentMark(ledger_id=int(op.ledger_id), message_id=n + 1, poll_id=None)
                  for n, op in enumerate(op for ops in new for op in ops) if op.ledger_id is not None)
    return store.ask(MarkSentMany(marks=marks), block=False)


def time_schedule_read(database_url: str) -> dict[str, float]:
    """What a restart reads before its shards start, timed through a store actor as the telebot does it: the
    schedule (``LoadSchedule``: chat id and wake time of every open game) and the polls of those chats
    (``LoadPolls``, in the telebot's chunks)."""
    database = make_database(database_url, max_connections=1)
    store = SessionStoreActor.start(database)
    try:
        # LoadPolls queries through the models (bound to the process's proxy): bound to this database meanwhile.
        with database.bind_ctx(TELEBOT_MODELS):
            store.ask(LoadSchedule(), timeout=STORE_TIMEOUT_S)  # the first read also connects; the next is timed
            began = time.monotonic()
            rows = cast(list[tuple[int, float | None]], store.ask(LoadSchedule(), timeout=STORE_TIMEOUT_S))
            schedule_s = time.monotonic() - began
            chats = sorted(chat for chat, _wake_at in rows)
            began = time.monotonic()
            for start in range(0, len(chats), POLL_CHUNK):
                store.ask(LoadPolls(chat_ids=tuple(chats[start:start + POLL_CHUNK])), timeout=STORE_TIMEOUT_S)
            polls_s = time.monotonic() - began
        return {"rows": len(rows), "seconds": schedule_s, "polls_seconds": polls_s}
    finally:
        store.stop()
        _close(database)


def _close(database: Any) -> None:
    if hasattr(database, "close_all"):  # a pool: its idle connections too
        database.close_all()
    else:
        database.close()
