"""One timer service per process: a heap of due times on one daemon thread, delivered in batches per target.

A ``threading.Timer`` per game costs a thread per game; here 100,000 pending timers cost a heap entry each
(``schedule`` is O(log n)) and one thread in all. A wake-up collects every entry that is due and calls each
target once with its items in due order, so a shard actor gets one message for all of its chats' timers.
Cancelling only marks the entry; the thread drops it when it reaches the top of the heap (and the heap is
rebuilt when cancelled entries outnumber live ones, so a stream of cancelled watchdogs cannot grow it).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# Longest wait between two looks at the clock: a wall-clock step (NTP) moves due times by at most this.
_MAX_WAIT_S = 1.0
# Entries popped per wake-up at most, so a burst of due timers (a restart) never holds the lock for long
# against the threads scheduling new ones; the rest is collected by the next wake-up, at once.
_MAX_BATCH = 4096
# Below this many cancelled entries the heap is never rebuilt (a rebuild is O(n)).
_COMPACT_MIN = 1024

_PENDING, _DUE, _DONE = 0, 1, 2


class TimerTarget(Protocol):
    """Receives its due items; called on the timer thread, so it must not block (tell an actor)."""

    def timers_due(self, items: list[Any]) -> None: ...


class TimerHandle:
    """One scheduled timer; :meth:`cancel` is idempotent and thread-safe, and a cancelled timer never fires."""

    __slots__ = ("_item", "_service", "_state", "_target", "due_at")

    def __init__(self, service: TimerService, due_at: float, target: TimerTarget, item: Any) -> None:
        self._service = service
        self.due_at = due_at
        self._target = target
        self._item = item
        self._state = _PENDING

    def cancel(self) -> None:
        """Stop this timer from firing (no effect once its target has been called with it)."""
        self._service._cancel(self)

    @property
    def active(self) -> bool:
        """Whether the timer is still to fire: neither delivered nor cancelled."""
        return self._state != _DONE

    def __repr__(self) -> str:
        return f"<TimerHandle due_at={self.due_at:.3f} active={self.active}>"


class _Callbacks:
    """The target of ``call_at``/``call_later``: each item is a callback, run alone so one failure spares the rest."""

    def timers_due(self, items: list[Any]) -> None:
        for callback in items:
            try:
                callback()
            except Exception:
                logger.exception("timer callback %s failed", getattr(callback, "__qualname__", type(callback)))


class TimerService:
    """A heap of timers on one daemon thread; targets get their due items in one call per wake-up."""

    def __init__(self, *, clock: Callable[[], float] = time.time, name: str = "timers") -> None:
        self._clock = clock
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._pending = 0
        self._cancelled_in_heap = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._callbacks = _Callbacks()

    def start(self) -> TimerService:
        """Start the timer thread (once); timers scheduled before this fire as soon as they are due."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError(f"timer service {self._name} already started")
            self._running = True
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (a delivery in progress finishes); pending timers never fire."""
        with self._cond:
            self._running = False
            self._cond.notify()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("timer service %s did not stop within %.1f s (a target is blocking)", self._name, timeout)

    def schedule(self, due_at: float, target: TimerTarget, item: Any) -> TimerHandle:
        """Deliver ``item`` to ``target.timers_due`` at ``due_at`` (epoch seconds of the service's clock)."""
        handle = TimerHandle(self, due_at, target, item)
        entry = (due_at, next(self._seq), handle)
        with self._cond:
            heapq.heappush(self._heap, entry)
            self._pending += 1
            # Only a new earliest entry shortens the thread's wait; any other can wait its turn.
            if self._heap[0] is entry:
                self._cond.notify()
        return handle

    def call_at(self, due_at: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback()`` on the timer thread at ``due_at``; it must not block."""
        return self.schedule(due_at, self._callbacks, callback)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback()`` on the timer thread ``delay_s`` seconds from now; it must not block."""
        return self.schedule(self._clock() + delay_s, self._callbacks, callback)

    def wake(self) -> None:
        """Make the thread look at the clock now (after a manual clock moved)."""
        with self._cond:
            self._cond.notify()

    def pending(self) -> int:
        """How many timers have neither fired nor been cancelled."""
        with self._cond:
            return self._pending

    def _cancel(self, handle: TimerHandle) -> None:
        with self._cond:
            was_pending = handle._state == _PENDING
            handle._state = _DONE
            if was_pending:
                self._pending -= 1
                self._cancelled_in_heap += 1
                if self._cancelled_in_heap > _COMPACT_MIN and self._cancelled_in_heap * 2 > len(self._heap):
                    self._compact()

    def _compact(self) -> None:
        """Drop cancelled entries from the heap (the caller holds the lock); amortised O(1) per cancel."""
        self._heap = [entry for entry in self._heap if entry[2]._state != _DONE]
        heapq.heapify(self._heap)
        self._cancelled_in_heap = 0

    def _run(self) -> None:
        while True:
            due = self._wait_for_due()
            if due is None:
                return
            self._deliver(due)

    def _wait_for_due(self) -> list[TimerHandle] | None:
        """Block until something is due (or the service stops) and pop it; None once stopped."""
        with self._cond:
            while self._running:
                heap = self._heap  # a compaction replaces the list
                while heap and heap[0][2]._state == _DONE:
                    heapq.heappop(heap)
                    self._cancelled_in_heap -= 1
                if not heap:
                    self._cond.wait()
                    continue
                now = self._clock()
                if heap[0][0] > now:
                    # Any notify (an earlier schedule, wake, stop) ends the wait and the loop looks again.
                    self._cond.wait(min(heap[0][0] - now, _MAX_WAIT_S))
                    continue
                due: list[TimerHandle] = []
                while heap and heap[0][0] <= now and len(due) < _MAX_BATCH:
                    handle = heapq.heappop(heap)[2]
                    if handle._state == _DONE:
                        self._cancelled_in_heap -= 1
                        continue
                    handle._state = _DUE
                    self._pending -= 1
                    due.append(handle)
                if due:
                    return due
        return None

    def _deliver(self, due: list[TimerHandle]) -> None:
        batches: dict[int, tuple[TimerTarget, list[Any]]] = {}
        with self._cond:
            # A timer cancelled after it was popped but before this point must still not fire.
            for handle in due:
                if handle._state != _DUE:
                    continue
                handle._state = _DONE
                batch = batches.get(id(handle._target))
                if batch is None:
                    batches[id(handle._target)] = (handle._target, [handle._item])
                else:
                    batch[1].append(handle._item)
        for target, items in batches.values():
            try:
                target.timers_due(items)
            except Exception:
                logger.exception("timer target %s failed on %d item(s)", type(target).__qualname__, len(items))


_process_timers: list[TimerService] = []  # at most one
_process_timers_lock = threading.Lock()


def process_timers() -> TimerService:
    """The process's timer service, started on first use: for parts that were not handed one (a process's main
    may create its own and pass it down instead; either way one thread serves every timer)."""
    with _process_timers_lock:
        if not _process_timers:
            _process_timers.append(TimerService(name="process-timers").start())
        return _process_timers[0]


class ManualClock:
    """A clock for tests that moves only when told: ``clock()`` reads it, ``advance(s)`` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time (then call the service's ``wake()``)."""
        if seconds < 0:
            raise ValueError("a manual clock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now
