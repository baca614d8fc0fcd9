"""The worker's engine: question master, evaluators, persistence, game store and results publisher."""

from trivia_actors.worker.game_store import GameStore
from trivia_actors.worker.runtime import WorkerRuntime

__all__ = ["GameStore", "WorkerRuntime"]
