"""A TCP proxy that can cut a connection path: how the fault suite takes PostgreSQL away from the platform.

The PostgreSQL server on the test machines is shared, so the suite does not stop it; the platform talks to it
through this proxy, and ``cut`` does to the platform what a database crash does: every open connection is
reset and new ones are refused until ``restore``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading

from gateways.local_broker import free_port

logger = logging.getLogger(__name__)


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; ``cut`` and ``restore`` the path at will."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        """Listen (again, on the same port) and accept in a thread."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True).start()
        return self

    def cut(self) -> None:
        """Stop listening and reset every open connection (clients see the server gone)."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            with contextlib.suppress(OSError):  # shutdown wakes the thread blocked in accept(); close alone does not
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in connections:
            _reset(conn)

    def restore(self) -> None:
        """Accept connections again."""
        if self._listener is None:
            self.start()

    def stop(self) -> None:
        """Cut for good."""
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError as exc:
                logger.warning("proxy: upstream %s:%d unreachable: %s", *self.target, exc)
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _reset(client)
                    _reset(upstream)
                    return
                self._connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), name="proxy-pipe", daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError as exc:
            logger.debug("proxy: connection closed: %s", exc)  # the other direction or cut() closed the pair
        finally:
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(sink)
            _reset(sink)
            _reset(source)


def _reset(conn: socket.socket) -> None:
    """Drop the connection at once. ``shutdown`` acts on the socket itself: it wakes the pipe thread blocked in
    ``recv`` on it (a bare ``close`` from another thread would leave that thread, and the connection, alive)."""
    with contextlib.suppress(OSError):  # already closed by the other side
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()
