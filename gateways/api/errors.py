"""API errors: one exception type rendered as ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the client should see: HTTP status, machine code, human message, optional details."""

    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def unavailable(message: str, retry_after_s: int = 5) -> ApiError:
    """503 with Retry-After: a dependency is down; retrying the same request later is safe."""
    return ApiError(503, "unavailable", message, headers={"Retry-After": str(retry_after_s)})
