"""The API's own database work: request statuses, game views, client lookups. Runs in a worker pool."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import peewee as pw

from schema.models import (
    Answer,
    ApiClient,
    GameQuestion,
    GameSession,
    Question,
    RequestStatus,
    TelegramUser,
    utcnow,
)
from trivia_actors.rules import RequestState


def request_view(row: RequestStatus) -> dict[str, Any]:
    """The public JSON of a request status."""
    result = row.result
    view_result = None
    if result is not None:
        view_result = {"type": result.get("type"), **(result.get("payload") or {})}
    return {
        "request_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "game_id": row.game_id,
        "result": view_result,
        "error": row.error,
    }


def settled_view(row: RequestStatus, first_result: dict[str, Any]) -> dict[str, Any]:
    """The public JSON of a pending request once ``first_result`` (an encoded result event) is known.

    The same view the stored status gives after the worker wrote it: a ``request.failed`` result becomes the
    error, anything else the result.
    """
    payload = first_result.get("payload") or {}
    failed = first_result.get("type") == "request.failed"
    return {
        "request_id": row.id,
        "kind": row.kind,
        "status": (RequestState.FAILED if failed else RequestState.DONE).value,
        "game_id": first_result.get("game_id") or row.game_id,
        "result": None if failed else {"type": first_result.get("type"), **payload},
        "error": {"code": payload.get("code"), "message": payload.get("message")} if failed else None,
    }


class ApiStore:
    """Every query the API makes; each method is one short unit of work on a pooled connection."""

    def __init__(self, database: pw.Database) -> None:
        self.database = database

    def create_request(self, *, request_id: str, client_id: str, subject: str, kind: str, game_id: str,
                       idempotency_key: str | None) -> tuple[RequestStatus, bool]:
        """Record a pending request; with a known idempotency key, return the earlier one instead.

        One statement on the common path: the insert is skipped on a key seen before, and only then is the
        earlier request read.
        """
        with self.database.connection_context():
            inserted = (
                RequestStatus.insert(
                    id=request_id, client_id=client_id, subject=subject, kind=kind, game_id=game_id,
                    idempotency_key=idempotency_key, status=RequestState.PENDING.value,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            if inserted:
                return RequestStatus(id=request_id, client_id=client_id, subject=subject, kind=kind, game_id=game_id,
                                     idempotency_key=idempotency_key, status=RequestState.PENDING.value), True
            if idempotency_key is None:
                raise pw.IntegrityError(f"request id {request_id} already exists")
            # The key was used before (or another request with it won the race): answer with that one.
            return RequestStatus.get(
                RequestStatus.client_id == client_id, RequestStatus.idempotency_key == idempotency_key
            ), False

    def reopen(self, request_id: str, *, from_status: str, unchanged_since: dt.datetime) -> bool:
        """Take a request back to ``pending`` for another produce, only if it is still ``from_status`` and
        untouched since ``unchanged_since``: False when the worker settled it (or another retry took it) first."""
        with self.database.connection_context():
            return bool(RequestStatus.update(status=RequestState.PENDING.value, error=None, updated_at=utcnow()).where(
                RequestStatus.id == request_id, RequestStatus.status == from_status,
                RequestStatus.updated_at == unchanged_since).execute())

    def set_status(self, request_id: str, status: str, error: dict[str, str] | None = None) -> None:
        """Move a request to ``status`` (pending again before a retry, failed when the broker refused)."""
        with self.database.connection_context():
            RequestStatus.update(status=status, error=error, updated_at=utcnow()).where(
                RequestStatus.id == request_id,
                RequestStatus.status.in_([RequestState.PENDING.value, RequestState.FAILED.value]),
            ).execute()

    def get_request(self, request_id: str) -> RequestStatus | None:
        """A request status row, or None."""
        with self.database.connection_context():
            return RequestStatus.get_or_none(RequestStatus.id == request_id)

    def game_access(self, game_id: str) -> dict[str, Any] | None:
        """What a command on a game needs to know: its owner, client, mode and chat (one query), or None."""
        with self.database.connection_context():
            row = (
                GameSession.select(GameSession.id, GameSession.client_id, GameSession.mode, GameSession.chat_id,
                                   TelegramUser.subject)
                .join(TelegramUser)
                .where(GameSession.id == game_id)
                .tuples()
                .first()
            )
        if row is None:
            return None
        game, client_id, mode, chat_id, subject = row
        return {"game_id": game, "client_id": client_id, "mode": mode, "chat_id": chat_id, "subject": subject}

    def get_game(self, game_id: str) -> dict[str, Any] | None:
        """A game as its owner may see it, or None. ``client_id``/``subject`` are for the access check."""
        with self.database.connection_context():
            game = (
                GameSession.select(GameSession, TelegramUser)
                .join(TelegramUser)
                .where(GameSession.id == game_id)
                .first()
            )
            if game is None:
                return None
            current = None
            if game.status == "active":
                row = (
                    GameQuestion.select(GameQuestion, Question)
                    .join(Question)
                    .where(GameQuestion.game == game.id, GameQuestion.position == game.current_no)
                    .first()
                )
                if row is not None:
                    current = {
                        "no": row.position,
                        "text": row.question.text,
                        "options": row.options,
                        "category": row.question.category,
                        "difficulty": row.question.difficulty,
                    }
            return {
                "game_id": game.id,
                "client_id": game.client_id,
                "subject": game.owner.subject,
                "chat_id": game.chat_id,
                "status": game.status,
                "mode": game.mode,
                "category": game.category,
                "difficulty": game.difficulty,
                "question_count": game.question_count,
                "current_question_no": game.current_no if game.status == "active" else None,
                "current_question": current,
                "score": game.score,
                "streak": game.streak,
                "correct_count": game.correct_count,
                "time_limit_s": game.time_limit_s,
                "created_at": game.created_at.isoformat() + "Z",
                "finished_at": game.finished_at.isoformat() + "Z" if game.finished_at else None,
            }

    def leaderboard(self, *, chat_id: int | None, client_id: str | None, since: dt.datetime | None,
                    after: tuple[int, int] | None, limit: int) -> list[dict[str, Any]]:
        """Players ranked by the points of their answers: points descending, then user id (a stable order).

        ``chat_id`` keeps answers of that chat's games (of ``client_id``'s games when given), ``since`` keeps
        answers created at or after it, ``after`` = (points, user id) of the last row of the previous page.
        """
        points = pw.fn.SUM(Answer.points)
        correct = pw.fn.SUM(pw.Case(None, [(Answer.verdict == "correct", 1)], 0))
        query = Answer.select(Answer.user, points.alias("points"), pw.fn.COUNT(Answer.id).alias("answers"),
                              correct.alias("correct"))
        if chat_id is not None:
            query = query.join(GameSession, on=(Answer.game == GameSession.id)).where(GameSession.chat_id == chat_id)
            if client_id is not None:
                query = query.where(GameSession.client_id == client_id)
        if since is not None:
            query = query.where(Answer.created_at >= since)
        query = query.group_by(Answer.user)
        if after is not None:
            query = query.having((points < after[0]) | ((points == after[0]) & (Answer.user > after[1])))
        query = query.order_by(points.desc(), Answer.user.asc()).limit(limit)
        with self.database.connection_context():
            rows: list[tuple[int, Any, Any, Any]] = list(query.tuples())  # type: ignore[arg-type]
            users = {u.id: u for u in TelegramUser.select(TelegramUser.id, TelegramUser.subject,
                                                          TelegramUser.display_name)
                     .where(TelegramUser.id.in_([r[0] for r in rows]))} if rows else {}
        return [
            {"user_id": user_id, "subject": users[user_id].subject, "display_name": users[user_id].display_name,
             "points": int(pts or 0), "answers": int(n or 0), "correct": int(ok or 0)}
            for user_id, pts, n, ok in rows if user_id in users
        ]

    def player(self, subject: str) -> dict[str, Any] | None:
        """A player's profile and statistics computed from their games and answers, or None."""
        with self.database.connection_context():
            user = TelegramUser.get_or_none(TelegramUser.subject == subject)
            if user is None:
                return None
            totals = cast(tuple[Any, Any, Any, Any] | None, (
                Answer.select(
                    pw.fn.COUNT(Answer.id),
                    pw.fn.SUM(pw.Case(None, [(Answer.verdict == "correct", 1)], 0)),
                    pw.fn.SUM(Answer.points),
                    pw.fn.AVG(Answer.latency_ms),
                )
                .where(Answer.user == user.id)
                .tuples()
                .first()
            )) or (0, 0, 0, None)
            owned = GameSession.select(GameSession.id).where(GameSession.owner == user.id)
            answered = Answer.select(Answer.game).where(Answer.user == user.id)
            games = (owned | answered).count()
            best_game_streak = (
                GameSession.select(pw.fn.MAX(GameSession.best_streak)).where(GameSession.owner == user.id).scalar()
            )
        answers, correct, points, latency = totals
        answers = int(answers or 0)
        correct = int(correct or 0)
        return {
            "subject": user.subject,
            "display_name": user.display_name,
            "telegram_id": user.telegram_id,
            "created_at": user.created_at.isoformat() + "Z",
            "stats": {
                "games": int(games or 0),
                "answers": answers,
                "correct": correct,
                "accuracy": round(correct / answers, 4) if answers else 0.0,
                "best_streak": max(int(best_game_streak or 0), int(user.best_streak or 0)),
                "average_response_ms": None if latency is None else round(float(latency)),
                "total_points": int(points or 0),
            },
        }

    def find_client(self, client_id: str) -> ApiClient | None:
        """An API client by id, or None."""
        with self.database.connection_context():
            return ApiClient.get_or_none(ApiClient.client_id == client_id)

    def categories(self) -> list[dict[str, Any]]:
        """Each category with its question count per difficulty."""
        with self.database.connection_context():
            rows = (
                Question.select(Question.category, Question.difficulty, pw.fn.COUNT(Question.id).alias("n"))
                .group_by(Question.category, Question.difficulty)
                .order_by(Question.category)
                .dicts()
            )
            out: dict[str, dict[str, Any]] = {}
            for raw in rows:
                row: dict[str, Any] = raw  # type: ignore[assignment]  # peewee types .dicts() rows as models
                entry = out.setdefault(row["category"], {"slug": row["category"], "questions": 0, "difficulties": {}})
                entry["questions"] += row["n"]
                entry["difficulties"][row["difficulty"]] = row["n"]
            return list(out.values())

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.database.connection_context():
                self.database.execute_sql("SELECT 1")
            return True
        except pw.PeeweeException:
            return False
