"""After a run: what the database, the stand-in's record of messages and the export targets say happened.

An answer is *lost* when the platform acknowledged it (a settled request, a button the user pressed) and no
scored answer row holds it; *duplicated* when it is scored twice (two rows, or a score that is not the sum of
its answers). A Telegram reply is lost when a question, its reveal or the game-over message is missing, and
duplicated when the user sees it twice. An export is duplicated when a transcript is committed or uploaded
twice, lost when a finished game's transcript is not at a target once the outbox is drained.
"""

from __future__ import annotations

import collections
import subprocess
import time
from typing import Any

import attrs
import peewee as pw

from schema.models import Answer, ExportOutbox, GameSession
from tests.chaos.environment import EXPORT_BUCKET, ChaosEnvironment
from tests.chaos.players import ApiGame, TelegramGame


@attrs.define
class Tally:
    """The outcome of one run (or the sum of runs) of one fault."""

    runs: int = 0
    strikes: int = 0  # times the fault struck (kills, outages, storms)
    deepseek_calls: int = 0
    games: int = 0
    finished: int = 0
    answers: int = 0
    lost: int = 0
    duplicated: int = 0
    replies_lost: int = 0
    replies_duplicated: int = 0
    exports: int = 0
    exports_lost: int = 0
    exports_duplicated: int = 0
    problems: list[str] = attrs.Factory(list)

    def add(self, other: Tally) -> None:
        for field in attrs.fields(Tally):
            if field.name == "problems":
                self.problems.extend(other.problems)
            else:
                setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing twice, every game finished."""
        return not (self.lost or self.duplicated or self.replies_lost or self.replies_duplicated
                    or self.exports_lost or self.exports_duplicated or self.finished < self.games)

    def note(self, problem: str) -> None:
        self.problems.append(problem)


def check_run(env: ChaosEnvironment, database: pw.Database, api: list[ApiGame], telegram: list[TelegramGame],
              *, export_wait_s: float = 120.0) -> Tally:
    """Check one run's games against every record; waits for the export outbox to drain first."""
    tally = Tally(runs=1, games=len(api) + len(telegram))
    game_ids: list[str] = []
    with database.connection_context():
        for game in api:
            _check_api_game(database, game, tally)
            if game.game_id:
                game_ids.append(game.game_id)
        for tg in telegram:
            game_id = _check_telegram_game(env, tg, tally)
            if game_id:
                game_ids.append(game_id)
    _check_exports(env, database, game_ids, tally, export_wait_s)
    return tally


def _check_api_game(database: pw.Database, game: ApiGame, tally: Tally) -> None:
    if game.error:
        tally.note(f"api {game.player_id}: {game.error}")
    if game.game_id is None:
        return
    tally.finished += int(game.finished)
    if GameSession.get_or_none(GameSession.id == game.game_id) is None:
        tally.lost += 1  # the API accepted the game (202) and it never came to be
        tally.note(f"api game {game.game_id}: accepted but never created")
        return
    rows = list(Answer.select().where(Answer.game == game.game_id))
    _count_rows(rows, tally, f"api game {game.game_id}")
    by_request = {row.request_id for row in rows}
    for answer in game.answers:
        if answer.status == "done" and answer.verdict != "close":
            tally.answers += 1
            if answer.request_id not in by_request:
                tally.lost += 1
                tally.note(f"api game {game.game_id}: answer {answer.question_no} settled but not recorded")
    _check_score(game.game_id, rows, tally)


