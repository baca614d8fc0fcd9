"""The worker's database work: choosing questions, creating games, recording answers idempotently.

Plain code over the Peewee models; the persistence actor is the only caller of the writing methods, the
question master and evaluators call the read-only ones. Every command yields the result events to publish;
a command seen before (same game id, same idempotency key) yields the same events again, so a redelivered
event changes nothing and its result is simply published once more.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import peewee as pw

from schema.events import (
    AnswerEvaluated,
    AnswerSubmit,
    Envelope,
    GameCreate,
    GameCreated,
    GameFinish,
    GameFinished,
    GameSummary,
    HintCreated,
    HintRequest,
    Payload,
    QuestionTimeout,
    QuestionView,
    RequestFailed,
    ScoreLine,
    from_dict,
    parse_rfc3339,
    result_event_id,
    to_dict,
)
from schema.models import (
    Answer,
    ExportOutbox,
    GameQuestion,
    GameSession,
    Question,
    RequestStatus,
    TelegramUser,
    utcnow,
)
from trivia_actors.rules import (
    EXPORT_TARGETS,
    SETTLED,
    AnswerMode,
    Evaluation,
    GameMode,
    GameStatus,
    QuestionRecord,
    QuestionType,
    RequestState,
    ScoringRules,
    StoredGame,
    Verdict,
    hints_used,
    mask_answer,
    next_hint_level,
    refusal_for,
    score_answer,
    with_hint,
)

logger = logging.getLogger(__name__)

# Network and queueing between the question being shown and the answer arriving are not the player's fault.
LATE_GRACE_S = 2.0


def result_event(command: Envelope, payload: Payload) -> Envelope:
    """A result for ``command``; its event id is derived, so a replayed command yields the same event."""
    event_id = result_event_id(command.request_id, payload.TYPE)
    return Envelope(
        event_id=event_id,
        request_id=command.request_id,
        game_id=command.game_id,
        chat_id=command.chat_id,
        user_id=command.user_id,
        payload=payload,
    )


def _failed(command: Envelope, code: str, message: str, question_no: int | None = None) -> Envelope:
    return result_event(command, RequestFailed(code=code, message=message, question_no=question_no))


def _summary(game: GameSession) -> GameSummary:
    return GameSummary(
        status=game.status,
        score=game.score,
        correct_count=game.correct_count,
        question_count=game.question_count,
        best_streak=game.best_streak,
        scoreboard=Standings.of(game).lines(),
    )


class Standings:
    """Per-player scores and streaks of a group game, kept in the game's settings document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.players: dict[str, dict[str, Any]] = {k: dict(v) for k, v in document.get("players", {}).items()}

    @classmethod
    def of(cls, game: GameSession) -> Standings:
        """The standings stored on ``game``."""
        return cls(game.settings or {})

    def streak(self, subject: str) -> int:
        """The player's current streak."""
        return int(self.players.get(subject, {}).get("streak", 0))

    def score(self, subject: str) -> int:
        """The player's score so far."""
        return int(self.players.get(subject, {}).get("score", 0))

    def record(self, subject: str, name: str, points: int, streak: int) -> None:
        """Add one answer's outcome."""
        entry = self.players.setdefault(subject, {"name": name, "score": 0, "streak": 0})
        entry["name"] = name or entry["name"]
        entry["score"] = int(entry["score"]) + points
        entry["streak"] = streak

    def store(self, game: GameSession) -> None:
        """Write the standings back into the game's settings."""
        game.settings = {**(game.settings or {}), "players": self.players}

    def lines(self) -> tuple[ScoreLine, ...]:
        """The scoreboard, best first (ties by name)."""
        ranked = sorted(self.players.items(), key=lambda item: (-int(item[1]["score"]), str(item[1]["name"])))
        return tuple(ScoreLine(subject=s, name=str(e["name"]), score=int(e["score"])) for s, e in ranked)


def _telegram_id(subject: str) -> int | None:
    prefix, _, rest = subject.partition(":")
    return int(rest) if prefix == "tg" and rest.isascii() and rest.isdigit() else None


def _naive_utc(value: str) -> dt.datetime:
    return parse_rfc3339(value).astimezone(dt.UTC).replace(tzinfo=None)


