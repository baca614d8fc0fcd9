"""Hostile input from the Telegram side, through the real telebot on a webhook: names and titles full of HTML
are shown as text, forged callbacks (never issued, out of range, another game, another chat) and replayed
updates score nothing, absurd commands get an answer, and the game goes on to a single correct ending."""

from __future__ import annotations

import time

import requests

from schema.models import Answer, GameQuestion, GameSession, Question
from tests.e2e.telegram_fixtures import telegram_webhook  # noqa: F401 - the fixture

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _callback(update_id: int, user: dict, chat_id: int, message: dict, data: str) -> dict:
    return {"update_id": update_id, "callback_query": {
        "id": str(7_000_000 + update_id), "from": user, "chat_instance": "forged", "data": data,
        "message": {"message_id": message["message_id"], "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private", "title": "x"},
                    "from": {"id": 1, "is_bot": True, "first_name": "bot"}, "text": "forged"}}}


def _deliver(hook: str, secret: str, update: dict) -> None:
    response = requests.post(hook, json=update, headers={SECRET_HEADER: secret}, timeout=10)
    assert response.status_code == 200, response.text


def test_hostile_names_forged_callbacks_and_replays_change_nothing(telegram_webhook, platform_db):  # noqa: F811
    _stack, client, hook, secret = telegram_webhook
    eve_user = client.create_user("<b>Eve</b> & <i>co</i>")
    eve, tom = eve_user["id"], client.create_user("Tom </a>")["id"]
    group = client.create_group("<script>alert(1)</script> & friends", [eve, tom])["id"]
    client.send_text(eve, "/play art 2", chat_id=group)
    q1 = client.wait_for(group, lambda m: m["kind"] == "message" and "Question 1/2" in (m.get("text") or ""),
                         timeout=40)
    real = q1["buttons"][0][0]["callback_data"]
    _prefix, tag, _no, _option = real.split(":")
    tom_user = {"id": tom, "is_bot": False, "first_name": "Tom </a>"}
    forged = [
        "a:zzzzzz:0:0",  # a game that never was
        f"a:{tag}:0:9",  # an option the question does not have
        f"a:{tag}:7:0",  # a question not asked yet
        f"a:{tag}:0:99999999999999999999999",  # a number past any integer type
        "lb:c:w:-1",  # a leaderboard page that cannot exist
        "\u0000" * 64,  # not even text
    ]
    for n, data in enumerate(forged):
        _deliver(hook, secret, _callback(900_000 + n, tom_user, group, q1, data))
    # The real button, in a chat it was never sent to (Tom's private chat).
    _deliver(hook, secret, _callback(900_100, tom_user, tom, q1, real))
    # A command with control characters and an absurd count, straight to the webhook.
    _deliver(hook, secret, {"update_id": 900_200, "message": {
        "message_id": 5, "date": int(time.time()), "chat": {"id": tom, "type": "private"},
        "from": tom_user, "text": "/play\u0000 art 99999999999999999999999"}})

    with platform_db.connection_context():
        game = GameSession.get(GameSession.chat_id == group)
        position0 = GameQuestion.get(GameQuestion.game == game.id, GameQuestion.position == 0)
        answer = Question.get_by_id(position0.question_id).answer
    options = [row[0]["text"] for row in q1["buttons"]]
    right = q1["buttons"][options.index(answer)][0]["callback_data"]
    click = client.click(eve, group, q1["message_id"], right)
    _deliver(hook, secret, click)  # the same update again, twice: Telegram redelivers after a timeout
    _deliver(hook, secret, click)
    reveal = client.wait_for(group, lambda m: m["kind"] == "edit" and m["message_id"] == q1["message_id"]
                             and "got it" in (m.get("plain") or ""), timeout=40, after_seq=q1["seq"])
    assert "<b>Eve</b> & <i>co</i> got it" in reveal["plain"], "the name is shown as text, not markup"

    q2 = client.wait_for(group, lambda m: m["kind"] == "message" and "Question 2/2" in (m.get("text") or ""),
                         timeout=40, after_seq=reveal["seq"])
    with platform_db.connection_context():
        position1 = GameQuestion.get(GameQuestion.game == game.id, GameQuestion.position == 1)
        answer = Question.get_by_id(position1.question_id).answer
    options = [row[0]["text"] for row in q2["buttons"]]
    client.click(tom, group, q2["message_id"], q2["buttons"][options.index(answer)][0]["callback_data"])
    over = client.wait_for(group, lambda m: "Game over" in (m.get("plain") or m.get("text") or ""), timeout=40,
                           after_seq=q2["seq"])
    assert "<b>Eve</b> & <i>co</i>" in over["plain"] and "Tom </a>" in over["plain"]

    time.sleep(1.0)  # anything doubled or forged would show by now
    group_texts = [m.get("plain") or "" for m in client.messages(group) if m["kind"] == "message"]
    assert sum("Question 1/2" in t for t in group_texts) == 1
    assert sum("Game over" in t for t in group_texts) == 1
    assert not any("Question" in (m.get("plain") or "") for m in client.messages(tom)), \
        "a forged command or button started nothing in Tom's chat"
    with platform_db.connection_context():
        rows = sorted((a.position, a.verdict) for a in Answer.select().where(Answer.game == game.id))
    assert rows == [(0, "correct"), (1, "correct")], f"forged or replayed updates were scored: {rows}"
