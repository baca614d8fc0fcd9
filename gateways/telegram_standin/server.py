"""The stand-in's HTTP side: a Starlette app speaking the Bot API to the bot and a JSON API to fake users.

Bot side, ``/bot{token}/{method}`` (GET or POST; JSON, form or multipart body, or query string; method names
are case-insensitive) answers with Telegram's envelope. python-telegram-bot 22.8 POSTs form-encoded bodies in
which strings are sent as they are and everything else (numbers, booleans, ``reply_markup``, ``options``,
``allowed_updates``) as JSON text, so every parameter is typed on access (:class:`Params`).

Long polling (getUpdates) and the webhook delivery task wait on one asyncio broadcast that the world fires
after every change, so neither blocks the other nor the user-side routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import FrameType
from typing import Any

import httpx
import requests
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateways.telegram_standin.errors import ApiError, JSONDict, bad_request
from gateways.telegram_standin.limits import FaultPlan, FloodLimits
from gateways.telegram_standin.records import WebhookConfig
from gateways.telegram_standin.world import ALL_UPDATE_TYPES, World

logger = logging.getLogger(__name__)

MAX_LONG_POLL_S = 60.0
_PARAM_ERRORS = {"reply_markup": "can't parse reply keyboard markup JSON object"}


class Params:
    """One Bot API call's parameters (query string merged with the body), typed on access like Telegram."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def _get(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def str_(self, name: str) -> str | None:
        """A string parameter (form values are taken verbatim: text "5" stays "5")."""
        value = self._get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def int_(self, name: str) -> int | None:
        """An Integer parameter."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
        raise bad_request(f'field "{name}" must be of type Integer')

    def float_(self, name: str) -> float | None:
        """A Float parameter."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value.strip())
        raise bad_request(f'field "{name}" must be of type Float')

    def bool_(self, name: str, default: bool = False) -> bool:
        """A Boolean parameter ("true"/"false" in forms)."""
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
            return value.strip().lower() in ("true", "1")
        raise bad_request(f'field "{name}" must be of type Boolean')

    def json_(self, name: str) -> Any:
        """A JSON-serialised parameter (reply_markup, options, ...): decoded when it arrived as text."""
        value = self._get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(_PARAM_ERRORS.get(name, f"can't parse {name} JSON object")) from None
        return value

    def chat_id(self, name: str = "chat_id", *, required: bool = True) -> int | str | None:
        """A chat id: an Integer, or an @username String."""
        value = self._get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            return text


async def read_params(request: Request) -> Params:
    """Merge the query string with a JSON, urlencoded or multipart body."""
    values: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return Params(values)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    continue  # file uploads are not part of the stand-in
                values[key] = value
        return Params(values)
    body = await request.body()
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad_request("JSON object expected")
        values.update(data)
    return Params(values)


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    body: JSONDict = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.to_api(), status_code=exc.code)


