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

from schema.db import make_database
from schema.events import QuestionView
from trivia_actors.rules import Phase
from trivia_actors.session import (
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


def seeded_write(chat_id: int, *, wake_at: float, questions: int, time_limit_s: float) -> SessionWrite:
    """One seeded open game: its snapshot (first question open until ``wake_at``) and its two sent messages."""
    game_id = str(uuid.uuid4())
    tag = keys.game_tag(game_id)
    views = [QuestionView(no=no, text=f"Which planet of the solar system is number {no + 2} from the sun?",
                          options=_OPTIONS, category="science", difficulty="easy") for no in range(questions)]
    state = SessionState(chat_id=chat_id, player=Player(telegram_id=chat_id, name=f"Seeded {chat_id}"),
                         phase=Phase.ASKING, game_id=game_id, game_tag=tag, questions=views, current_no=0,
                         time_limit_s=time_limit_s, deadline=wake_at, handled_events=[f"{game_id}:created"])
    ops = (
        OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=keys.reply_key(keys.Reply.PREPARING, chat_id),
                   text=rendering.preparing_text(topic=None, category=None)),
        OutboundOp(kind=OpKind.SEND, chat_id=chat_id, key=keys.question_key(tag, 0),
                   text=rendering.question_message(views[0], questions, question_type=state.question_type,
                                                   group=False, time_limit_s=time_limit_s),
                   keyboard=rendering.answer_keyboard(tag, views[0])),
    )
    return SessionWrite(chat_id=chat_id, game_id=game_id, phase=Phase.ASKING, snapshot=state.to_snapshot(),
                        wake_at=wake_at, ops=ops)


def seed_held_games(database_url: str, games: int, *, questions: int, time_limit_s: float,
                    asleep_for_s: float = 6 * 3600.0) -> SeedReport:
    """Write ``games`` open games into the telebot database at ``database_url`` (the telebot not running)."""
    wake_at = time.time() + asleep_for_s
    database = make_database(database_url, max_connections=1)
    store = SessionStoreActor.start(database)
    began = time.monotonic()
    snapshot_bytes = 0
    try:
        for start in range(0, games, CHUNK):
            chats = range(SEED_CHAT_BASE + start, SEED_CHAT_BASE + min(start + CHUNK, games))
            writes = tuple(seeded_write(chat, wake_at=wake_at, questions=questions, time_limit_s=time_limit_s)
                           for chat in chats)
            if not snapshot_bytes:
                snapshot_bytes = len(json.dumps(writes[0].snapshot, separators=(",", ":")))
            new = cast(tuple[tuple[OutboundOp, ...], ...],
                       store.ask(SaveSessions(writes=writes), timeout=STORE_TIMEOUT_S))
            # Marked sent as the outbox would once Telegram took them (message ids made up: nothing edits them).
            marks = tuple(SentMark(ledger_id=int(op.ledger_id), message_id=n + 1, poll_id=None)
                          for n, op in enumerate(op for ops in new for op in ops) if op.ledger_id is not None)
            store.ask(MarkSentMany(marks=marks), timeout=STORE_TIMEOUT_S)
    finally:
        store.stop()
        _close(database)
    return SeedReport(games=games, first_chat=SEED_CHAT_BASE, seconds=time.monotonic() - began, wake_at=wake_at,
                      snapshot_bytes=snapshot_bytes)


def time_schedule_read(database_url: str) -> dict[str, float]:
    """What a restart reads to schedule its open games (``LoadSchedule``, through a store actor as the telebot
    does): how many rows, and how long it took."""
    database = make_database(database_url, max_connections=1)
    store = SessionStoreActor.start(database)
    try:
        store.ask(LoadSchedule(), timeout=STORE_TIMEOUT_S)  # the first read also connects; the second is timed
        began = time.monotonic()
        rows = cast(list[Any], store.ask(LoadSchedule(), timeout=STORE_TIMEOUT_S))
        return {"rows": len(rows), "seconds": time.monotonic() - began}
    finally:
        store.stop()
        _close(database)



def _close(database: Any) -> None:
    if hasattr(database, "close_all"):  # a pool: its idle connections too
        database.close_all()
    else:
        database.close()
