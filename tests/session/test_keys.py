"""Key formats: whatever is built parses back to the same thing, and what is not ours parses to None."""

from __future__ import annotations

import pytest

from schema import events as ev
from trivia_actors.session import AnswerCallback, LeaderboardCallback, PollKey, keys, rendering


def test_answer_buttons_parse_back_to_the_question_and_option() -> None:
    question = ev.QuestionView(no=12, text="Q?", options=("a", "b", "c"), category="art", difficulty="easy")
    tag = keys.game_tag("3f2b8c1e-0000-4000-8000-000000000001")
    buttons = [row[0] for row in rendering.answer_keyboard(tag, question)]
    assert [b.data for b in buttons] == ["a:3f2b8c1e:12:0", "a:3f2b8c1e:12:1", "a:3f2b8c1e:12:2"]
    assert [AnswerCallback.parse(b.data) for b in buttons] == [
        AnswerCallback(game_tag="3f2b8c1e", question_no=12, option=i) for i in range(3)]
    assert all(len(b.data.encode()) <= 64 for b in buttons), "Telegram's limit on callback data"


@pytest.mark.parametrize("data", ["", "a:3f2b8c1e:1", "a:3F2B8C1E:1:0", "a:3f2b8c1e:1000:0", "a:3f2b8c1e:1:10",
                                  "x:3f2b8c1e:1:0", "a:3f2b8c1e:1:0:extra", "lb:g:a:1"])
def test_foreign_callback_data_is_not_an_answer(data: str) -> None:
    assert AnswerCallback.parse(data) is None


@pytest.mark.parametrize("board", [
    LeaderboardCallback(chat_only=True, weekly=False, page=1),
    LeaderboardCallback(chat_only=False, weekly=True, page=999),
])
def test_leaderboard_pages_parse_back(board: LeaderboardCallback) -> None:
    data = board.build()
    assert data.startswith(LeaderboardCallback.PREFIX)
    assert LeaderboardCallback.parse(data) == board


@pytest.mark.parametrize("data", ["lb:x:a:1", "lb:g:a:1000", "lb:g:all:1", "a:3f2b8c1e:1:0"])
def test_foreign_callback_data_is_not_a_leaderboard_page(data: str) -> None:
    assert LeaderboardCallback.parse(data) is None


def test_poll_keys_parse_back_and_other_message_keys_are_not_polls() -> None:
    poll = PollKey(game_tag="3f2b8c1e", question_no=4)
    assert poll.build() == "3f2b8c1e:p:4"
    assert PollKey.parse(poll.build()) == poll
    assert PollKey.parse(keys.question_key("3f2b8c1e", 4)) is None
    assert PollKey.parse("3f2b8c1e:p:٤") is None, "only ASCII digits"
