"""An in-memory snapshot of revoked token ids and revoked clients, refreshed in the background.

The hot path (1,000 answers/s) must not pay a database round trip per request: every check is two set
lookups. The snapshot is reloaded at most every ``refresh_s`` seconds by one background load at a time;
a snapshot older than ``max_stale_s`` (or none yet) is reloaded before answering, and when that load fails
the request is refused with 503 rather than served unchecked. Revocations made by this process apply at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future

from gateways.api.auth import AuthError, Principal

logger = logging.getLogger(__name__)

Loader = Callable[[], tuple[frozenset[str], frozenset[str]]]
# Local additions survive a reload that started before they reached the database.
LOCAL_GRACE_S = 60.0


class RevocationCache:
    """Answers "is this token or client revoked?" from memory."""

    def __init__(self, load: Loader, pool: Executor, *, refresh_s: float = 2.0, max_stale_s: float = 30.0) -> None:
        self._load = load
        self._pool = pool
        self.refresh_s = refresh_s
        self.max_stale_s = max(max_stale_s, refresh_s)
        self._jtis: frozenset[str] = frozenset()
        self._clients: frozenset[str] = frozenset()
        self._local_jtis: dict[str, float] = {}
        self._loaded_at: float | None = None
        self._inflight: Future[None] | None = None
        self._lock = threading.Lock()

    def reload(self) -> None:
        """Load the snapshot now, in the calling thread (start-up, tests); raises on database errors."""
        jtis, clients = self._load()
        now = time.monotonic()
        with self._lock:
            self._local_jtis = {k: t for k, t in self._local_jtis.items() if now - t < LOCAL_GRACE_S}
            self._jtis = jtis | self._local_jtis.keys()
            self._clients = clients
            self._loaded_at = now

    def _background(self) -> Future[None]:
        with self._lock:
            if self._inflight is None or self._inflight.done():
                self._inflight = self._pool.submit(self._reload_logged)
            return self._inflight

    def _reload_logged(self) -> None:
        try:
            self.reload()
        except Exception as exc:
            logger.warning("revocation snapshot reload failed: %s", type(exc).__name__)
            raise

    async def check(self, principal: Principal) -> None:
        """:class:`AuthError` when the token or its client is revoked; database errors propagate."""
        loaded_at = self._loaded_at
        age = float("inf") if loaded_at is None else time.monotonic() - loaded_at
        if age >= self.max_stale_s:
            await asyncio.wrap_future(self._background())
        elif age >= self.refresh_s:
            self._background()
        if principal.jti in self._jtis:
            raise AuthError("token revoked")
        if principal.client_id in self._clients:
            raise AuthError("client revoked")

    def add_jti(self, jti: str) -> None:
        """Refuse ``jti`` from now on in this process (the database row is written by the caller)."""
        with self._lock:
            self._local_jtis[jti] = time.monotonic()
            self._jtis = self._jtis | {jti}

    def add_jtis(self, jtis: list[str]) -> None:
        """Refuse several token ids at once."""
        for jti in jtis:
            self.add_jti(jti)
