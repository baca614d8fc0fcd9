"""The public HTTP API (Starlette on uvicorn)."""