class GameStore:
    """Reads and writes of the worker, each write one transaction."""

    def __init__(self, database: pw.Database, *, scoring: ScoringRules | None = None) -> None:
        self.database = database
        self.scoring = scoring or ScoringRules()
        self._rng = random.SystemRandom()

    # --- reads ------------------------------------------------------------------------------------

    def select_questions(
        self, subject: str, category: str | None, difficulty: str | None, count: int, *, true_false: bool = False
    ) -> list[int]:
        """Question ids for a new game: none the player has seen, until the category runs out."""
        base = Question.select(Question.id)
        if true_false:
            base = base.where(Question.tf_true.is_null(False), Question.tf_false.is_null(False))
        if category:
            base = base.where(Question.category == category)
        if difficulty:
            base = base.where(Question.difficulty == difficulty)
        seen = (
            GameQuestion.select(GameQuestion.question)
            .join(GameSession)
            .join(TelegramUser)
            .where(TelegramUser.subject == subject)
        )
        fresh = [row.id for row in base.where(Question.id.not_in(seen)).order_by(pw.fn.Random()).limit(count)]
        if len(fresh) < count:
            # The pool is exhausted for this player: repeat the questions seen longest ago.
            last_seen = (
                Question.select(Question.id, pw.fn.MAX(GameQuestion.id).alias("last"))
                .join(GameQuestion)
                .join(GameSession)
                .join(TelegramUser)
                .where(TelegramUser.subject == subject, Question.id.in_(base))
                .group_by(Question.id)
                .order_by(pw.SQL("last"))
                .limit(count - len(fresh))
            )
            fresh.extend(row.id for row in last_seen if row.id not in fresh)
        return fresh

    def question_for(self, game_id: str, position: int) -> QuestionRecord | None:
        """The question at ``position`` of a game, or None when there is none."""
        return self.questions_of(game_id, position).get(position)

    def questions_of(self, game_id: str, position: int | None = None) -> dict[int, QuestionRecord]:
        """The questions of a game by position (only the one at ``position`` when given), in one query."""
        query = GameQuestion.select(GameQuestion, Question).join(Question).where(GameQuestion.game == game_id)
        if position is not None:
            query = query.where(GameQuestion.position == position)
        records = {}
        for row in query:
            q = row.question
            records[row.position] = QuestionRecord(
                question_id=q.id,
                position=row.position,
                text=row.prompt or q.text,
                answer=row.answer or q.answer,
                aliases=() if row.answer else tuple(q.aliases or ()),
                options=tuple(row.options),
                explanation=q.explanation,
                category=q.category,
                difficulty=q.difficulty,
                numeric_tolerance=q.numeric_tolerance,
            )
        return records

    # --- writes -----------------------------------------------------------------------------------

    def _user(self, subject: str, name: str, telegram_id: int | None) -> TelegramUser:
        user = TelegramUser.get_or_none(TelegramUser.subject == subject)
        if user is None:
            TelegramUser.insert(
                subject=subject, display_name=name[:200], telegram_id=telegram_id
            ).on_conflict_ignore().execute()
            user = TelegramUser.get(TelegramUser.subject == subject)
        elif name and user.display_name != name[:200]:
            user.display_name = name[:200]
            user.save(only=[TelegramUser.display_name])
        return user

    def _once(self, command: Envelope, apply: Callable[[], list[Envelope]]) -> list[Envelope]:
        """Apply ``command`` in a savepoint unless its request was settled before; then replay that outcome.

        The common case reads nothing first: the request is settled by a conditional write at the end, and
        only when that finds it settled already (a redelivery) is the work rolled back and the stored
        outcome returned instead.
        """
        with self.database.atomic() as step:
            results = apply()
            if self._settle_request(command, results):
                return results
            step.rollback()
        replayed = self._replay(command)
        if replayed is None:
            raise RuntimeError(f"request {command.request_id} is settled but its outcome cannot be read")
        return replayed

    def _settle_request(self, command: Envelope, results: Sequence[Envelope]) -> bool:
        """Record the request's outcome (the first result) unless it was recorded before; False if it was."""
        first = results[0]
        failed = isinstance(first.payload, RequestFailed)
        result = None if failed else to_dict(first)
        error = {"code": first.payload.code, "message": first.payload.message} \
            if isinstance(first.payload, RequestFailed) else None
        status = RequestState.FAILED if failed else RequestState.DONE
        updated = RequestStatus.update({
            RequestStatus.status: status, RequestStatus.result: result, RequestStatus.error: error,
            RequestStatus.updated_at: utcnow(), RequestStatus.game_id: command.game_id,
        }).where(RequestStatus.id == command.request_id, RequestStatus.status.not_in(SETTLED)).execute()
        if updated:
            return True
        # No pending row: a command no API request stands for (a timer's timeout), or one settled before.
        inserted: int = RequestStatus.insert(
            id=command.request_id, client_id=getattr(command.payload, "client_id", "unknown"),
            subject=command.user_id, kind=command.type, game_id=command.game_id, status=status, result=result,
            error=error,
        ).on_conflict_ignore().as_rowcount().execute()
        return bool(inserted)

    def _replay(self, command: Envelope) -> list[Envelope] | None:
        """The results already produced for this request, if it was processed before."""
        status = RequestStatus.get_or_none(RequestStatus.id == command.request_id)
        if status is None or status.status not in SETTLED:
            return None
        if status.result is not None:
            replayed = [from_dict(status.result)]
            summary = getattr(replayed[0].payload, "summary", None)
            if summary is not None:
                replayed.append(result_event(command, GameFinished(summary=summary)))
            return replayed
        error = status.error or {}
        return [_failed(command, str(error.get("code", "failed")), str(error.get("message", "")))]

    def create_game(self, command: Envelope, question_ids: Sequence[int]) -> list[Envelope]:
        """Create the game with the chosen questions (or return the existing one's ``game.created``)."""
        create = command.payload
        assert isinstance(create, GameCreate)

        def apply() -> list[Envelope]:
            existing = GameSession.get_or_none(GameSession.id == command.game_id)
            if existing is not None:
                results = [self._created_event(command, existing)]
            elif not question_ids:
                results = [_failed(command, "no_questions", "no questions match this category and difficulty")]
            else:
                results = [self._insert_game(command, create, question_ids)]
            return results

        return self._once(command, apply)

    def _insert_game(self, command: Envelope, create: GameCreate, question_ids: Sequence[int]) -> Envelope:
        user = self._user(create.subject, create.player_name, create.telegram_id)
        now = utcnow()
        game = GameSession.create(
            id=command.game_id,
            client_id=create.client_id,
            owner=user,
            mode=create.mode,
            chat_id=command.chat_id,
            category=create.category,
            difficulty=create.difficulty,
            question_count=len(question_ids),
            time_limit_s=create.time_limit_s,
            settings={"answer_mode": create.answer_mode, "streak_enabled": create.streak_enabled,
                      "speed_points": create.speed_points, "difficulty_weighted": create.difficulty_weighted,
                      "hint_penalty_pct": create.hint_penalty_pct,
                      "question_type": create.question_type},
            created_at=now,
            updated_at=now,
        )
        questions = {q.id: q for q in Question.select().where(Question.id.in_(list(question_ids)))}
        rows = []
        for position, question_id in enumerate(question_ids):
            question = questions[question_id]
            prompt = answer = None
            if create.question_type == QuestionType.TRUEFALSE and question.tf_true and question.tf_false:
                truth = self._rng.random() < 0.5
                prompt = question.tf_true if truth else question.tf_false
                answer = "True" if truth else "False"
                options = ["True", "False"]
            else:
                options = list(question.options)
                self._rng.shuffle(options)
            rows.append(
                {
                    "prompt": prompt,
                    "answer": answer,
                    "game": game.id,
                    "question": question_id,
                    "position": position,
                    "options": options,
                    "asked_at": now if position == 0 else None,
                }
            )
        GameQuestion.insert_many(rows).execute()
        return self._created_event(command, game)

    def _created_event(self, command: Envelope, game: GameSession) -> Envelope:
        rows = (
            GameQuestion.select(GameQuestion, Question)
            .join(Question)
            .where(GameQuestion.game == game.id)
            .order_by(GameQuestion.position)
        )
        polls = (game.settings or {}).get("question_type") == QuestionType.POLL
        views = tuple(
            QuestionView(
                no=row.position,
                text=row.prompt or row.question.text,
                options=tuple(row.options),
                category=row.question.category,
                difficulty=row.question.difficulty,
                correct_option=_index(row.options, row.answer or row.question.answer) if polls else None,
            )
            for row in rows
        )
        return result_event(
            command,
            GameCreated(question_count=game.question_count, time_limit_s=game.time_limit_s, questions=views),
        )

    def _locked_game(self, game_id: str) -> GameSession | None:
        """The game with its owner's subject (one query), its row locked for the transaction on PostgreSQL."""
        query = (GameSession.select(GameSession, TelegramUser.id, TelegramUser.subject)
                 .join(TelegramUser).where(GameSession.id == game_id))
        if isinstance(self.database, pw.PostgresqlDatabase):
            query = query.for_update(of=GameSession)
        game: GameSession | None = query.first()
        return game

    @staticmethod
    def _asked(game: GameSession, position: int) -> GameQuestion:
        """The game's question at ``position`` with its bank question (one query)."""
        row: GameQuestion = (GameQuestion.select(GameQuestion, Question).join(Question)
                             .where(GameQuestion.game == game.id, GameQuestion.position == position).get())
        return row

    def record_answer(self, command: Envelope, evaluation: Evaluation | None) -> list[Envelope]:
        """Score and store one answer in one transaction; a repeated idempotency key changes nothing."""
        submit = command.payload
        assert isinstance(submit, AnswerSubmit)
        return self._once(command, lambda: self._record_answer(command, submit, evaluation))

    def _rules(self, game: GameSession) -> ScoringRules:
        """The scoring rules chosen for this game (per chat or per API request), over the defaults."""
        chosen = game.settings or {}
        rules = attrs.evolve(
            self.scoring,
            streak_enabled=bool(chosen.get("streak_enabled", True)),
            difficulty_weighted=bool(chosen.get("difficulty_weighted", True)),
            hint_penalty=int(chosen.get("hint_penalty_pct", 25)) / 100,
        )
        if not chosen.get("speed_points", True):
            rules = attrs.evolve(rules, min_fraction=1.0)  # no speed decay: full marks until the deadline
        return rules

    def _check_turn(self, command: Envelope, game: GameSession | None, client_id: str, subject: str,
                    question_no: int) -> Envelope | None:
        stored = None if game is None else StoredGame(
            client_id=game.client_id, mode=game.mode, owner=game.owner.subject, status=game.status,
            current_no=game.current_no)
        refusal = refusal_for(stored, client_id=client_id, subject=subject, question_no=question_no)
        return None if refusal is None else _failed(command, refusal.code, refusal.message, question_no)

    def _record_answer(self, command: Envelope, submit: AnswerSubmit, evaluation: Evaluation | None) -> list[Envelope]:
        game = self._locked_game(command.game_id)
        refused = self._check_turn(command, game, submit.client_id, submit.subject, submit.question_no)
        if refused is not None:
            return [refused]
        assert game is not None
        key = f"{submit.client_id}:{submit.idempotency_key}"
        if evaluation is None:
            return [_failed(command, "question_not_found", "the question is missing", submit.question_no)]
        if evaluation.verdict == "invalid":
            return [_failed(command, "invalid_option", evaluation.reason, submit.question_no)]
        group = game.mode == GameMode.GROUP
        standings = Standings.of(game)
        if group:
            user = self._user(submit.subject, submit.player_name, _telegram_id(submit.subject))
            user_id = int(user.id)
            name = user.display_name or submit.player_name
            answered = Answer.select().where(Answer.game == game.id, Answer.position == submit.question_no,
                                             Answer.user == user_id).exists()
            if answered:
                return [_failed(command, "already_answered", "you already answered this question", submit.question_no)]
        else:
            user_id, name = _owner_id(game), submit.player_name
        gq = self._asked(game, submit.question_no)
        question = gq.question
        answered_at = _naive_utc(command.occurred_at)
        latency_s = max((answered_at - (gq.asked_at or answered_at)).total_seconds(), 0.0)
        if evaluation.verdict == Verdict.CLOSE:
            # A near miss: the player may try again, the question stays open, nothing is scored.
            return [self._evaluated(command, game, question, gq, evaluation, 0, latency_s, close=True)]
        correct = evaluation.verdict == Verdict.CORRECT and latency_s <= game.time_limit_s + LATE_GRACE_S
        scored = score_answer(
            correct=correct,
            latency_s=min(latency_s, game.time_limit_s),
            time_limit_s=game.time_limit_s,
            difficulty=question.difficulty,
            streak_before=standings.streak(submit.subject) if group else game.streak,
            hints_used=hints_used(game.settings, submit.question_no),
            rules=self._rules(game),
        )
        verdict = evaluation.verdict if latency_s <= game.time_limit_s + LATE_GRACE_S else "late"
        stored = Answer.insert(
            game=game.id,
            question=question.id,
            position=submit.question_no,
            user=user_id,
            raw_answer=evaluation.given[:4000],
            verdict=verdict,
            points=scored.points,
            latency_ms=round(latency_s * 1000),
            judged_by=evaluation.judged_by,
            idempotency_key=key,
            request_id=command.request_id,
        ).on_conflict_ignore().as_rowcount().execute()
        if not stored:  # the unique key: this answer was recorded by an earlier request
            return [_failed(command, "duplicate", "this answer was already recorded", submit.question_no)]
        game.score += scored.points
        game.streak = scored.streak
        game.best_streak = max(game.best_streak, scored.streak)
        game.correct_count += 1 if scored.points > 0 else 0
        if group:
            standings.record(submit.subject, name, scored.points, scored.streak)
            standings.store(game)
        TelegramUser.update(
            answers_count=TelegramUser.answers_count + 1,
            correct_count=TelegramUser.correct_count + (1 if scored.points > 0 else 0),
            total_points=TelegramUser.total_points + scored.points,
            total_latency_ms=TelegramUser.total_latency_ms + round(latency_s * 1000),
            best_streak=pw.fn.MAX(TelegramUser.best_streak, scored.streak)
            if isinstance(self.database, pw.SqliteDatabase)
            else pw.fn.GREATEST(TelegramUser.best_streak, scored.streak),
        ).where(TelegramUser.id == user_id).execute()
        player = (submit.subject, name)
        first_wins = (game.settings or {}).get("answer_mode", AnswerMode.FIRST) == AnswerMode.FIRST
        if group and not (scored.points > 0 and first_wins):
            # The question stays open for the other players (until a correct answer or the timer).
            game.updated_at = utcnow()
            game.save()
            return [result_event(command, AnswerEvaluated(
                question_no=gq.position, verdict=verdict, correct_answer="", correct_option=None,
                given=evaluation.given, points=scored.points, score=standings.score(submit.subject),
                streak=scored.streak, latency_ms=round(latency_s * 1000), explanation="",
                judged_by=evaluation.judged_by, reason=evaluation.reason, next_question_no=gq.position,
                player=player[0],
                player_name=player[1], closed=False, scoreboard=standings.lines()))]
        return self._advance(command, game, question, gq, evaluation, verdict, scored.points, latency_s, player)

    def _advance(self, command: Envelope, game: GameSession, question: Question, gq: GameQuestion,
                 evaluation: Evaluation | None, verdict: str, points: int, latency_s: float | None,
                 player: tuple[str, str] | None = None) -> list[Envelope]:
        """Close the current question, open the next or finish the game; the events to publish."""
        now = utcnow()
        game.current_no += 1
        game.updated_at = now
        finished = game.current_no >= game.question_count
        if finished:
            GameQuestion.update(closed_at=now).where(GameQuestion.id == gq.id).execute()
            self._close_game(game, GameStatus.FINISHED, now)
        else:  # close this question and open the next in one statement
            GameQuestion.update(
                closed_at=pw.Case(None, [(GameQuestion.position == gq.position, now)], GameQuestion.closed_at),
                asked_at=pw.Case(None, [(GameQuestion.position == game.current_no, now)], GameQuestion.asked_at),
            ).where(GameQuestion.game == game.id, GameQuestion.position.in_([gq.position, game.current_no])).execute()
        game.save()
        assert evaluation is not None or verdict == "timeout"
        payload = AnswerEvaluated(
            question_no=gq.position,
            verdict=verdict,
            correct_answer=gq.answer or question.answer,
            correct_option=_index(gq.options, gq.answer or question.answer),
            given=evaluation.given if evaluation else "",
            points=points,
            score=game.score,
            streak=game.streak,
            latency_ms=None if latency_s is None else round(latency_s * 1000),
            explanation=question.explanation,
            judged_by=evaluation.judged_by if evaluation else "timer",
            reason=evaluation.reason if evaluation else "time ran out",
            next_question_no=None if finished else game.current_no,
            summary=_summary(game) if finished else None,
            player=player[0] if player else None,
            player_name=player[1] if player else "",
            scoreboard=Standings.of(game).lines(),
        )
        results = [result_event(command, payload)]
        if finished:
            results.append(result_event(command, GameFinished(summary=_summary(game))))
        return results

    def _evaluated(self, command: Envelope, game: GameSession, question: Question, gq: GameQuestion,
                   evaluation: Evaluation, points: int, latency_s: float, *, close: bool) -> Envelope:
        return result_event(
            command,
            AnswerEvaluated(
                question_no=gq.position,
                verdict=evaluation.verdict,
                correct_answer="" if close else (gq.answer or question.answer),
                correct_option=None,
                given=evaluation.given,
                points=points,
                score=game.score,
                streak=game.streak,
                latency_ms=round(latency_s * 1000),
                explanation="",
                judged_by=evaluation.judged_by,
                reason=evaluation.reason,
                next_question_no=gq.position,
            ),
        )

    def _close_game(self, game: GameSession, status: str, now: dt.datetime) -> None:
        game.status = status
        game.finished_at = now
        TelegramUser.update(games_played=TelegramUser.games_played + 1).where(
            TelegramUser.id == _owner_id(game)
        ).execute()
        ExportOutbox.insert_many(
            [{"game": game.id, "target": target, "next_attempt_at": now} for target in EXPORT_TARGETS]
        ).on_conflict_ignore().execute()

    def record_timeout(self, command: Envelope) -> list[Envelope]:
        """The open question's time ran out: reveal it, reset the streak, move on."""
        timeout = command.payload
        assert isinstance(timeout, QuestionTimeout)

        def apply() -> list[Envelope]:
            game = self._locked_game(command.game_id)
            refused = self._check_turn(command, game, timeout.client_id, timeout.subject, timeout.question_no)
            if refused is not None:
                results = [refused]
            else:
                assert game is not None
                gq = self._asked(game, timeout.question_no)
                question = gq.question
                game.streak = 0
                results = self._advance(command, game, question, gq, None, "timeout", 0, None)
            return results

        return self._once(command, apply)

    def request_hint(self, command: Envelope) -> list[Envelope]:
        """Reveal more letters of the open question's answer; each hint costs part of its points."""
        request = command.payload
        assert isinstance(request, HintRequest)

        def apply() -> list[Envelope]:
            game = self._locked_game(command.game_id)
            refused = self._check_turn(command, game, request.client_id, request.subject, request.question_no)
            if refused is not None:
                results = [refused]
            else:
                assert game is not None
                gq = GameQuestion.get(GameQuestion.game == game.id, GameQuestion.position == request.question_no)
                answer = Question.get_by_id(_question_id(gq)).answer
                used = next_hint_level(hints_used(game.settings, request.question_no))
                game.settings = with_hint(game.settings, request.question_no, used)
                game.updated_at = utcnow()
                game.save()
                hint = HintCreated(question_no=request.question_no, hint=mask_answer(answer, used), hints_used=used)
                results = [result_event(command, hint)]
            return results

        return self._once(command, apply)

    def finish_game(self, command: Envelope) -> list[Envelope]:
        """End a game early at the owner's request."""
        finish = command.payload
        assert isinstance(finish, GameFinish)

        def apply() -> list[Envelope]:
            game = self._locked_game(command.game_id)
            if game is None:
                results = [_failed(command, "game_not_found", "no such game")]
            elif game.client_id != finish.client_id or game.owner.subject != finish.subject:
                results = [_failed(command, "forbidden", "this game belongs to another player")]
            elif game.status != GameStatus.ACTIVE:
                results = [result_event(command, GameFinished(summary=_summary(game)))]
            else:
                now = utcnow()
                self._close_game(game, GameStatus.STOPPED, now)
                game.updated_at = now
                game.save()
                results = [result_event(command, GameFinished(summary=_summary(game)))]
            return results

        return self._once(command, apply)


def _owner_id(game: GameSession) -> int:
    """The owner's key without loading the owner row."""
    return int(game.__data__["owner"])


def _question_id(row: GameQuestion) -> int:
    """The question's key without loading the question row."""
    return int(row.__data__["question"])


def _index(options: Sequence[str], answer: str) -> int | None:
    try:
        return list(options).index(answer)
    except ValueError:
        return None