def _check_telegram_game(env: ChaosEnvironment, game: TelegramGame, tally: Tally) -> str | None:
    if game.error:
        tally.note(f"telegram chat {game.chat_id}: {game.error}")
    tally.finished += int(game.finished)
    tally.answers += game.clicks
    assert env.standin is not None
    texts = [m.get("text") or "" for m in env.standin.messages(game.chat_id) if m["kind"] == "message"]
    expected = [f"Question {n}/{game.question_count}" for n in range(1, game.question_count + 1)]
    expected += ["Game over"] if game.finished else []
    for marker in expected:
        seen = sum(marker in text for text in texts)
        if seen > 1:
            tally.replies_duplicated += seen - 1
            tally.note(f"telegram chat {game.chat_id}: {marker!r} sent {seen} times")
        elif seen == 0 and game.finished:
            tally.replies_lost += 1
            tally.note(f"telegram chat {game.chat_id}: {marker!r} never sent")
    sessions = list(GameSession.select().where(GameSession.chat_id == game.chat_id))
    if len(sessions) != 1:
        tally.note(f"telegram chat {game.chat_id}: {len(sessions)} games in the database")
        if not sessions:
            tally.lost += game.clicks
            return None
    session = sessions[0]
    rows = list(Answer.select().where(Answer.game == session.id))
    _count_rows(rows, tally, f"telegram game {session.id}")
    recorded = len({(row.position, row.user_id) for row in rows})
    if recorded < game.clicks:
        tally.lost += game.clicks - recorded
        tally.note(f"telegram game {session.id}: {game.clicks} buttons pressed, {recorded} answers recorded")
    _check_score(session.id, rows, tally)
    return str(session.id)


def _count_rows(rows: list[Answer], tally: Tally, label: str) -> None:
    counts = collections.Counter((row.position, row.user_id) for row in rows)
    for (position, _user), count in counts.items():
        if count > 1:
            tally.duplicated += count - 1
            tally.note(f"{label}: question {position} scored {count} times")


def _check_score(game_id: str, rows: list[Answer], tally: Tally) -> None:
    session = GameSession.get_by_id(game_id)
    if session.mode == "solo" and session.score != sum(row.points for row in rows):
        tally.duplicated += 1
        tally.note(f"game {game_id}: score {session.score} is not the sum of its answers")


def _check_exports(env: ChaosEnvironment, database: pw.Database, game_ids: list[str], tally: Tally,
                   wait_s: float) -> None:
    finished = _finished(database, game_ids)
    deadline = time.monotonic() + wait_s
    while True:
        with database.connection_context():
            undone = (ExportOutbox.select().where(ExportOutbox.game.in_(finished), ExportOutbox.status != "done")
                      .count()) if finished else 0
        if not undone or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if undone:
        tally.note(f"{undone} exports still not done after {wait_s:g}s")
    git_adds = collections.Counter(_git_game_ids(env, "--diff-filter=A"))
    git_touches = collections.Counter(_git_game_ids(env))
    s3_versions = _s3_versions(env)
    s3_keys = collections.Counter(game_id for game_id, _key in s3_versions)
    s3_uploads = collections.Counter(s3_versions)
    for game_id in finished:
        tally.exports += 1
        for target, count in (("git", git_touches[game_id]), ("s3", s3_keys[game_id])):
            if count == 0:
                tally.exports_lost += 1
                tally.note(f"game {game_id}: no transcript in {target}")
            elif count > 1:
                tally.exports_duplicated += count - 1
                tally.note(f"game {game_id}: transcript written {count} times to {target}")
        if git_adds[game_id] > 1:
            tally.exports_duplicated += git_adds[game_id] - 1
    for (game_id, key), uploads in s3_uploads.items():
        if uploads > 1:  # the same bytes under the same key: an overwrite, not a second transcript
            tally.note(f"game {game_id}: s3://{EXPORT_BUCKET}/{key} uploaded {uploads} times (same key)")


def _finished(database: pw.Database, game_ids: list[str]) -> list[str]:
    if not game_ids:
        return []
    with database.connection_context():
        return [g.id for g in GameSession.select(GameSession.id).where(
            GameSession.id.in_(game_ids), GameSession.status == "finished")]


def _git_game_ids(env: ChaosEnvironment, *extra: str) -> list[str]:
    """The game id of every JSON transcript each commit on the branch touched (one entry per touch)."""
    assert env.git is not None
    if env.git.commit_count() == 0:
        return []
    out = subprocess.run(["git", "log", env.git.branch, "--format=", "--name-only", *extra], cwd=env.git.bare,
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit("/", 1)[-1].removesuffix(".json") for line in out.splitlines() if line.endswith(".json")]


def _s3_versions(env: ChaosEnvironment) -> list[tuple[str, str]]:
    """(game id, key) of every stored version of every transcript object: one entry per upload."""
    s3: Any = env.export_s3()
    versions: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=EXPORT_BUCKET):
        versions += [(v["Key"].rsplit("/", 1)[-1].removesuffix(".json"), v["Key"]) for v in page.get("Versions", [])]
    return versions
