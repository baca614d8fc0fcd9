"""The telebot survives: SIGKILL mid-game and between an answer and its result, bursts under Telegram's flood
limits, webhook mode. Every message is checked from the user's side, in the stand-in."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import requests

from gateways.local_broker import free_port
from schema.models import Answer, GameSession, RequestStatus
from schema.telebot_models import OutboundMessage
from tests.chaos.tcp_proxy import TcpProxy
from tests.e2e.telegram_fixtures import telegram, telegram_webhook, telegram_without_bot  # noqa: F401 - the fixtures


def _bot_messages(client, chat):
    return [m for m in client.view(chat)["messages"] if m["from_bot"]]


def _answer(client, chat, after_seq, no, total, option=0, timeout=40):
    question = client.wait_for(chat, lambda m: m["kind"] == "message" and m.get("buttons")
                               and f"Question {no}/{total}" in m["text"], timeout=timeout, after_seq=after_seq)
    client.click(chat, chat, question["message_id"], question["buttons"][option][0]["callback_data"])
    return question


def _reveal(client, chat, question, timeout=40):
    return client.wait_for(chat, lambda m: m["kind"] == "edit" and m["message_id"] == question["message_id"],
                           timeout=timeout, after_seq=question["seq"])


def _wait_until_marked_sent(platform_db, chat, timeout=30.0):
    """Until the telebot's ledger marks every call to ``chat`` sent: the moment a SIGKILL can no longer make it
    send one again (a fixed 0.5 s pause assumed the mark always lands that fast)."""
    deadline = time.monotonic() + timeout
    while True:
        with platform_db.connection_context():
            unmarked = OutboundMessage.select().where(OutboundMessage.chat_id == chat,
                                                      OutboundMessage.status != "sent").count()
        if not unmarked:
            return
        assert time.monotonic() < deadline, f"{unmarked} calls to chat {chat} never marked sent"
        time.sleep(0.05)


def _wait_for_log(stack, name, text, timeout=60.0):
    deadline = time.monotonic() + timeout
    while text not in stack.log(name):
        process = stack.processes[name]
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{stack.log(name)[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} never logged {text!r} within {timeout:g}s:\n{stack.log(name)[-3000:]}")
        time.sleep(0.1)


def test_a_play_sent_while_the_telebot_cannot_reach_the_broker_becomes_a_game(telegram_without_bot, broker,  # noqa: F811
                                                                             platform_db):
    stack, client = telegram_without_bot
    # The telebot reaches the broker through a proxy that is not listening yet: a broker restarting as the bot
    # starts. (Kafka clients bootstrap there, then use the broker's advertised address.)
    path = TcpProxy((broker.host, broker.port))
    try:
        stack.start("telebot", "gateways.telegram.main", env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{path.port}"})
        # kafka-python gave up one bootstrap: the telebot used to die here, half started, and hang (never polling).
        _wait_for_log(stack, "telebot", "Unable to bootstrap")
        chat = client.create_user("Noor")["id"]
        client.send_text(chat, "/play 1")
        path.start()
        question = _answer(client, chat, 0, 1, 1, timeout=60)
        seq = _reveal(client, chat, question)["seq"]
        client.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=40, after_seq=seq)
    finally:
        path.stop()
    with platform_db.connection_context():
        games = list(GameSession.select().where(GameSession.chat_id == chat))
        assert [g.status for g in games] == ["finished"], "the /play became exactly one game, played to the end"
        assert Answer.select().where(Answer.game == games[0].id).count() == 1


def test_a_telebot_that_never_reaches_the_broker_exits_for_its_supervisor(telegram_without_bot):  # noqa: F811
    stack, _client = telegram_without_bot
    process = stack.start("telebot", "gateways.telegram.main",  # a port nothing listens on: connections refused
                          env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "DB_INIT_TIMEOUT": "3"})
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the telebot hangs instead of exiting:\n{stack.log('telebot')[-3000:]}") from None
    assert code == 1, stack.log("telebot")[-3000:]
    assert "broker unreachable at" in stack.log("telebot")


def test_sigkill_mid_game_then_restart_finishes_with_each_message_once(telegram, platform_db):  # noqa: F811
    stack, client = telegram
    chat = client.create_user("Kai")["id"]
    client.send_text(chat, "/play geography 3")
    first = client.wait_for(chat, lambda m: m["kind"] == "message" and m.get("buttons"), timeout=40)
    # The player reads the question; the bot dies while waiting for the answer. (Killed within milliseconds of a
    # send, before the ledger records it, the message could be sent again: Telegram has no idempotency key.)
    _wait_until_marked_sent(platform_db, chat)
    assert stack.stop("telebot", signal.SIGKILL) != 0
    stack.start("telebot2", "gateways.telegram.main")
    client.click(chat, chat, first["message_id"], first["buttons"][0][0]["callback_data"])
    seq = _reveal(client, chat, first)["seq"]
    for no in (2, 3):
        question = _answer(client, chat, seq, no, 3)
        seq = _reveal(client, chat, question)["seq"]
    client.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=40, after_seq=seq)
    time.sleep(1.0)  # anything duplicated would arrive now
    texts = [m["text"] for m in _bot_messages(client, chat)]
    assert sum("Preparing" in t for t in texts) == 1
    assert sum("Question" in t for t in texts) == 3
    assert sum("Game over" in t for t in texts) == 1
    assert len(texts) == 5, texts
    with platform_db.connection_context():
        game = GameSession.get(GameSession.chat_id == chat)
        assert game.status == "finished"
        assert Answer.select().where(Answer.game == game.id).count() == 3


def test_sigkill_between_an_answer_and_its_result(telegram, platform_db):  # noqa: F811
    stack, client = telegram
    chat = client.create_user("Lou")["id"]
    client.send_text(chat, "/play music 2")
    first = client.wait_for(chat, lambda m: m["kind"] == "message" and m.get("buttons"), timeout=40)
    _wait_until_marked_sent(platform_db, chat)
    # Hold the result back: no worker while the answer is in flight.
    assert stack.stop("worker", signal.SIGTERM) == 0
    client.click(chat, chat, first["message_id"], first["buttons"][1][0]["callback_data"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with platform_db.connection_context():
            if RequestStatus.select().where(RequestStatus.kind == "answer.submit",
                                            RequestStatus.subject == f"tg:{chat}").exists():
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the answer never reached the API")
    _wait_until_marked_sent(platform_db, chat)
    assert stack.stop("telebot", signal.SIGKILL) != 0
    stack.start("worker2", "gateways.worker")
    stack.start("telebot2", "gateways.telegram.main")
    seq = _reveal(client, chat, first)["seq"]
    question = _answer(client, chat, seq, 2, 2)
    seq = _reveal(client, chat, question)["seq"]
    client.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=40, after_seq=seq)
    time.sleep(1.0)
    texts = [m["text"] for m in _bot_messages(client, chat)]
    assert len(texts) == 4 and sum("Game over" in t for t in texts) == 1, texts
    edits = [m for m in client.messages(chat) if m["kind"] == "edit" and m["message_id"] == first["message_id"]]
    assert len(edits) == 1, "the reveal of the first question was made exactly once"


def test_burst_of_300_answers_from_100_chats_within_flood_limits(telegram):  # noqa: F811
    _stack, client = telegram
    chats = [client.create_user(f"P{i}")["id"] for i in range(100)]
    errors: list[str] = []

    def play(chat: int) -> None:
        try:
            client_local = type(client)(client.base_url)
            client_local.send_text(chat, "/play 3")
            seq = 0
            # 100 chats x 8 Telegram calls at 30 calls/s overall: replies are late by design, never lost.
            for no in (1, 2, 3):
                question = _answer(client_local, chat, seq, no, 3, option=no % 4, timeout=150)
                seq = _reveal(client_local, chat, question, timeout=150)["seq"]
            client_local.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=120, after_seq=seq)
            client_local.close()
        except Exception as exc:
            errors.append(f"chat {chat}: {exc}")

    threads = [threading.Thread(target=play, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors[:3]
    stats = client.stats()
    assert stats["limit_breaches"] == 0, stats["breaches"]
    for chat in chats:
        messages = client.messages(chat)
        sent = [m for m in messages if m["kind"] == "message"]
        texts = [m["text"] for m in sent]
        # In order per chat: preparing, question 1, 2, 3, the summary; each reveal an edit of its question.
        assert [("Preparing" in t, "Question" in t, "Game over" in t) for t in texts] == [
            (True, False, False), (False, True, False), (False, True, False), (False, True, False),
            (False, False, True)], texts
        assert [int(t.split("Question ")[1][0]) for t in texts[1:4]] == [1, 2, 3]
        assert len([m for m in messages if m["kind"] == "edit"]) == 3


def test_webhook_mode_end_to_end_and_a_wrong_secret_refused(telegram_webhook):  # noqa: F811
    _stack, client, hook, _secret = telegram_webhook
    chat = client.create_user("Web")["id"]
    client.send_text(chat, "/play literature 1")
    question = _answer(client, chat, 0, 1, 1)
    seq = _reveal(client, chat, question)["seq"]
    client.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=40, after_seq=seq)
    update = {"update_id": 999999, "message": {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private"},
                                               "from": {"id": chat, "is_bot": False, "first_name": "Eve"},
                                               "text": "/play"}}
    refused = requests.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}, timeout=5)
    assert refused.status_code == 403
    missing = requests.post(hook, json=update, timeout=5)
    assert missing.status_code == 403
    time.sleep(1.0)
    assert not any("Preparing" in m["text"] for m in client.messages(chat) if m["seq"] > seq), \
        "a forged update must have no effect"
