"""DeepSeek in the worker: a pool of actors that judge borderline typed answers and generate questions.

Nothing ever waits on DeepSeek. Every caller holds a local answer (the local judge's verdict, questions from
the bank) and takes it when DeepSeek is slow, failing, over quota or busy. :class:`DeepSeekActor` runs one job
at a time with its own HTTP client; :class:`DeepSeekPool` is the front door: it admits a job (cache, breaker,
bounded queue, quota) synchronously, so a refusal costs the caller nothing and it can fall back at once;
admitted jobs are answered by a message to ``reply_to``. The parts it runs on are modules of their own:
``ports`` (the chat client), ``resilience`` (breaker, retries, quota), ``judging`` (prompt, verdict, cache),
``generation`` (prompt, validation, storage) and ``messages``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pykka

from trivia_actors.deepseek.generation import GenerationError, generation_prompt, parse_generated
from trivia_actors.deepseek.judging import BadReply, JudgeCache, judge_request, parse_verdict
from trivia_actors.deepseek.messages import AnswerJudged, GenerateQuestions, JudgeAnswer, QuestionsGenerated
from trivia_actors.deepseek.metrics import CACHE_HITS, FAILURES, GENERATED, PENDING, REJECTED
from trivia_actors.deepseek.ports import ChatClient, ChatError, ChatReply, ChatRequest
from trivia_actors.deepseek.resilience import CircuitBreaker, DailyQuota, RetryPolicy, call_with_retries, utc_today

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class DeepSeekTuning:
    """Knobs that are not environment settings (tests shorten them)."""

    judge_deadline_s: float = 6.0  # a player waits at most this long for DeepSeek's verdict
    generation_deadline_s: float = 8.0  # the question master serves the bank after this long
    generation_budget_s: float = 60.0  # a slower generation still finishes in the background and is kept
    max_generation_rounds: int = 3  # calls per topic game, to replace invalid or duplicate items
    max_pending: int = 64  # admitted jobs (queued plus running) before new ones are refused
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    cache_size: int = 10_000


class _Shared:
    """What every actor of a pool shares: the breaker, the cache, the retry policy and the slot counts."""

    def __init__(self, *, timeout_s: float, tuning: DeepSeekTuning, clock: Callable[[], float],
                 sleep: Callable[[float], None], slots: int) -> None:
        self.timeout_s = timeout_s
        self.tuning = tuning
        self.clock = clock
        self.sleep = sleep
        self.breaker = CircuitBreaker(threshold=tuning.breaker_threshold, cooldown_s=tuning.breaker_cooldown_s,
                                      clock=clock)
        self.cache = JudgeCache(tuning.cache_size)
        self._lock = threading.Lock()
        self._pending = [0] * slots

    def admit(self) -> int | None:
        """The slot (actor index) with the fewest jobs, or None when the pool holds ``max_pending`` jobs."""
        with self._lock:
            if sum(self._pending) >= self.tuning.max_pending:
                return None
            slot = min(range(len(self._pending)), key=self._pending.__getitem__)
            self._pending[slot] += 1
            PENDING.inc()
            return slot

    def release(self, slot: int) -> None:
        """A job of ``slot`` finished."""
        with self._lock:
            self._pending[slot] -= 1
            PENDING.dec()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(self._pending)


class DeepSeekActor(pykka.ThreadingActor):
    """Runs DeepSeek jobs one at a time with its own HTTP client; always replies, success or not."""

    def __init__(self, client_factory: Callable[[], ChatClient], shared: _Shared) -> None:
        super().__init__()
        self._client_factory = client_factory
        self._shared = shared
        self._client: ChatClient | None = None

    def on_start(self) -> None:
        self._client = self._client_factory()

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error("DeepSeekActor failed: %s", exception_type.__name__ if exception_type else exception_value)
        self._close()

    def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close()
            except Exception as exc:  # noqa: BLE001 - closing must not stop the shutdown of the others
                logger.warning("deepseek: closing the client failed: %s", type(exc).__name__)

    def on_receive(self, message: Any) -> None:
        if isinstance(message, JudgeAnswer):
            try:
                reply: AnswerJudged | QuestionsGenerated = self._judge(message)
            finally:
                self._shared.release(message.slot)
        elif isinstance(message, GenerateQuestions):
            try:
                reply = self._generate(message)
            finally:
                self._shared.release(message.slot)
        else:
            logger.warning("deepseek: unexpected message %s", type(message).__name__)
            return
        try:
            message.reply_to.tell(reply)
        except pykka.ActorDeadError:
            logger.info("deepseek: game %s: the requester stopped before the reply", message.game_id)

    def _call(self, request: ChatRequest, deadline: float) -> ChatReply:
        assert self._client is not None
        shared = self._shared
        return call_with_retries(self._client, request, breaker=shared.breaker, policy=shared.tuning.retry,
                                 deadline=deadline, timeout_s=shared.timeout_s, clock=shared.clock,
                                 sleep=shared.sleep)

    def _judge(self, job: JudgeAnswer) -> AnswerJudged:
        def failed(reason: str) -> AnswerJudged:
            FAILURES.labels("judge", reason).inc()
            logger.info("deepseek: game %s request %s: no verdict (%s); the local verdict stands",
                        job.game_id, job.request_id, reason)
            return AnswerJudged(token=job.token, game_id=job.game_id, request_id=job.request_id, verdict=None,
                                failure=reason)

        try:
            reply = self._call(judge_request(job.question, job.answer, job.aliases, job.given), job.deadline)
            verdict, reason = parse_verdict(reply.content)
        except ChatError as exc:
            return failed(exc.kind)
        except BadReply as exc:
            logger.info("deepseek: game %s: malformed verdict: %s", job.game_id, exc)
            return failed("malformed")
        self._shared.cache.put(job.question_id, job.given, verdict, reason)
        return AnswerJudged(token=job.token, game_id=job.game_id, request_id=job.request_id, verdict=verdict,
                            reason=reason)

    def _generate(self, job: GenerateQuestions) -> QuestionsGenerated:
        def failed(reason: str) -> QuestionsGenerated:
            FAILURES.labels("generate", reason).inc()
            logger.info("deepseek: game %s: generation failed (%s)", job.game_id, reason)
            return QuestionsGenerated(token=job.token, game_id=job.game_id, request_id=job.request_id,
                                      failure=reason)

        system, user = generation_prompt(job.topic, job.count, job.difficulty, job.avoid)
        request = ChatRequest(purpose="generate", messages=(("system", system), ("user", user)),
                              temperature=0.8, max_tokens=min(300 * job.count + 200, 8000))
        try:
            reply = self._call(request, job.deadline)
        except ChatError as exc:
            return failed(exc.kind)
        if reply.finish_reason == "length":
            return failed("truncated")  # cut off at max_tokens: the JSON is incomplete
        try:
            batch = parse_generated(reply.content, category=job.category, difficulty=job.difficulty)
        except GenerationError as exc:
            logger.info("deepseek: game %s: malformed generation: %s", job.game_id, exc)
            return failed("malformed")
        GENERATED.labels("invalid").inc(len(batch.rejected))
        for reason in batch.rejected[:5]:
            logger.info("deepseek: game %s: generated item dropped: %s", job.game_id, reason)
        return QuestionsGenerated(token=job.token, game_id=job.game_id, request_id=job.request_id,
                                  questions=batch.accepted, rejected=len(batch.rejected))


class DeepSeekPool:
    """``concurrency`` DeepSeek actors behind one admission check.

    ``judge`` and ``generate`` decide synchronously: a refusal (breaker open, queue full, quota spent) or a
    cached verdict is returned at once; otherwise the job is queued on the least busy actor and its result
    is told to ``reply_to`` later.
    """

    def __init__(self, client_factory: Callable[[], ChatClient], *, concurrency: int = 4, timeout_s: float = 20.0,
                 daily_quota: int = 20, tuning: DeepSeekTuning | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 today: Callable[[], dt.date] = utc_today) -> None:
        self.tuning = tuning or DeepSeekTuning()
        self.concurrency = max(1, concurrency)
        self._client_factory = client_factory
        self._shared = _Shared(timeout_s=timeout_s, tuning=self.tuning, clock=clock, sleep=sleep,
                               slots=self.concurrency)
        self.quota = DailyQuota(daily_quota, today=today)
        self._clock = clock
        self._actors: list[pykka.ActorRef[Any]] = []

    @property
    def breaker(self) -> CircuitBreaker:
        """The breaker all actors share."""
        return self._shared.breaker

    @property
    def cache(self) -> JudgeCache:
        """The verdict cache all actors share."""
        return self._shared.cache

    @property
    def pending(self) -> int:
        """Jobs admitted and not finished."""
        return self._shared.pending

    def start(self) -> list[pykka.ActorRef[Any]]:
        """Start the actors; returns their refs (the caller supervises and stops them)."""
        if not self._actors:
            self._actors = [DeepSeekActor.start(self._client_factory, self._shared)
                            for _ in range(self.concurrency)]
        return list(self._actors)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the actors (a job in progress finishes first)."""
        for ref in self._actors:
            try:
                ref.stop(timeout=timeout_s)
            except pykka.Timeout:
                logger.warning("deepseek: an actor did not stop in time")
        self._actors = []

    def _admit(self, purpose: str) -> int | str:
        """A slot, or the reason the job is refused."""
        if not self._actors:
            return "not_started"
        if self.breaker.rejects():
            REJECTED.labels(purpose, "breaker_open").inc()
            return "breaker_open"
        slot = self._shared.admit()
        if slot is None:
            REJECTED.labels(purpose, "queue_full").inc()
            logger.warning("deepseek: %d jobs pending; refusing a %s job", self.tuning.max_pending, purpose)
            return "queue_full"
        return slot

    def judge(self, *, token: str, game_id: str, request_id: str, question_id: int, question: str, answer: str,
              aliases: Sequence[str], given: str, reply_to: pykka.ActorRef[Any]) -> AnswerJudged | None:
        """A verdict now (cached, or a refusal with ``failure`` set), or None: :class:`AnswerJudged` will follow."""
        cached = self.cache.get(question_id, given)
        if cached is not None:
            CACHE_HITS.inc()
            return AnswerJudged(token=token, game_id=game_id, request_id=request_id, verdict=cached[0],
                                reason=cached[1])
        slot = self._admit("judge")
        if isinstance(slot, str):
            return AnswerJudged(token=token, game_id=game_id, request_id=request_id, verdict=None, failure=slot)
        job = JudgeAnswer(
            token=token, game_id=game_id, request_id=request_id, question_id=question_id, question=question,
            answer=answer, aliases=tuple(aliases), given=given,
            deadline=self._clock() + self.tuning.judge_deadline_s, slot=slot, reply_to=reply_to,
        )
        if not self._send(slot, job):
            return AnswerJudged(token=token, game_id=game_id, request_id=request_id, verdict=None,
                                failure="unavailable")
        return None

    def _send(self, slot: int, job: JudgeAnswer | GenerateQuestions) -> bool:
        """Queue ``job`` on its actor; False (slot released) when that actor is gone."""
        try:
            self._actors[slot].tell(job)
        except pykka.ActorDeadError:
            self._shared.release(slot)
            REJECTED.labels("judge" if isinstance(job, JudgeAnswer) else "generate", "actor_dead").inc()
            logger.error("deepseek: actor %d is dead; game %s falls back", slot, job.game_id)
            return False
        return True

    def generate(self, *, token: str, game_id: str, request_id: str, subject: str, topic: str, category: str,
                 difficulty: str | None, count: int, avoid: Sequence[str], reply_to: pykka.ActorRef[Any],
                 charge_quota: bool = True) -> str | None:
        """None when the job is queued (:class:`QuestionsGenerated` will follow), else why it was refused.

        ``charge_quota`` is False for the follow-up rounds of one game: a game costs its player one generation.
        """
        if charge_quota and not self.quota.take(subject):
            REJECTED.labels("generate", "quota").inc()
            return "quota"
        slot = self._admit("generate")
        if isinstance(slot, str):
            if charge_quota:
                self.quota.refund(subject)
            return slot
        job = GenerateQuestions(
            token=token, game_id=game_id, request_id=request_id, topic=topic, category=category,
            difficulty=difficulty, count=count, avoid=tuple(avoid),
            deadline=self._clock() + self.tuning.generation_budget_s, slot=slot, reply_to=reply_to,
        )
        if not self._send(slot, job):
            if charge_quota:
                self.quota.refund(subject)
            return "unavailable"
        return None
