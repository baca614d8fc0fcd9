"""Evaluator actors: judge answers against their question, then hand them to persistence.

A typed answer that the local judge calls "close" may go to DeepSeek (when a pool is configured), which can
only upgrade it to correct. While DeepSeek thinks, later answers of the same game wait in this actor, so a
game's answers still reach persistence in the order they were submitted. The local verdict is always ready:
DeepSeek's refusal, failure or silence past the deadline hands it on at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

import attrs
import peewee as pw
import pykka

from schema.events import AnswerSubmit
from trivia_actors.deepseek import AnswerJudged, DeepSeekPool
from trivia_actors.rules import Evaluation, QuestionRecord, Verdict, evaluate
from trivia_actors.runtime import TRANSIENT_DB_ERRORS
from trivia_actors.worker.messages import EvaluateAnswer, RecordAnswer
from trivia_actors.worker.persistence import PersistenceRef, UpstreamActor

logger = logging.getLogger(__name__)

CACHE_SIZE = 20_000
# The evaluator's own limit on the wait, a little past the pool's deadline: the pool normally answers first,
# and this still frees the game if a DeepSeek actor is stuck or gone.
JUDGE_GRACE_S = 1.0


@attrs.frozen(kw_only=True)
class _JudgeOverdue:
    game_id: str
    token: str


@attrs.define
class _Waiting:
    """The answer of a game that is out with DeepSeek."""

    token: str
    message: EvaluateAnswer
    local: Evaluation
    timer: threading.Timer


def upgraded(local: Evaluation, judged: AnswerJudged) -> Evaluation:
    """The evaluation after DeepSeek's verdict: only a "close" answer judged "correct" changes (judged_by
    deepseek); an "incorrect" verdict or a failure leaves the local verdict standing."""
    if judged.verdict == Verdict.CORRECT.value and local.verdict == Verdict.CLOSE.value:
        return Evaluation(verdict=Verdict.CORRECT.value, given=local.given, judged_by="deepseek",
                          reason=judged.reason or "accepted by deepseek")
    return local


class EvaluatorActor(UpstreamActor):
    """One of a pool; a game always goes to the same evaluator, which keeps its answers in order."""

    def __init__(self, database: pw.Database, persistence: PersistenceRef,
                 deepseek: DeepSeekPool | None = None) -> None:
        super().__init__(database, persistence, deepseek)
        # Questions of a game never change once chosen, so they can be cached by (game, position).
        self._cache: OrderedDict[tuple[str, int], QuestionRecord] = OrderedDict()
        self._waiting: dict[str, _Waiting] = {}
        self._held: dict[str, deque[EvaluateAnswer]] = {}

    def _question(self, game_id: str, position: int) -> QuestionRecord | None:
        key = (game_id, position)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        # One read brings every question of the game: its next answers find theirs here.
        for no, record in self.store.questions_of(game_id).items():
            self._cache[(game_id, no)] = record
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return self._cache.get(key)

    def on_receive(self, message: Any) -> None:
        if isinstance(message, EvaluateAnswer):
            game_id = message.command.game_id
            if game_id in self._waiting:
                self._held.setdefault(game_id, deque()).append(message)
            else:
                self._evaluate(message)
        elif isinstance(message, AnswerJudged):
            waiting = self._waiting.get(message.game_id)
            if waiting is None or waiting.token != message.token:
                return  # the deadline passed first and the local verdict was recorded
            self._settle(message.game_id, upgraded(waiting.local, message))
        elif isinstance(message, _JudgeOverdue):
            waiting = self._waiting.get(message.game_id)
            if waiting is not None and waiting.token == message.token:
                logger.warning("game %s request %s: no verdict from DeepSeek in time; the local verdict stands",
                               message.game_id, waiting.message.command.request_id)
                self._settle(message.game_id, waiting.local)
        else:
            logger.warning("evaluator: unexpected message %s", type(message).__name__)

    def pending_timers(self) -> Iterable[threading.Timer]:
        return [waiting.timer for waiting in self._waiting.values()]

    def _evaluate(self, message: EvaluateAnswer) -> None:
        submit = message.command.payload
        assert isinstance(submit, AnswerSubmit)
        try:
            self.ensure_connection()
            question = self._question(message.command.game_id, submit.question_no)
        except TRANSIENT_DB_ERRORS as exc:
            self.drop_connection()
            message.completion.fail(f"database unavailable: {type(exc).__name__}", retryable=True)
            return
        command = message.command
        evaluation = None if question is None else evaluate(
            question, submit, context=f"game {command.game_id} request {command.request_id}")
        if question is not None and evaluation is not None and self._worth_asking(submit, evaluation):
            judged = self._ask_deepseek(message, question, evaluation)
            if judged is None:
                return  # the verdict comes back as a message; the game's later answers wait for it
            evaluation = upgraded(evaluation, judged)
        self._record(message, evaluation)

    def _worth_asking(self, submit: AnswerSubmit, evaluation: Evaluation) -> bool:
        # Only typed answers the local judge found close: an option pick is exact, and an answer with no
        # likeness to the accepted ones (however it is phrased) never reaches the model.
        return self.deepseek is not None and submit.option is None and evaluation.verdict == Verdict.CLOSE.value

    def _ask_deepseek(self, message: EvaluateAnswer, question: QuestionRecord,
                      evaluation: Evaluation) -> AnswerJudged | None:
        assert self.deepseek is not None
        command = message.command
        token = uuid.uuid4().hex
        judged = self.deepseek.judge(
            token=token, game_id=command.game_id, request_id=command.request_id, question_id=question.question_id,
            question=question.text, answer=question.answer, aliases=question.aliases, given=evaluation.given,
            reply_to=self.actor_ref,
        )
        if judged is not None:
            if judged.failure is not None:
                logger.info("game %s request %s: DeepSeek not asked (%s); the local verdict stands",
                            command.game_id, command.request_id, judged.failure)
            return judged
        timer = threading.Timer(self.deepseek.tuning.judge_deadline_s + JUDGE_GRACE_S, self._overdue,
                                args=(_JudgeOverdue(game_id=command.game_id, token=token),))
        timer.daemon = True
        self._waiting[command.game_id] = _Waiting(token=token, message=message, local=evaluation, timer=timer)
        timer.start()
        return None

    def _overdue(self, message: _JudgeOverdue) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            logger.debug("evaluator stopped before the DeepSeek deadline of game %s", message.game_id)

    def _settle(self, game_id: str, evaluation: Evaluation) -> None:
        """Record the answer that was out with DeepSeek, then the game's answers that waited behind it."""
        waiting = self._waiting.pop(game_id)
        waiting.timer.cancel()
        self._record(waiting.message, evaluation)
        held = self._held.pop(game_id, None)
        while held:
            self._evaluate(held.popleft())
            if game_id in self._waiting:
                if held:
                    self._held[game_id] = held
                return

    def _record(self, message: EvaluateAnswer, evaluation: Evaluation | None) -> None:
        self.persistence.tell(
            RecordAnswer(command=message.command, evaluation=evaluation, completion=message.completion)
        )
