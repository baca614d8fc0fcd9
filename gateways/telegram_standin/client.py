"""A small synchronous client of the stand-in's user-side API (``/_standin/...``), built on requests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

JSONDict = dict[str, Any]


class StandinError(Exception):
    """The stand-in refused a user-side call (HTTP status and Telegram-style description)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


def describe(item: JSONDict) -> str:
    """One line for an event-log item, as used in transcripts."""
    kind = item.get("kind", "?")
    text = item.get("plain") if item.get("plain") is not None else item.get("text")
    buttons = [button["text"] for row in item.get("buttons") or [] for button in row]
    extra = f" buttons={buttons}" if buttons else ""
    return f"#{item.get('seq')} {kind} msg={item.get('message_id')} {text!r}{extra}"


class StandinClient:
    """Acts as Telegram users against a running stand-in (tests, terminal chat, load simulator)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not sit between us and localhost

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self) -> StandinClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, json: JSONDict | None = None, params: JSONDict | None = None,
              timeout_s: float | None = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/_standin/{path}", json=json, params=params,
                                        timeout=timeout_s or self.timeout_s)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.ok:
            description = body.get("description") if isinstance(body, dict) else response.text
            raise StandinError(response.status_code, str(description))
        return body

    def health(self) -> JSONDict:
        """GET /_standin/health."""
        result: JSONDict = self._call("GET", "health")
        return result

    def create_user(self, first_name: str = "Alice", *, user_id: int | None = None,
                    last_name: str | None = None, username: str | None = None,
                    language_code: str | None = None) -> JSONDict:
        """Create (or rename) a user; their private chat id equals the user id."""
        body = {"first_name": first_name, "user_id": user_id, "last_name": last_name, "username": username,
                "language_code": language_code}
        result: JSONDict = self._call("POST", "users", json={k: v for k, v in body.items() if v is not None})
        return result

    def create_group(self, title: str, member_ids: Sequence[int], admin_ids: Sequence[int] = (), *,
                     supergroup: bool = False, bot_is_admin: bool = False) -> JSONDict:
        """Create a group (negative id) with the bot and these users."""
        result: JSONDict = self._call("POST", "groups", json={
            "title": title, "member_ids": list(member_ids), "admin_ids": list(admin_ids),
            "type": "supergroup" if supergroup else "group", "bot_is_admin": bot_is_admin})
        return result

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None,
                  reply_to_message_id: int | None = None) -> JSONDict:
        """The user writes ``text`` (to their private chat unless ``chat_id``); returns the update."""
        body: JSONDict = {"user_id": user_id, "text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        result: JSONDict = self._call("POST", "send", json=body)
        return result

    def click(self, user_id: int, chat_id: int, message_id: int, data: str) -> JSONDict:
        """The user presses the inline button carrying ``data``; returns the callback_query update."""
        result: JSONDict = self._call("POST", "click", json={"user_id": user_id, "chat_id": chat_id,
                                                             "message_id": message_id, "data": data})
        return result

    def answer_poll(self, user_id: int, poll_id: str, option_ids: Sequence[int]) -> JSONDict:
        """The user votes; returns the poll_answer update (the poll update for anonymous polls)."""
        result: JSONDict = self._call("POST", "poll_answer", json={"user_id": user_id, "poll_id": poll_id,
                                                                   "option_ids": list(option_ids)})
        return result

    def messages(self, chat_id: int, after_seq: int = 0, wait: float = 0.0) -> list[JSONDict]:
        """The bot's event log in the chat after ``after_seq``, waiting up to ``wait`` s for something new."""
        query = {"chat_id": chat_id, "after_seq": after_seq, "wait": wait}
        body = self._call("GET", "messages", params=query, timeout_s=self.timeout_s + wait)
        items: list[JSONDict] = body["items"]
        return items

    def wait_for(self, chat_id: int, predicate: Callable[[JSONDict], bool], timeout: float = 5.0, *,
                 after_seq: int = 0) -> JSONDict:
        """The first event after ``after_seq`` matching ``predicate``; TimeoutError shows the transcript."""
        deadline = time.monotonic() + timeout
        seen: list[JSONDict] = []
        cursor = after_seq
        while True:
            remaining = deadline - time.monotonic()
            for item in self.messages(chat_id, cursor, wait=max(0.0, min(remaining, 5.0))):
                seen.append(item)
                cursor = max(cursor, int(item["seq"]))
                if predicate(item):
                    return item
            if time.monotonic() >= deadline:
                transcript = "\n".join(describe(item) for item in seen) or "(nothing)"
                raise TimeoutError(
                    f"no matching event in chat {chat_id} within {timeout:g}s; saw:\n{transcript}")

    def view(self, chat_id: int) -> JSONDict:
        """The chat as it looks now (latest text and buttons of each message)."""
        result: JSONDict = self._call("GET", f"chats/{chat_id}/view")
        return result

    def stats(self) -> JSONDict:
        """Counters: sent, edits, rate_limited_429, limit_breaches, per_chat, methods ..."""
        result: JSONDict = self._call("GET", "stats")
        return result

    def set_faults(self, status: int = 429, count: int = 1, *, retry_after: int = 1, fraction: float = 0.0,
                   methods: Sequence[str] | None = None) -> JSONDict:
        """Storm mode: make the next ``count`` bot calls (or a ``fraction``) fail with ``status``."""
        body: JSONDict = {"status": status, "count": count, "retry_after": retry_after, "fraction": fraction}
        if methods is not None:
            body["methods"] = list(methods)
        result: JSONDict = self._call("POST", "faults", json=body)
        return result

    def set_limits(self, **fields: Any) -> JSONDict:
        """Change FloodLimits fields at run time (e.g. ``enforce=True, chat_messages=1``)."""
        result: JSONDict = self._call("POST", "limits", json=fields)
        return result

    def reset(self) -> None:
        """Forget users, chats, messages, polls, updates, statistics and faults."""
        self._call("POST", "reset")
