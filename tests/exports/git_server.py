"""A Git smart-HTTP server for tests: ``git http-backend`` (CGI) behind a threaded HTTP or HTTPS server.

Basic auth: any user name, the password must equal the token. Serves one bare repository. It can be stopped
and started again on the same port (an outage), and ``before_receive_pack`` runs a callback just before
the next push's ref advertisement, so a test can move the remote branch between the exporter's fetch and
its push.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_HTTP_BACKEND_TIMEOUT_S = 60


def _git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    return result.stdout


class GitServer:
    """Serves ``<root>/<name>`` over smart HTTP(S) with a Basic-auth token check."""

    def __init__(self, root: Path, *, token: str, name: str = "transcripts.git", branch: str = "main",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.root = root
        self.name = name
        self.token = token
        self.branch = branch
        self.ssl_context = ssl_context
        self.bare = root / name
        self.port = 0
        self.requests: list[tuple[str, str, int]] = []
        self.auth_failures = 0
        self.before_receive_pack: Callable[[], None] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.bare))
        _git("config", "http.receivepack", "true", cwd=self.bare)

    @property
    def url(self) -> str:
        """The repository's URL (no credentials in it)."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{self.name}"

    def start(self) -> GitServer:
        """Listen (on the same port as before after a stop) and serve in a thread."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="git-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (clients get "connection refused")."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspecting the repository -------------------------------------------------------------------

    def log(self, *args: str) -> str:
        """``git log`` of the bare repository's branch."""
        return _git("log", self.branch, *args, cwd=self.bare)

    def commit_count(self) -> int:
        """Commits on the branch (0 while it does not exist)."""
        try:
            return int(_git("rev-list", "--count", self.branch, cwd=self.bare).strip())
        except subprocess.CalledProcessError:
            return 0

    def file_names(self) -> list[str]:
        """Every file path on the branch; names may contain spaces (one per line)."""
        if self.commit_count() == 0:
            return []
        out = _git("ls-tree", "-r", "-z", "--name-only", self.branch, cwd=self.bare)
        return sorted(p for p in out.split("\0") if p)

    def show(self, path: str) -> bytes:
        """A file's bytes at the branch tip."""
        return subprocess.run(["git", "show", f"{self.branch}:{path}"], cwd=self.bare, capture_output=True,
                              check=True).stdout

    def push_from_other_clone(self, workdir: Path, filename: str = "README.md", content: str = "hello\n") -> None:
        """Another writer: clone the bare repo directly (no HTTP), commit a file and push it."""
        if workdir.exists():
            shutil.rmtree(workdir)
        _git("clone", "--quiet", str(self.bare), str(workdir))
        _git("checkout", "--quiet", "-B", self.branch, cwd=workdir)
        (workdir / filename).write_text(content)
        _git("add", filename, cwd=workdir)
        _git("-c", "user.name=Other", "-c", "user.email=other@localhost", "commit", "--quiet", "-m",
             f"Add {filename}", cwd=workdir)
        _git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", cwd=workdir)

    # --- HTTP --------------------------------------------------------------------------------------------

    def _authorised(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user or "git") if password == self.token else None

    def _take_hook(self) -> Callable[[], None] | None:
        with self._lock:
            hook, self.before_receive_pack = self.before_receive_pack, None
        return hook

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: object) -> None:
                return

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server.requests.append((self.command, self.path, status))

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                body = self._read_body()
                user = server._authorised(self.headers.get("Authorization"))
                if user is None:
                    if self.headers.get("Authorization"):
                        server.auth_failures += 1
                    self._reply(401, b"authentication required\n",
                                {"WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain"})
                    return
                if path.endswith("/info/refs") and "service=git-receive-pack" in query:
                    hook = server._take_hook()
                    if hook is not None:
                        hook()
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": self.client_address[0],
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                                        timeout=GIT_HTTP_BACKEND_TIMEOUT_S, check=False)
                raw = result.stdout
                split = raw.find(b"\r\n\r\n")
                sep = 4
                if split < 0:
                    split, sep = raw.find(b"\n\n"), 2
                head, payload = (raw[:split], raw[split + sep:]) if split >= 0 else (b"", raw)
                status = 200
                headers: dict[str, str] = {}
                for line in head.decode("latin-1").splitlines():
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers[key.strip()] = value.strip()
                if result.returncode != 0 and not head:
                    status, payload = 500, result.stderr
                self._reply(status, payload, headers)

        return Handler
