"""Logging configured once per process (text or JSON lines), and a small /metrics + health HTTP server."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from trivia_actors.runtime import Settings

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class SecretFilter(logging.Filter):
    """Replaces any configured secret that reaches a log record with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return self._pattern.sub("***", text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is not None:
            message = record.getMessage()
            scrubbed = self.scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the record's extra fields (request_id, game_id, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                document[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, ensure_ascii=False)


WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "git", "httpcore", "hpack")


def configure_logging(settings: Settings, process: str) -> None:
    """Configure the root logger once: level, format and the secret filter."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(
        SecretFilter(
            [
                settings.jwt_secret,
                settings.telegram_bot_token,
                settings.telegram_webhook_secret,
                settings.deepseek_api_key,
                settings.git_token,
            ]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # kafka-python logs every connection hiccup at WARNING/ERROR; our own code reports what matters.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # HTTP clients' DEBUG output is the wire: request headers (botocore logs the AWS Authorization header with
    # its access key id), URLs and bodies. LOG_LEVEL=DEBUG is for our own code; these stay at INFO or above.
    wire_level = max(logging.INFO, root.getEffectiveLevel())
    for wire in WIRE_LOGGERS:
        logging.getLogger(wire).setLevel(wire_level)


class OpsServer:
    """Serves /metrics, /healthz and /readyz for processes that have no HTTP server of their own."""

    def __init__(self, host: str, port: int, *, ready: Callable[[], bool], alive: Callable[[], bool]) -> None:
        checks = {"/healthz": alive, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, status, ctype = generate_latest(), 200, CONTENT_TYPE_LATEST
                elif path in checks:
                    ok = checks[path]()
                    body = json.dumps({"status": "ok" if ok else "unavailable"}).encode()
                    status, ctype = (200 if ok else 503), "application/json"
                else:
                    body = b'{"error":{"code":"not_found","message":"no such path"}}'
                    status, ctype = 404, "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    def start(self) -> OpsServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