class _Broadcast:
    """Wakes every asyncio waiter when the world changes; ``fire_threadsafe`` works from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def fire_threadsafe(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        # Swap the event so a waiter that re-arms after waking waits for the *next* change.
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> None:
        """Return on the next change or after ``timeout`` seconds."""
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


Handler = Callable[[Params], Awaitable[Any]]


class StandinService:
    """The world behind the ASGI app: bot methods, long polling, webhook delivery, user-side routes."""

    def __init__(self, world: World, *, bot_token: str | None = None, webhook_retry_s: float = 1.0,
                 webhook_timeout_s: float = 10.0) -> None:
        self.world = world
        self.bot_token = bot_token
        self.webhook_retry_s = webhook_retry_s
        self.webhook_timeout_s = webhook_timeout_s
        self._broadcast: _Broadcast | None = None
        self._closing = False
        self._poll_generation = 0
        self._tasks: list[asyncio.Task[None]] = []
        table: dict[str, Handler] = {
            "getMe": self._get_me, "logOut": self._true, "close": self._true,
            "getUpdates": self._get_updates, "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup, "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query, "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll, "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands, "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat, "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "getChatMembersCount": self._get_chat_member_count,
            "sendChatAction": self._send_chat_action, "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._unpin_chat_message, "unpinAllChatMessages": self._chat_true,
            "setMyName": self._true, "setMyDescription": self._true, "setMyShortDescription": self._true,
            "setChatMenuButton": self._true,
        }
        self.methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, fn) for name, fn in table.items()}

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _signal(self) -> _Broadcast:
        if self._broadcast is None:
            self._broadcast = _Broadcast(asyncio.get_running_loop())
            self.world.add_listener(self._broadcast.fire_threadsafe)
        return self._broadcast

    async def startup(self) -> None:
        """Start webhook delivery and poll expiry (called by the app's lifespan)."""
        self._closing = False
        self._signal()
        self._tasks = [asyncio.create_task(self._deliver_webhooks(), name="standin-webhook"),
                       asyncio.create_task(self._expire_polls(), name="standin-polls")]

    async def shutdown(self) -> None:
        """Stop the background tasks and release the waiters."""
        self.close_waiters()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._broadcast is not None:
            self.world.remove_listener(self._broadcast.fire_threadsafe)
            self._broadcast = None

    def close_waiters(self) -> None:
        """Make every long poll return now (thread-safe); used before a server stops."""
        self._closing = True
        if self._broadcast is not None:
            self._broadcast.fire_threadsafe()

    async def _expire_polls(self) -> None:
        while True:
            try:
                self.world.expire_polls()
            except Exception:  # the task must outlive any bug in one pass
                logger.exception("stand-in: closing expired polls failed")
            await asyncio.sleep(0.2)

    async def _deliver_webhooks(self) -> None:
        """POST pending updates to the webhook one by one, in order; retry a failure after a pause."""
        async with httpx.AsyncClient(timeout=self.webhook_timeout_s, trust_env=False) as client:
            while not self._closing:
                job = self.world.next_webhook_delivery()
                if job is None:
                    await self._signal().wait(5.0)
                    continue
                try:
                    error = await self._deliver_one(client, *job)
                except Exception:  # the task must outlive any bug in one delivery
                    logger.exception("stand-in: webhook delivery failed unexpectedly")
                    error = "Internal stand-in error"
                if error is not None:
                    self.world.webhook_failed(error)
                    await asyncio.sleep(self.webhook_retry_s)

    async def _deliver_one(self, client: httpx.AsyncClient, hook: WebhookConfig,
                           update: JSONDict) -> str | None:
        """POST one update; None when the receiver took it, else the error getWebhookInfo reports."""
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            response = await client.post(hook.url, content=json.dumps(update), headers=headers)
        except httpx.HTTPError as exc:
            error = f"Connection failed: {type(exc).__name__}"
        else:
            if 200 <= response.status_code < 300:
                self.world.webhook_delivered(int(update["update_id"]))
                return None
            error = f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
        logger.info("stand-in: webhook delivery of update %s failed: %s", update["update_id"], error)
        return error

    # -- bot side --------------------------------------------------------------------------------------------

    async def bot_endpoint(self, request: Request) -> Response:
        """``/bot{token}/{method}``."""
        token = request.path_params["token"]
        if self.bot_token is not None and not hmac.compare_digest(token.encode(), self.bot_token.encode()):
            return _error(ApiError(401, "Unauthorized"))
        self.world.adopt_token(token)
        entry = self.methods.get(request.path_params["method"].lower())
        if entry is None:
            self.world.count_method(request.path_params["method"])
            return _error(ApiError(404, "Not Found: method not found"))
        name, handler = entry
        self.world.count_method(name)
        try:
            fault = self.world.take_fault(name.lower())
            if fault is not None:
                raise fault
            result = await handler(await read_params(request))
        except ApiError as exc:
            if exc.code >= 500 or exc.code == 429:
                logger.debug("stand-in: %s -> %s %s", name, exc.code, exc.description)
            return _error(exc)
        if name == "deleteWebhook" and result is None:
            return _ok(True, "Webhook is already deleted")
        return _ok(result)

    async def _true(self, p: Params) -> Any:
        return True

    async def _chat_true(self, p: Params) -> Any:
        self.world.get_chat(_required_chat(p))
        return True

    async def _get_me(self, p: Params) -> Any:
        return self.world.get_me()

    async def _get_updates(self, p: Params) -> Any:
        limit = min(max(p.int_("limit") or 100, 1), 100)
        timeout = min(max(p.float_("timeout") or 0.0, 0.0), MAX_LONG_POLL_S)
        allowed = p.json_("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
                raise bad_request("can't parse allowed_updates JSON object")
            self.world.set_allowed_updates([kind for kind in allowed if kind in ALL_UPDATE_TYPES])
        offset = self.world.resolve_offset(p.int_("offset"))
        # A newer getUpdates ends an older one with 409, as Telegram does for two bot instances.
        self._poll_generation += 1
        generation = self._poll_generation
        signal = self._signal()
        signal.fire_threadsafe()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only "
                                    "one bot instance is running")
            updates = self.world.take_updates(offset, limit)
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or self._closing:
                return updates
            await signal.wait(remaining)

    async def _set_webhook(self, p: Params) -> Any:
        url = p.str_("url") or ""
        allowed = p.json_("allowed_updates")
        self.world.set_webhook(url, secret_token=p.str_("secret_token"),
                               max_connections=p.int_("max_connections"),
                               allowed_updates=allowed if isinstance(allowed, list) else None,
                               drop_pending_updates=p.bool_("drop_pending_updates"))
        return True

    async def _delete_webhook(self, p: Params) -> Any:
        had = self.world.webhook() is not None
        self.world.delete_webhook(drop_pending_updates=p.bool_("drop_pending_updates"))
        return True if had else None

    async def _get_webhook_info(self, p: Params) -> Any:
        return self.world.webhook_info()

    @staticmethod
    def _reply_args(p: Params) -> tuple[int | None, bool]:
        reply_to = p.int_("reply_to_message_id")
        allow = p.bool_("allow_sending_without_reply")
        parameters = p.json_("reply_parameters")
        if isinstance(parameters, dict):
            nested = Params(parameters)
            reply_to = nested.int_("message_id")
            allow = nested.bool_("allow_sending_without_reply", allow)
        return reply_to, allow

    async def _send_message(self, p: Params) -> Any:
        chat_id = _required_chat(p)
        reply_to, allow = self._reply_args(p)
        return self.world.send_message(
            chat_id, p.str_("text"), parse_mode=p.str_("parse_mode"), entities=_entities(p.json_("entities")),
            reply_markup=p.json_("reply_markup"), reply_to_message_id=reply_to,
            allow_sending_without_reply=allow,
        )

    async def _edit_message_text(self, p: Params) -> Any:
        return self.world.edit_message_text(
            p.chat_id(required=False), p.int_("message_id"), p.str_("text"),
            inline_message_id=p.str_("inline_message_id"), parse_mode=p.str_("parse_mode"),
            entities=_entities(p.json_("entities")), reply_markup=p.json_("reply_markup"),
        )

    async def _edit_message_reply_markup(self, p: Params) -> Any:
        return self.world.edit_message_reply_markup(
            p.chat_id(required=False), p.int_("message_id"), inline_message_id=p.str_("inline_message_id"),
            reply_markup=p.json_("reply_markup"),
        )

    async def _delete_message(self, p: Params) -> Any:
        return self.world.delete_message(_required_chat(p), p.int_("message_id"))

    async def _answer_callback_query(self, p: Params) -> Any:
        return self.world.answer_callback_query(p.str_("callback_query_id"), text=p.str_("text"),
                                                show_alert=p.bool_("show_alert"), url=p.str_("url"))

    async def _send_poll(self, p: Params) -> Any:
        chat_id = _required_chat(p)
        raw_options = p.json_("options")
        if not isinstance(raw_options, list):
            raise bad_request("poll options must be an Array")
        options: list[str] = []
        for option in raw_options:
            # PTB 22.8 always sends InputPollOption objects; plain strings are what older clients send.
            text = option.get("text") if isinstance(option, dict) else option
            if not isinstance(text, str):
                raise bad_request("can't parse InputPollOption")
            options.append(text)
        correct = p.json_("correct_option_ids")
        single = p.int_("correct_option_id")
        if correct is None and single is not None:
            correct = [single]
        if correct is not None and (not isinstance(correct, list)
                                    or not all(isinstance(i, int) for i in correct)):
            raise bad_request("wrong correct option ids specified")
        reply_to, allow = self._reply_args(p)
        allows_revoting = p.bool_("allows_revoting") if p.values.get("allows_revoting") is not None else None
        return self.world.send_poll(
            chat_id, p.str_("question"), options, poll_type=p.str_("type") or "regular",
            is_anonymous=p.bool_("is_anonymous", True),
            allows_multiple_answers=p.bool_("allows_multiple_answers"), allows_revoting=allows_revoting,
            correct_option_ids=correct or [], explanation=p.str_("explanation"),
            open_period=p.int_("open_period"), close_date=p.int_("close_date"),
            is_closed=p.bool_("is_closed"), reply_markup=p.json_("reply_markup"),
            reply_to_message_id=reply_to, allow_sending_without_reply=allow,
        )

    async def _stop_poll(self, p: Params) -> Any:
        return self.world.stop_poll(_required_chat(p), p.int_("message_id"),
                                    reply_markup=p.json_("reply_markup"))

    async def _set_my_commands(self, p: Params) -> Any:
        return self.world.set_commands(p.json_("commands"), p.json_("scope"), p.str_("language_code"))

    async def _get_my_commands(self, p: Params) -> Any:
        return self.world.get_commands(p.json_("scope"), p.str_("language_code"))

    async def _delete_my_commands(self, p: Params) -> Any:
        return self.world.delete_commands(p.json_("scope"), p.str_("language_code"))

    async def _get_chat(self, p: Params) -> Any:
        return self.world.get_chat(_required_chat(p))

    async def _get_chat_member(self, p: Params) -> Any:
        return self.world.get_chat_member(_required_chat(p), p.int_("user_id"))

    async def _get_chat_administrators(self, p: Params) -> Any:
        return self.world.get_chat_administrators(_required_chat(p))

    async def _get_chat_member_count(self, p: Params) -> Any:
        return self.world.get_chat_member_count(_required_chat(p))

    async def _send_chat_action(self, p: Params) -> Any:
        self.world.get_chat(_required_chat(p))
        if not p.str_("action"):
            raise bad_request("action is empty")
        return True

    async def _pin_chat_message(self, p: Params) -> Any:
        message_id = p.int_("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        return self.world.pin_message(_required_chat(p), message_id)

    async def _unpin_chat_message(self, p: Params) -> Any:
        return self.world.pin_message(_required_chat(p), p.int_("message_id"))

    # -- user side -------------------------------------------------------------------------------------------

    async def _user_call(self, request: Request, action: Callable[[JSONDict], Any]) -> Response:
        try:
            body = await request.body()
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise bad_request("JSON object expected")
            return JSONResponse(action(data))
        except ValueError as exc:
            return _error(bad_request(f"invalid request: {exc}"))
        except ApiError as exc:
            return _error(exc)

    async def create_user(self, request: Request) -> Response:
        """POST /_standin/users."""
        return await self._user_call(request, lambda d: self.world.create_user(
            str(d.get("first_name") or ""), user_id=_opt_int(d, "user_id"), last_name=d.get("last_name"),
            username=d.get("username"), language_code=d.get("language_code")))

    async def create_group(self, request: Request) -> Response:
        """POST /_standin/groups."""
        return await self._user_call(request, lambda d: self.world.create_group(
            str(d.get("title") or ""), _int_list(d, "member_ids"), _int_list(d, "admin_ids"),
            supergroup=d.get("type") == "supergroup" or bool(d.get("supergroup")),
            chat_id=_opt_int(d, "chat_id"), bot_is_admin=bool(d.get("bot_is_admin"))))

    async def user_send(self, request: Request) -> Response:
        """POST /_standin/send."""
        return await self._user_call(request, lambda d: self.world.user_send(
            _req_int(d, "user_id"), str(d.get("text") or ""), chat_id=_opt_int(d, "chat_id"),
            reply_to_message_id=_opt_int(d, "reply_to_message_id")))

    async def user_click(self, request: Request) -> Response:
        """POST /_standin/click."""
        return await self._user_call(request, lambda d: self.world.user_click(
            _req_int(d, "user_id"), _req_int(d, "chat_id"), _req_int(d, "message_id"),
            str(d.get("data") or "")))

    async def user_poll_answer(self, request: Request) -> Response:
        """POST /_standin/poll_answer."""
        return await self._user_call(request, lambda d: self.world.user_poll_answer(
            _req_int(d, "user_id"), str(d.get("poll_id") or ""), _int_list(d, "option_ids")))

    async def messages(self, request: Request) -> Response:
        """GET /_standin/messages?chat_id=&after_seq=&wait= (long polls up to ``wait`` seconds)."""
        try:
            query = Params(dict(request.query_params))
            chat_id = query.int_("chat_id")
            if chat_id is None:
                raise bad_request("chat_id is empty")
            after = query.int_("after_seq") or 0
            wait = min(max(query.float_("wait") or 0.0, 0.0), MAX_LONG_POLL_S)
        except ApiError as exc:
            return _error(exc)
        signal = self._signal()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            items = self.world.events(chat_id, after)
            remaining = deadline - loop.time()
            if items or remaining <= 0 or self._closing:
                return JSONResponse({"items": items, "last_seq": self.world.last_seq()})
            await signal.wait(remaining)

    async def view(self, request: Request) -> Response:
        """GET /_standin/chats/{chat_id}/view."""
        try:
            return JSONResponse(self.world.view(int(request.path_params["chat_id"])))
        except ValueError:
            return _error(bad_request("chat not found"))
        except ApiError as exc:
            return _error(exc)

    async def stats(self, request: Request) -> Response:
        """GET /_standin/stats."""
        return JSONResponse(self.world.stats())

    async def faults(self, request: Request) -> Response:
        """POST /_standin/faults."""
        def apply(d: JSONDict) -> JSONDict:
            methods = d.get("methods")
            plan = FaultPlan(status=int(d.get("status", 429)), count=int(d.get("count", 0)),
                             fraction=float(d.get("fraction", 0.0)), retry_after=int(d.get("retry_after", 1)),
                             methods=frozenset(str(m).lower() for m in methods) if methods else None)
            return self.world.set_faults(plan)
        return await self._user_call(request, apply)

    async def limits(self, request: Request) -> Response:
        """POST /_standin/limits: change some FloodLimits fields at run time."""
        def apply(d: JSONDict) -> JSONDict:
            known = {f.name for f in dataclasses.fields(FloodLimits)}
            unknown = set(d) - known
            if unknown:
                raise bad_request(f"unknown limit fields: {sorted(unknown)}")
            limits = dataclasses.replace(self.world.limits, **d)
            self.world.set_limits(limits)
            return dataclasses.asdict(limits)
        return await self._user_call(request, apply)

    async def reset(self, request: Request) -> Response:
        """POST /_standin/reset."""
        self.world.reset()
        return JSONResponse({"ok": True})

    async def health(self, request: Request) -> Response:
        """GET /_standin/health."""
        return JSONResponse({"ok": True, "bot": self.world.get_me(),
                             "pending_updates": self.world.pending_update_count()})


def _required_chat(p: Params) -> int | str:
    chat_id = p.chat_id()
    assert chat_id is not None  # required=True raised otherwise
    return chat_id


def _entities(value: Any) -> list[JSONDict] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise bad_request("can't parse entities JSON object")
    return value


def _opt_int(data: JSONDict, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_request(f"{name} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None


def _req_int(data: JSONDict, name: str) -> int:
    value = _opt_int(data, name)
    if value is None:
        raise bad_request(f"{name} is required")
    return value


def _int_list(data: JSONDict, name: str) -> list[int]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise bad_request(f"{name} must be a list of integers")
    return list(value)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    description = "Not Found" if status == 404 else detail
    return JSONResponse({"ok": False, "error_code": status, "description": description}, status_code=status)


def create_app(*, limits: FloodLimits | None = None, bot_token: str | None = None, world: World | None = None,
               webhook_retry_s: float = 1.0) -> Starlette:
    """The stand-in as an ASGI app; ``app.state.standin`` is its :class:`StandinService`.

    ``limits`` None means Telegram's ceilings counted but not enforced. With ``bot_token`` only that token is
    accepted (others get 401). The bot's id follows the numeric prefix of the token in use, as with real
    tokens. Pass a :class:`World` for other bot names or privacy mode.
    """
    if world is None:
        world = World(limits=limits)
    elif limits is not None:
        world.set_limits(limits)
    if bot_token is not None:
        world.adopt_token(bot_token)
    service = StandinService(world, bot_token=bot_token, webhook_retry_s=webhook_retry_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.startup()
        try:
            yield
        finally:
            await service.shutdown()

    routes = [
        Route("/bot{token}/{method}", service.bot_endpoint, methods=["GET", "POST"]),
        Route("/_standin/users", service.create_user, methods=["POST"]),
        Route("/_standin/groups", service.create_group, methods=["POST"]),
        Route("/_standin/send", service.user_send, methods=["POST"]),
        Route("/_standin/click", service.user_click, methods=["POST"]),
        Route("/_standin/poll_answer", service.user_poll_answer, methods=["POST"]),
        Route("/_standin/messages", service.messages, methods=["GET"]),
        Route("/_standin/chats/{chat_id}/view", service.view, methods=["GET"]),
        Route("/_standin/stats", service.stats, methods=["GET"]),
        Route("/_standin/faults", service.faults, methods=["POST"]),
        Route("/_standin/limits", service.limits, methods=["POST"]),
        Route("/_standin/reset", service.reset, methods=["POST"]),
        Route("/_standin/health", service.health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _not_found})
    app.state.standin = service
    return app


class _UvicornServer(uvicorn.Server):
    """uvicorn that releases open long polls as soon as a stop is asked for (Ctrl-C, SIGTERM)."""

    def __init__(self, config: uvicorn.Config, service: StandinService) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.close_waiters()
        super().handle_exit(sig, frame)


def run_server(*, host: str = "127.0.0.1", port: int = 8081, limits: FloodLimits | None = None,
               bot_token: str | None = None, log_level: str = "info") -> None:
    """Serve the stand-in in the foreground until interrupted (``python -m gateways.telegram_standin``)."""
    app = create_app(limits=limits, bot_token=bot_token)
    # A short graceful timeout as a backstop: nothing should hold a Ctrl-C for long.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, log_level=log_level,
                            timeout_graceful_shutdown=2)
    _UvicornServer(config, app.state.standin).run()


class StandinServer:
    """The stand-in on a real socket, served by uvicorn in a background thread (tests, dev stack)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, limits: FloodLimits | None = None, *,
                 bot_token: str | None = None, world: World | None = None,
                 webhook_retry_s: float = 0.5) -> None:
        self.host = host
        self.port = port
        self.app = create_app(limits=limits, bot_token=bot_token, world=world,
                              webhook_retry_s=webhook_retry_s)
        self.service: StandinService = self.app.state.standin
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def world(self) -> World:
        """The in-memory world (for direct inspection in tests)."""
        return self.service.world

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """What to pass to PTB's ``ApplicationBuilder().base_url``."""
        return f"{self.url}/bot"

    @property
    def bot_file_url(self) -> str:
        """What to pass to PTB's ``ApplicationBuilder().base_file_url``."""
        return f"{self.url}/file/bot"

    def start(self, timeout_s: float = 10.0) -> StandinServer:
        """Bind (port 0 = a free one), serve in a thread and wait until the health route answers."""
        if self._thread is not None:
            raise RuntimeError("stand-in server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        self._socket = sock
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2, timeout_keep_alive=30)
        self._server = _UvicornServer(config, self.service)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"standin-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        with requests.Session() as session:
            session.trust_env = False
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise RuntimeError("stand-in server thread exited during start-up")
                if self._server.started:
                    with contextlib.suppress(requests.RequestException):
                        if session.get(f"{self.url}/_standin/health", timeout=1).ok:
                            logger.info("telegram stand-in listening on %s", self.url)
                            return self
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"stand-in server did not answer within {timeout_s:g}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Release long polls, stop uvicorn and join its thread."""
        if self._server is None or self._thread is None:
            return
        self.service.close_waiters()
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("stand-in server thread did not stop within %ss", timeout_s)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
