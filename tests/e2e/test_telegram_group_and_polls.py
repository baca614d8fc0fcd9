"""Group play and quiz polls end to end in the Telegram stand-in, through the real telebot, API and worker."""

from __future__ import annotations

import re

from schema.models import Answer, GameSession
from tests.e2e.telegram_fixtures import telegram  # noqa: F401 - the fixture


def _is_question(no: int, total: int):
    return lambda m: m["kind"] == "message" and m.get("buttons") and f"Question {no}/{total}" in m["text"]


def _edit_of(message):
    return lambda m: m["kind"] == "edit" and m["message_id"] == message["message_id"]


def test_three_players_race_in_a_group_with_a_timeout_and_a_hint(telegram, platform_db):  # noqa: F811
    _stack, client = telegram
    ann, bob, cy = (client.create_user(name)["id"] for name in ("Ann", "Bob", "Cy"))
    group = client.create_group("Quiz night", [ann, bob, cy], admin_ids=[ann])["id"]
    client.send_text(bob, "/settings timer 10", chat_id=group)
    refused = client.wait_for(group, lambda m: m["kind"] == "message", timeout=30)
    assert "Only chat admins" in refused["plain"]
    client.send_text(ann, "/settings timer 10", chat_id=group)
    saved = client.wait_for(group, lambda m: "Saved" in m.get("plain", ""), timeout=30, after_seq=refused["seq"])
    client.send_text(ann, "/play art 3", chat_id=group)

    # Question 1: Bob is wrong, Cy is right and wins it; Bob's second tap is ignored.
    q1 = client.wait_for(group, _is_question(1, 3), timeout=30, after_seq=saved["seq"])
    assert "first correct answer wins" in q1["plain"]
    options = [row[0]["text"] for row in q1["buttons"]]
    with platform_db.connection_context():
        game = GameSession.get(GameSession.chat_id == group)
    right = _correct_option(platform_db, game.id, 0, options)
    wrong = (right + 1) % 4
    client.click(bob, group, q1["message_id"], q1["buttons"][wrong][0]["callback_data"])
    client.click(bob, group, q1["message_id"], q1["buttons"][right][0]["callback_data"])
    client.click(cy, group, q1["message_id"], q1["buttons"][right][0]["callback_data"])
    reveal1 = client.wait_for(group, _edit_of(q1), timeout=30, after_seq=q1["seq"])
    assert "Cy got it" in reveal1["plain"], reveal1["plain"]
    assert re.search(r"🥇 Cy — \d+", reveal1["plain"]) and "Bob — 0" in reveal1["plain"]

    # Question 2: nobody answers; the 10 s timer reveals it.
    q2 = client.wait_for(group, _is_question(2, 3), timeout=30, after_seq=reveal1["seq"])
    reveal2 = client.wait_for(group, _edit_of(q2), timeout=40, after_seq=q2["seq"])
    assert "Nobody got it" in reveal2["plain"]

    # Question 3: Bob asks for a hint, then Ann answers right.
    q3 = client.wait_for(group, _is_question(3, 3), timeout=30, after_seq=reveal2["seq"])
    client.send_text(bob, "/hint", chat_id=group)
    hint = client.wait_for(group, lambda m: "Hint:" in m.get("plain", ""), timeout=30, after_seq=q3["seq"])
    assert "_" in hint["plain"]
    right3 = _correct_option(platform_db, game.id, 2, [row[0]["text"] for row in q3["buttons"]])
    client.click(ann, group, q3["message_id"], q3["buttons"][right3][0]["callback_data"])
    reveal3 = client.wait_for(group, _edit_of(q3), timeout=30, after_seq=hint["seq"])
    assert "Ann got it" in reveal3["plain"]
    summary = client.wait_for(group, lambda m: "Game over" in m.get("plain", ""), timeout=30,
                              after_seq=reveal3["seq"])
    assert summary["plain"].index("Cy") < summary["plain"].index("Ann") or "Ann" in summary["plain"]

    with platform_db.connection_context():
        game = GameSession.get_by_id(game.id)
        assert (game.mode, game.status) == ("group", "finished")
        rows = list(Answer.select().where(Answer.game == game.id).order_by(Answer.id))
        by_player = [(row.user.display_name, row.position, row.verdict) for row in rows]
        assert by_player == [("Bob", 0, "incorrect"), ("Cy", 0, "correct"), ("Ann", 2, "correct")]
        hinted, unhinted = rows[2].points, rows[1].points
        assert 0 < hinted < unhinted * 2, "the hint costs part of question 3's points"
    assert client.stats()["limit_breaches"] == 0


def _correct_option(database, game_id, position, options):
    from schema.models import GameQuestion, Question

    with database.connection_context():
        gq = GameQuestion.get(GameQuestion.game == game_id, GameQuestion.position == position)
        return options.index(Question.get_by_id(gq.question_id).answer)


def test_a_quiz_poll_game(telegram, platform_db):  # noqa: F811
    _stack, client = telegram
    dee = client.create_user("Dee")["id"]
    client.send_text(dee, "/settings type poll")
    client.wait_for(dee, lambda m: "Saved" in m.get("plain", ""), timeout=30)
    client.send_text(dee, "/play science 2")
    seq = 0
    for no in (1, 2):
        poll = client.wait_for(
            dee, lambda m, no=no: m["kind"] == "poll" and m["poll"]["question"].startswith(f"{no}/2"),
            timeout=30, after_seq=seq)
        assert poll["poll"]["type"] == "quiz" and not poll["poll"]["is_anonymous"]
        correct = poll["poll"]["correct_option_ids"][0]
        client.answer_poll(dee, poll["poll"]["id"], [correct if no == 1 else (correct + 1) % 4])
        result = client.wait_for(dee, lambda m: m["kind"] == "message" and ("Correct!" in m["plain"]
                                 or "Wrong." in m["plain"]), timeout=30, after_seq=poll["seq"])
        assert ("Correct!" in result["plain"]) == (no == 1)
        seq = result["seq"]
    summary = client.wait_for(dee, lambda m: "Game over" in m.get("plain", ""), timeout=30, after_seq=seq)
    assert "Correct: 1/2" in summary["plain"]
    with platform_db.connection_context():
        game = GameSession.get(GameSession.chat_id == dee)
        verdicts = [a.verdict for a in Answer.select().where(Answer.game == game.id).order_by(Answer.position)]
        assert verdicts == ["correct", "incorrect"]
