"""A Telegram user plays a whole solo game in the stand-in: telebot -> API -> Kafka -> worker -> telebot."""

from __future__ import annotations

import re

from schema.models import Answer, GameSession, TelegramUser
from tests.e2e.telegram_fixtures import telegram  # noqa: F401 - the fixture

QUESTION = re.compile(r"Question (\d+)/5")


def _question(client, chat_id, after_seq, no):
    return client.wait_for(chat_id, lambda m: m["kind"] == "message" and m.get("buttons")
                           and f"Question {no}/5" in m["text"], timeout=30, after_seq=after_seq)


def test_a_player_plays_a_five_question_game_in_telegram(telegram, platform_db):  # noqa: F811
    _stack, client = telegram
    user = client.create_user("Alice", username="alice")
    chat = user["id"]
    client.send_text(chat, "/start")
    welcome = client.wait_for(chat, lambda m: m["kind"] == "message", timeout=30)
    assert "Welcome to Trivia" in welcome["text"]

    client.send_text(chat, "/play art 5")
    preparing = client.wait_for(chat, lambda m: "Preparing your game" in (m.get("text") or ""), timeout=30)
    seq = preparing["seq"]
    points_seen = []
    for no in range(1, 6):
        question = _question(client, chat, seq, no)
        assert "Art" in question["text"]
        assert len(question["buttons"]) == 4
        # Tap the first option; the question is edited into its reveal.
        client.click(chat, chat, question["message_id"], question["buttons"][0][0]["callback_data"])
        reveal = client.wait_for(chat, lambda m, mid=question["message_id"]: m["kind"] == "edit"
                                 and m["message_id"] == mid, timeout=30, after_seq=question["seq"])
        assert ("Correct!" in reveal["text"]) != ("Wrong." in reveal["text"]), reveal["text"]
        assert reveal.get("buttons") in (None, [], [[]])
        match = re.search(r"\+(\d+) points", reveal["text"])
        points_seen.append(int(match.group(1)) if match else 0)
        seq = reveal["seq"]
    summary = client.wait_for(chat, lambda m: "Game over" in (m.get("text") or ""), timeout=30, after_seq=seq)
    score = int(re.search(r"Score: (\d+)", summary["plain"] if "plain" in summary else summary["text"]).group(1))
    assert score == sum(points_seen)

    # What the user saw, once each: welcome, preparing, five questions (each edited once), the summary.
    view = [m for m in client.view(chat)["messages"] if m["from_bot"]]
    texts = [m["text"] for m in view]
    assert sum("Question" in t for t in texts) == 5
    assert sum("Game over" in t for t in texts) == 1
    assert sum("Preparing" in t for t in texts) == 1
    assert len(view) == 8, texts
    stats = client.stats()
    assert stats["limit_breaches"] == 0, stats["breaches"]

    with platform_db.connection_context():
        player = TelegramUser.get(TelegramUser.telegram_id == chat)
        game = GameSession.get(GameSession.owner == player)
        assert (game.status, game.score, game.chat_id, game.client_id) == ("finished", score, chat, "telebot")
        answers = list(Answer.select().where(Answer.game == game.id).order_by(Answer.position))
        assert [a.position for a in answers] == [0, 1, 2, 3, 4]
        assert [a.points for a in answers] == points_seen
        assert player.total_points == score

    # After the game: the player's statistics and the leaderboard, read through the API.
    client.send_text(chat, "/stats")
    stats = client.wait_for(chat, lambda m: "Games:" in (m.get("plain") or ""), timeout=30, after_seq=summary["seq"])
    assert "Games: 1" in stats["plain"] and f"Points: {score}" in stats["plain"]
    client.send_text(chat, "/leaderboard")
    board = client.wait_for(chat, lambda m: "Leaderboard" in (m.get("plain") or ""), timeout=30,
                            after_seq=stats["seq"])
    assert f"1. Alice — {score}" in board["plain"]
