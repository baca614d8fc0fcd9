"""Leaderboards and player statistics for the bot's commands, read from the HTTP API (the telebot's only
way to the platform's data), asynchronously so the bot's loop never blocks."""

from __future__ import annotations

import logging
from typing import Any

import httpx

logger = logging.getLogger(__name__)

PAGE_SIZE = 10


class ReadsUnavailable(RuntimeError):
    """The API could not answer; the message is safe to show."""


class GameReads:
    """GET /v1/leaderboard and /v1/players/{id}/stats with the telebot's service token."""

    def __init__(self, base_url: str, token: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                         timeout=httpx.Timeout(5.0))

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            logger.warning("API read %s failed: %s", path, type(exc).__name__)
            raise ReadsUnavailable("the game service is unreachable, try again shortly") from None
        if response.status_code == 404:
            return {}
        if response.status_code != 200:
            logger.warning("API read %s answered %s", path, response.status_code)
            raise ReadsUnavailable("the game service could not answer, try again shortly")
        body: dict[str, Any] = response.json()
        return body

    async def leaderboard_page(self, *, scope: str, period: str, page: int) -> tuple[list[dict[str, Any]], bool]:
        """Entries of page ``page`` (1-based) and whether another page follows."""
        cursor: str | None = None
        body: dict[str, Any] = {}
        for _ in range(page):
            params: dict[str, Any] = {"scope": scope, "period": period, "limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            body = await self._get("/v1/leaderboard", params)
            cursor = body.get("next_cursor")
            if cursor is None:
                break
        return list(body.get("entries", [])), cursor is not None

    async def player_stats(self, telegram_id: int) -> dict[str, Any] | None:
        """The Telegram player's statistics, or None before their first game."""
        body = await self._get(f"/v1/players/tg:{telegram_id}/stats")
        stats: dict[str, Any] | None = body.get("stats") if body else None
        return stats

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
