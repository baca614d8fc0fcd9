"""The worker's actor system: start in dependency order, route commands, drain and stop in reverse."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from typing import Any

import peewee as pw
import pykka
from kafka import KafkaConsumer

from schema.events import COMMAND_TYPES, AnswerSubmit, Envelope, GameCreate
from trivia_actors.deepseek import ChatClient, DeepSeekPool, DeepSeekTuning
from trivia_actors.kafka import (
    Completion,
    ConsumerBridgeActor,
    CountInFlight,
    Drain,
    EventProducer,
    IsAssigned,
    make_consumer,
)
from trivia_actors.runtime import Settings
from trivia_actors.worker.evaluator import EvaluatorActor
from trivia_actors.worker.messages import ApplyCommand, EvaluateAnswer, SelectQuestions
from trivia_actors.worker.persistence import PersistenceActor, PersistenceRef, PersistenceShards
from trivia_actors.worker.publisher import ResultsPublisher
from trivia_actors.worker.question_master import QuestionMasterActor

logger = logging.getLogger(__name__)

WORKER_GROUP = "worker"
START_TIMEOUT_S = 10.0


class CommandRouter:
    """Routes each command to the actor chain that applies it; answers of one game keep their order."""

    def __init__(self, questions: pykka.ActorRef[Any], evaluators: list[pykka.ActorRef[Any]],
                 persistence: PersistenceRef) -> None:
        self.questions = questions
        self.evaluators = evaluators
        self.persistence = persistence

    def __call__(self, command: Envelope, completion: Completion) -> None:
        kind = command.type
        if kind not in COMMAND_TYPES:
            completion.fail(f"{kind} is not a command", retryable=False)
        elif kind == GameCreate.TYPE:
            self.questions.tell(SelectQuestions(command=command, completion=completion))
        elif kind == AnswerSubmit.TYPE:
            index = zlib.crc32(command.game_id.encode()) % len(self.evaluators)
            self.evaluators[index].tell(EvaluateAnswer(command=command, completion=completion))
        else:
            self.persistence.tell(ApplyCommand(command=command, completion=completion))


class WorkerRuntime:
    """Owns the worker's actors; ``stop`` drains in-flight commands before committing and stopping.

    ``deepseek_client_factory`` (from the entry point, which owns the HTTP client) makes one DeepSeek client
    per DeepSeek actor; the pool starts only when DEEPSEEK_API_KEY is set and a factory is given.
    """

    def __init__(self, settings: Settings, database: pw.Database, producer: EventProducer, *,
                 evaluators: int = 4,
                 persistence_shards: int = 4,
                 consumer_factory: Callable[[], KafkaConsumer] | None = None,
                 deepseek_client_factory: Callable[[], ChatClient] | None = None,
                 deepseek_tuning: DeepSeekTuning | None = None) -> None:
        self.settings = settings
        self.producer = producer
        self._started: list[pykka.ActorRef[Any]] = []
        self.deepseek = self._deepseek_pool(settings, deepseek_client_factory, deepseek_tuning)
        if self.deepseek is not None:
            for ref in self.deepseek.start():
                self._start(ref)
        publisher = ResultsPublisher(producer, settings.topic("results"))
        self.persistence = PersistenceShards([self._start(PersistenceActor.start(database, publisher))
                                              for _ in range(max(persistence_shards, 1))])
        self.evaluators = [self._start(EvaluatorActor.start(database, self.persistence, self.deepseek))
                           for _ in range(evaluators)]
        self.questions = self._start(QuestionMasterActor.start(database, self.persistence, self.deepseek))
        router = CommandRouter(self.questions, self.evaluators, self.persistence)
        factory = consumer_factory or (
            # The group is named after the topic prefix: deployments sharing a broker never share a group.
            lambda: make_consumer(settings, group_id=f"{settings.kafka_topic_prefix}{WORKER_GROUP}",
                                  client_id="trivia-worker")
        )
        self.bridge = self._start(
            ConsumerBridgeActor.start(
                name="worker",
                consumer_factory=factory,
                topics=(settings.topic("commands"),),
                dispatch=router,
                dlq=producer,
                dlq_topic=settings.topic("dlq"),
            )
        )

    @staticmethod
    def _deepseek_pool(settings: Settings, factory: Callable[[], ChatClient] | None,
                       tuning: DeepSeekTuning | None) -> DeepSeekPool | None:
        if not settings.deepseek_api_key:
            return None
        if factory is None:
            logger.warning("worker: DEEPSEEK_API_KEY is set but no DeepSeek client was wired; using the bank "
                           "and the local judge only")
            return None
        logger.info("worker: DeepSeek on (%s, model %s, %d actors, %.0f s timeout, quota %d per day)",
                    settings.deepseek_base_url, settings.deepseek_model, settings.deepseek_concurrency,
                    settings.deepseek_timeout_s, settings.deepseek_daily_quota)
        return DeepSeekPool(factory, concurrency=settings.deepseek_concurrency, timeout_s=settings.deepseek_timeout_s,
                            daily_quota=settings.deepseek_daily_quota, tuning=tuning)

    def _start(self, ref: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        self._started.append(ref)
        return ref

    def is_alive(self) -> bool:
        """True while every actor runs."""
        return all(ref.is_alive() for ref in self._started)

    def is_assigned(self) -> bool:
        """True once the consumer has joined its group and holds partitions."""
        try:
            return bool(self.bridge.ask(IsAssigned(), timeout=2))
        except pykka.ActorDeadError:
            return False

    def stop(self, *, drain_timeout_s: float = 15.0) -> None:
        """Stop taking commands, let in-flight ones finish and commit, then stop every actor."""
        deadline = time.monotonic() + drain_timeout_s
        try:
            remaining = self.bridge.ask(Drain(), timeout=5)
            while remaining and time.monotonic() < deadline:
                time.sleep(0.05)
                remaining = self.bridge.ask(CountInFlight(), timeout=5)
            if remaining:
                logger.warning("worker: %d commands still in flight at shutdown; they will be redelivered", remaining)
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            logger.warning("worker: drain failed: %s", type(exc).__name__)
        for ref in reversed(self._started):
            try:
                ref.stop(timeout=10)
            except pykka.Timeout:
                logger.warning("worker: actor %s did not stop in time", ref)
        survivors = [ref for ref in self._started if ref.is_alive()]
        if survivors:
            logger.warning("worker: %d actors survived shutdown", len(survivors))
        self.producer.close()
