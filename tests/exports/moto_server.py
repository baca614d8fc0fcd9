"""moto in server mode (real HTTP on loopback) for S3, SQS and Lambda, stoppable to simulate an outage."""

from __future__ import annotations

import logging

import requests
from moto.server import ThreadedMotoServer


class MotoServer:
    """A ``ThreadedMotoServer`` on a free port that can be stopped and started again on the same port.

    moto keeps its state in process-wide backends, so buckets and objects survive a stop/start, as they
    would survive a network outage; ``reset`` empties them (``POST /moto-api/reset``).
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadedMotoServer | None = None
        # werkzeug prints one line per request; the tests' own assertions say what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @property
    def endpoint(self) -> str:
        """The endpoint URL for boto3 (``endpoint_url`` / ``AWS_ENDPOINT_URL``)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        """Listen on the remembered port (a free one the first time)."""
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        return self

    def stop(self) -> None:
        """Stop and close the listening socket, so clients get "connection refused" rather than a hang."""
        if self._server is None:
            return
        self._server.stop()
        # ThreadedMotoServer.stop() only ends serve_forever; the socket would keep accepting into its backlog.
        wsgi = getattr(self._server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()
        self._server = None

    def reset(self) -> None:
        """Forget every bucket, queue and function."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def configure_lambda_without_docker(self) -> None:
        """Let Lambda functions be created and invoked without a Docker engine (the code is not run)."""
        response = requests.post(f"{self.endpoint}/moto-api/config", json={"lambda": {"use_docker": False}},
                                 timeout=10)
        response.raise_for_status()
