"""What a session shows in its chat: the texts of questions, reveals, scores and summaries, and the answer buttons.

Texts come from the catalog (:mod:`trivia_actors.session.texts`), which escapes and fits every value; only
parts already rendered are joined here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from schema.events import AnswerEvaluated, GameSummary, QuestionView
from trivia_actors.rules import QuestionType
from trivia_actors.session import texts
from trivia_actors.session.keys import AnswerCallback
from trivia_actors.session.ports import Button, Keyboard

# One scoreboard line: a player's name and score, best first.
BoardLine = tuple[str, int]

MEDALS = ("🥇", "🥈", "🥉")


def answer_keyboard(tag: str, question: QuestionView) -> Keyboard:
    """One button per option (labels cut to Telegram's 100 characters), each an :class:`AnswerCallback`."""
    return tuple(
        (Button(text=option[:100],
                data=AnswerCallback(game_tag=tag, question_no=question.no, option=index).build()),)
        for index, option in enumerate(question.options)
    )


def question_text(question: QuestionView, total: int) -> str:
    """The question as shown in the chat."""
    return texts.render(
        "question",
        no=question.no + 1,
        total=total,
        category=question.category.replace("_", " ").title(),
        difficulty=question.difficulty,
        text=question.text,
    )


def question_message(question: QuestionView, total: int, *, question_type: QuestionType, group: bool,
                     time_limit_s: float) -> str:
    """The question with the time there is to answer it, and how."""
    seconds = round(time_limit_s)
    if question_type == QuestionType.TEXT:
        return question_text(question, total) + texts.render("time_left_text", seconds=seconds)
    return question_text(question, total) + texts.render("time_left_group" if group else "time_left",
                                                         seconds=seconds)


def poll_title(question: QuestionView, total: int) -> str:
    """A quiz poll's question line."""
    return f"{question.no + 1}/{total} · {question.text}"


def poll_open_period(time_limit_s: float) -> int:
    """How long a quiz poll stays open: the question's time, within what Telegram allows (5 to 600 s)."""
    return max(5, min(600, round(time_limit_s)))


def preparing_text(*, topic: str | None, category: str | None) -> str:
    """The reply to /play while the game is created."""
    label = topic or (category or "").replace("_", " ")
    return texts.render("preparing", category=f" ({label})" if label else "")


def reveal_text(question: QuestionView, payload: AnswerEvaluated, *, total: int, group: bool,
                scoreboard: Sequence[BoardLine]) -> str:
    """The question message once closed: verdict, answer, explanation and (groups) the scoreboard."""
    reveal = question_text(question, total) + "\n\n"
    if group:
        if payload.verdict == "correct":
            reveal += texts.render("group_winner", name=payload.player_name, points=payload.points,
                                   answer=payload.correct_answer)
        else:
            reveal += texts.render("group_nobody", answer=payload.correct_answer)
    elif payload.verdict == "correct":
        streak = f" · 🔥 streak {payload.streak}" if payload.streak > 1 else ""
        reveal += texts.render("correct", points=payload.points, streak=streak, score=payload.score)
    else:
        if payload.given:
            reveal += texts.render("your_answer", given=payload.given).lstrip("\n") + "\n"
        key = payload.verdict if payload.verdict in {"late", "timeout"} else "incorrect"
        reveal += texts.render(key, answer=payload.correct_answer, score=payload.score)
    if payload.judged_by == "deepseek" and payload.reason:
        reveal += texts.render("judged_by_ai", reason=payload.reason)
    if payload.explanation:
        reveal += texts.render("explanation", explanation=payload.explanation)
    if group and scoreboard:
        reveal += "\n\n" + scoreboard_lines(scoreboard, limit=5)
    return reveal


def close_text(*, group: bool, name: str) -> str:
    """A "close, try again" verdict."""
    return texts.render("close_named" if group else "close", name=name)


def score_text(*, group: bool, scoreboard: Sequence[BoardLine], score: int, question_no: int, total: int) -> str:
    """The reply to /score: the group's scoreboard, or the player's score so far."""
    if group and scoreboard:
        return texts.raw("scoreboard_title") + "\n" + scoreboard_lines(scoreboard)
    return texts.render("score", score=score, no=question_no + 1, total=total)


def summary_text(summary: GameSummary, *, group: bool, scoreboard: Sequence[BoardLine]) -> str:
    """The game-over message: the group's final board, or the player's score and streak."""
    if group:
        return texts.raw("group_summary", board=scoreboard_lines(scoreboard) or "—")
    return texts.render("summary", score=summary.score, correct=summary.correct_count,
                        total=summary.question_count, streak=summary.best_streak)


def scoreboard_lines(board: Sequence[BoardLine], *, limit: int = 10) -> str:
    """The scoreboard as HTML lines with medals for the top three."""
    lines = []
    for rank, (name, score) in enumerate(board[:limit]):
        badge = MEDALS[rank] if rank < len(MEDALS) else f"{rank + 1}."
        lines.append(f"{badge} {html.escape(str(name))} — {int(score)}")
    return "\n".join(lines)
