"""The stand-in's wire protocol over real HTTP: parameter encodings, getUpdates semantics, the user side."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from telegram import Update

from gateways.telegram_standin import StandinClient, StandinServer
from gateways.telegram_standin.client import StandinError

TOKEN = "777:protocol"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer() as running:
        yield running


def call(server: StandinServer, method: str, token: str = TOKEN, **params: Any) -> requests.Response:
    return requests.post(f"{server.url}/bot{token}/{method}", json=params, timeout=10)


def result(server: StandinServer, method: str, **params: Any) -> Any:
    response = call(server, method, **params)
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True, body
    return body["result"]


def error(server: StandinServer, method: str, **params: Any) -> tuple[int, str]:
    response = call(server, method, **params)
    body = response.json()
    assert body["ok"] is False and body["error_code"] == response.status_code
    return response.status_code, body["description"]


def started_user(server: StandinServer, name: str = "Ann") -> int:
    client = StandinClient(server.url)
    user_id = int(client.create_user(name)["id"])
    client.send_text(user_id, "/start")
    return user_id


def test_parameters_arrive_as_json_form_multipart_or_query(server: StandinServer) -> None:
    user = started_user(server)
    base = f"{server.url}/bot{TOKEN}"
    # PTB's encoding: form fields, strings verbatim, everything else JSON text.
    markup = json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]})
    fields = {"chat_id": str(user), "text": "5", "reply_markup": markup}
    form = requests.post(f"{base}/sendMessage", data=fields, timeout=10).json()
    assert form["ok"] and form["result"]["text"] == "5"
    assert form["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go"
    as_json = requests.post(f"{base}/sendMessage", json={"chat_id": user, "text": "json"}, timeout=10).json()
    assert as_json["result"]["text"] == "json"
    query_string: dict[str, str | int] = {"chat_id": user, "text": "query"}
    query = requests.get(f"{base}/SENDMESSAGE", params=query_string, timeout=10).json()
    assert query["result"]["text"] == "query"
    parts = {"chat_id": (None, str(user)), "text": (None, "multi")}
    multipart = requests.post(f"{base}/sendmessage", files=parts, timeout=10).json()
    assert multipart["result"]["text"] == "multi"
    assert [m["plain"] for m in StandinClient(server.url).view(user)["messages"] if m["from_bot"]] == [
        "5", "json", "query", "multi"]
    me = requests.get(f"{base}/getMe", timeout=10).json()["result"]
    assert me == {"id": 777, "is_bot": True, "first_name": "Stand-in Bot", "username": "standin_bot",
                  "can_join_groups": True, "can_read_all_group_messages": True,
                  "supports_inline_queries": False, "can_connect_to_business": False,
                  "has_main_web_app": False}


def test_telegram_error_envelopes(server: StandinServer) -> None:
    user = started_user(server)
    unknown = call(server, "sendSticker2")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    assert requests.get(f"{server.url}/nowhere", timeout=10).json()["error_code"] == 404
    assert error(server, "sendMessage", text="hi") == (400, "Bad Request: chat_id is empty")
    assert error(server, "sendMessage", chat_id=user) == (400, "Bad Request: message text is empty")
    assert error(server, "sendMessage", chat_id=12345, text="hi") == (400, "Bad Request: chat not found")
    assert error(server, "sendMessage", chat_id=user, text="x" * 4097) == (
        400, "Bad Request: message is too long")
    too_long = {"inline_keyboard": [[{"text": "b", "callback_data": "é" * 33}]]}  # 66 bytes
    assert error(server, "sendMessage", chat_id=user, text="hi", reply_markup=too_long) == (
        400, "Bad Request: BUTTON_DATA_INVALID")
    assert error(server, "editMessageText", chat_id=user, message_id=999, text="x") == (
        400, "Bad Request: message to edit not found")
    code, description = error(server, "sendMessage", chat_id=user, text="a <br> b", parse_mode="HTML")
    assert code == 400 and 'Unsupported start tag "br"' in description
    code, description = error(server, "sendMessage", chat_id=user, text="<b>x</i>", parse_mode="HTML")
    assert code == 400 and "Unmatched end tag" in description
    with StandinServer(bot_token="1:right") as strict:
        response = requests.get(f"{strict.url}/bot1:wrong/getMe", timeout=10)
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_html_is_rendered_like_telegram(server: StandinServer) -> None:
    user = started_user(server)
    raw = '<b>Q1</b> &lt;3 <a href="https://x.org">link</a> <pre><code class="language-py">x=1</code></pre>'
    message = result(server, "sendMessage", chat_id=user, text=raw, parse_mode="HTML")
    assert message["text"] == "Q1 <3 link x=1"
    assert message["entities"] == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 6, "length": 4, "url": "https://x.org"},
        {"type": "pre", "offset": 11, "length": 3, "language": "py"},
    ]
    item = StandinClient(server.url).messages(user)[-1]
    assert item["text"] == raw and item["plain"] == "Q1 <3 link x=1" and item["parse_mode"] == "HTML"
    edited = result(server, "editMessageText", chat_id=user, message_id=message["message_id"],
                    text="<i>Q1</i>", parse_mode="HTML")
    assert edited["text"] == "Q1" and edited["edit_date"] >= edited["date"]


def test_get_updates_offset_limit_and_long_polling(server: StandinServer) -> None:
    client = StandinClient(server.url)
    user = int(client.create_user("Poll")["id"])
    for text in ("one", "two", "three"):
        client.send_text(user, text)
    first = result(server, "getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    for update in first:
        assert Update.de_json(update, None).message is not None
    rest = result(server, "getUpdates", offset=first[-1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    # The earlier two were confirmed by that offset and are gone.
    assert [u["message"]["text"] for u in result(server, "getUpdates")] == ["three"]
    assert result(server, "getUpdates", offset=rest[-1]["update_id"] + 1) == []

    # Long polling: an empty poll waits for its timeout, a message ends it at once.
    started = time.monotonic()
    assert result(server, "getUpdates", timeout=0.4, offset=rest[-1]["update_id"] + 1) == []
    assert 0.35 <= time.monotonic() - started < 2

    def later() -> None:
        time.sleep(0.3)
        client.send_text(user, "wake up")

    threading.Thread(target=later, daemon=True).start()
    started = time.monotonic()
    woke = result(server, "getUpdates", timeout=10, offset=rest[-1]["update_id"] + 1)
    assert [u["message"]["text"] for u in woke] == ["wake up"]
    assert time.monotonic() - started < 3

    # Negative offset: only the last N are kept.
    for text in ("a", "b", "c"):
        client.send_text(user, text)
    assert [u["message"]["text"] for u in result(server, "getUpdates", offset=-2)] == ["b", "c"]
    assert [u["message"]["text"] for u in result(server, "getUpdates")] == ["b", "c"]


def test_a_newer_get_updates_ends_the_older_with_conflict(server: StandinServer) -> None:
    outcome: dict[str, Any] = {}

    def older() -> None:
        response = call(server, "getUpdates", timeout=10)
        outcome["status"], outcome["body"] = response.status_code, response.json()

    thread = threading.Thread(target=older, daemon=True)
    thread.start()
    client = StandinClient(server.url)
    deadline = time.monotonic() + 5
    while client.stats()["methods"].get("getUpdates") != 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the older call is waiting at the stand-in
    assert result(server, "getUpdates", timeout=0) == []
    thread.join(5)
    assert outcome["status"] == 409 and "terminated by other getUpdates" in outcome["body"]["description"]


def test_allowed_updates_filter_new_updates(server: StandinServer) -> None:
    client = StandinClient(server.url)
    user = int(client.create_user("Al")["id"])
    client.send_text(user, "/start")
    sent = result(server, "sendMessage", chat_id=user, text="menu",
                  reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    assert len(result(server, "getUpdates")) == 1
    result(server, "getUpdates", offset=10**9, allowed_updates=["callback_query"])
    client.send_text(user, "ignored")
    click = client.click(user, user, sent["message_id"], "a")
    updates = result(server, "getUpdates")
    assert [u["update_id"] for u in updates] == [click["update_id"]]
    query = Update.de_json(updates[0], None).callback_query
    assert query is not None and query.data == "a" and query.chat_instance
    assert query.message is not None and query.message.message_id == sent["message_id"]
    result(server, "getUpdates", offset=click["update_id"] + 1, allowed_updates=[])  # back to the default
    client.send_text(user, "seen again")
    assert [u["message"]["text"] for u in result(server, "getUpdates")] == ["seen again"]


def test_user_side_validation_event_log_and_view(server: StandinServer) -> None:
    client = StandinClient(server.url)
    ann, bob = (int(client.create_user(name)["id"]) for name in ("Ann", "Bob"))
    client.send_text(ann, "/start")
    menu = result(server, "sendMessage", chat_id=ann, text="menu",
                  reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}],
                                                    [{"text": "Site", "url": "https://example.org"}]]})
    with pytest.raises(StandinError, match="no button"):
        client.click(ann, ann, menu["message_id"], "zzz")
    with pytest.raises(StandinError, match="message not found"):
        client.click(ann, ann, 999, "a")
    with pytest.raises(StandinError, match="own private chat"):
        client.click(bob, ann, menu["message_id"], "a")
    with pytest.raises(StandinError, match="poll not found"):
        client.answer_poll(ann, "nope", [0])
    first = client.click(ann, ann, menu["message_id"], "a")
    second = client.click(ann, ann, menu["message_id"], "a")
    assert first["callback_query"]["id"] != second["callback_query"]["id"]
    assert first["callback_query"]["chat_instance"] == second["callback_query"]["chat_instance"]
    assert result(server, "answerCallbackQuery", callback_query_id=first["callback_query"]["id"], text="Hi",
                  show_alert=True) is True
    assert error(server, "answerCallbackQuery", callback_query_id=first["callback_query"]["id"])[0] == 400
    result(server, "editMessageReplyMarkup", chat_id=ann, message_id=menu["message_id"])
    result(server, "deleteMessage", chat_id=ann, message_id=menu["message_id"])
    log = client.messages(ann)
    assert [item["kind"] for item in log] == ["message", "callback_answer", "edit", "delete"]
    assert log[0]["buttons"] == [[{"text": "A", "callback_data": "a"}],
                                 [{"text": "Site", "callback_data": None, "url": "https://example.org"}]]
    assert log[1]["show_alert"] is True and log[1]["text"] == "Hi"
    assert client.messages(ann, after_seq=log[1]["seq"]) == log[2:]
    view = client.view(ann)["messages"]
    assert [(m["from_bot"], m["deleted"]) for m in view] == [(False, False), (True, True)]

    # A long poll on the log returns as soon as something happens.
    def later() -> None:
        time.sleep(0.3)
        result(server, "sendMessage", chat_id=ann, text="later")

    threading.Thread(target=later, daemon=True).start()
    started = time.monotonic()
    items = client.messages(ann, after_seq=log[-1]["seq"], wait=10)
    assert [i["plain"] for i in items] == ["later"] and time.monotonic() - started < 3


def test_groups_members_and_reset(server: StandinServer) -> None:
    client = StandinClient(server.url)
    ids = [int(client.create_user(name)["id"]) for name in ("Ann", "Ben", "Cid")]
    group = client.create_group("Team", member_ids=ids, admin_ids=[ids[1]], supergroup=True)
    assert group["type"] == "supergroup" and str(group["id"]).startswith("-100")
    added = Update.de_json(result(server, "getUpdates")[-1], None).my_chat_member
    assert added is not None and added.new_chat_member.status == "member" and added.chat.id == group["id"]
    admins = result(server, "getChatAdministrators", chat_id=group["id"])
    assert [(a["user"]["id"], a["status"]) for a in admins] == [(ids[1], "creator")]
    assert result(server, "getChatMember", chat_id=group["id"], user_id=ids[0])["status"] == "member"
    assert result(server, "getChatMemberCount", chat_id=group["id"]) == 4
    assert result(server, "getChat", chat_id=group["id"])["title"] == "Team"
    update = client.send_text(ids[2], "/play science 5", chat_id=group["id"])
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    assert update["message"]["chat"] == {"id": group["id"], "type": "supergroup", "title": "Team"}
    last_id = update["update_id"]
    client.reset()
    with pytest.raises(StandinError, match="chat not found"):
        client.view(group["id"])
    user = int(client.create_user("New")["id"])
    again = client.send_text(user, "hi")
    assert again["update_id"] > last_id  # a bot holding an old offset still sees new updates
    assert client.stats()["sent"] == 0


def test_polls_anonymous_multiple_and_expiry(server: StandinServer) -> None:
    client = StandinClient(server.url)
    ann = int(client.create_user("Ann")["id"])
    client.send_text(ann, "/start")
    anonymous = result(server, "sendPoll", chat_id=ann, question="Colour?",
                       options=json.dumps([{"text": "red"}, {"text": "blue"}, {"text": "green"}]),
                       allows_multiple_answers=True)
    poll = anonymous["poll"]
    assert poll["is_anonymous"] is True and poll["allows_revoting"] is True
    assert [o["persistent_id"] for o in poll["options"]] == [f"{poll['id']}-{i}" for i in range(3)]
    update = client.answer_poll(ann, poll["id"], [0, 2])
    assert "poll_answer" not in update and update["poll"]["total_voter_count"] == 1  # anonymous: counts only
    assert [o["voter_count"] for o in update["poll"]["options"]] == [1, 0, 1]
    retracted = client.answer_poll(ann, poll["id"], [])
    assert retracted["poll"]["total_voter_count"] == 0
    with pytest.raises(StandinError, match="only one answer"):
        single = result(server, "sendPoll", chat_id=ann, question="One?", options=["x", "y"])
        client.answer_poll(ann, single["poll"]["id"], [0, 1])
    quiz = result(server, "sendPoll", chat_id=ann, question="Fast?", options=["a", "b"], type="quiz",
                  correct_option_id=0, is_anonymous=False, close_date=int(time.time()) + 1)
    assert quiz["poll"]["correct_option_ids"] == [0] and "correct_option_id" not in quiz["poll"]
    closed = client.wait_for(ann, lambda i: i["kind"] == "edit" and i["message_id"] == quiz["message_id"],
                             timeout=5)
    assert closed["poll"]["is_closed"] is True
    with pytest.raises(StandinError, match="poll is closed"):
        client.answer_poll(ann, quiz["poll"]["id"], [0])
    poll_updates = [u["poll"] for u in result(server, "getUpdates") if "poll" in u]
    assert poll_updates[-1]["id"] == quiz["poll"]["id"] and poll_updates[-1]["is_closed"] is True
    for data in result(server, "getUpdates"):
        Update.de_json(data, None)  # everything parses with PTB's required fields
    assert error(server, "sendPoll", chat_id=ann, question="Q", options=["a"] * 13)[0] == 400
    assert error(server, "sendPoll", chat_id=ann, question="Q", options=["a", "b"], type="quiz")[0] == 400


def test_limits_are_only_counted_unless_enforced(server: StandinServer) -> None:
    user = started_user(server)
    for n in range(5):
        result(server, "sendMessage", chat_id=user, text=f"burst {n}")
    stats = StandinClient(server.url).stats()
    assert stats["sent"] == 5 and stats["rate_limited_429"] == 0
    assert stats["breaches"]["chat"] == 2 and stats["limit_breaches"] == 2  # 3 per 3 s is Telegram-like
    assert stats["limits"]["enforce"] is False


def test_module_entry_point_serves_and_stops_promptly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "gateways.telegram_standin", "--host", "127.0.0.1", "--port", str(port),
         "--flood-limits", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if requests.get(f"{url}/_standin/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "stand-in did not start"
            time.sleep(0.05)
        assert StandinClient(url).stats()["limits"]["enforce"] is True
        poll = threading.Thread(target=requests.get, args=(f"{url}/bot1:t/getUpdates?timeout=30",),
                                kwargs={"timeout": 40}, daemon=True)
        poll.start()
        deadline = time.monotonic() + 10
        while StandinClient(url).stats()["methods"].get("getUpdates") != 1:  # until the long poll is open
            assert time.monotonic() < deadline, "the long poll never reached the stand-in"
            time.sleep(0.01)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its clean shutdown, so the exit status is "killed by SIGTERM".
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 3  # the open long poll does not hold the stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
