"""Session transcripts: a deterministic JSON document of one finished game, and its Markdown rendering.

Plain code. The same database state always yields byte-identical JSON and Markdown (sorted keys, stable
ordering, no "exported at" stamp), so an export that is repeated after a crash or a retry writes the same
bytes and the Git and S3 exporters can be idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from schema.models import Answer, GameQuestion, GameSession, Question, TelegramUser

SCHEMA_VERSION = 1

# A game id becomes a file name and an S3 key: refuse anything that could escape its folder.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+:@=-]{0,199}$")


class TranscriptError(ValueError):
    """A transcript cannot be built: the game is missing or its id is unfit for a file name."""


@attrs.frozen(kw_only=True)
class Transcript:
    """One game's transcript, rendered: the JSON document's text and its Markdown view."""

    game_id: str
    finished_on: dt.date
    json_text: str
    markdown: str

    @property
    def date_path(self) -> str:
        """``YYYY/MM/DD`` of the game's end (UTC), the folder both exporters file it under."""
        return self.finished_on.strftime("%Y/%m/%d")

    @property
    def json_bytes(self) -> bytes:
        """The JSON document as UTF-8 bytes (ends with a newline)."""
        return self.json_text.encode("utf-8")


def rfc3339(value: dt.datetime | None) -> str | None:
    """A naive-UTC (or aware) timestamp as RFC 3339 UTC with milliseconds, e.g. ``2024-05-01T12:00:00.000Z``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def check_game_id(game_id: str) -> str:
    """``game_id`` if it is safe as a file name and an object key, else :class:`TranscriptError`."""
    if not _SAFE_ID.match(game_id) or ".." in game_id:
        raise TranscriptError(f"game id {game_id!r} cannot be used as a file name")
    return game_id


def dumps(document: Mapping[str, Any]) -> str:
    """The canonical JSON text of a transcript: sorted keys, 2-space indent, UTF-8 kept, final newline."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def _answer_document(answer: Answer, subjects: Mapping[int, str]) -> dict[str, Any]:
    return {
        "player": subjects[int(answer.__data__["user"])],
        "raw_answer": answer.raw_answer,
        "verdict": answer.verdict,
        "points": answer.points,
        "latency_ms": answer.latency_ms,
        "judged_by": answer.judged_by,
        "answered_at": rfc3339(answer.created_at),
    }


def build_document(game_id: str) -> dict[str, Any]:
    """The transcript document of one game, read from the database (call inside a connection)."""
    game = GameSession.get_or_none(GameSession.id == game_id)
    if game is None:
        raise TranscriptError(f"game {game_id!r} does not exist")
    answers = list(
        Answer.select().where(Answer.game == game_id).order_by(Answer.position, Answer.created_at, Answer.id)
    )
    user_ids = {int(game.__data__["owner"])} | {int(a.__data__["user"]) for a in answers}
    users = {u.id: u for u in TelegramUser.select().where(TelegramUser.id.in_(sorted(user_ids)))}
    subjects = {uid: user.subject for uid, user in users.items()}
    by_position: dict[int, list[dict[str, Any]]] = {}
    for answer in answers:
        by_position.setdefault(answer.position, []).append(_answer_document(answer, subjects))
    rows = (
        GameQuestion.select(GameQuestion, Question)
        .join(Question)
        .where(GameQuestion.game == game_id)
        .order_by(GameQuestion.position)
    )
    questions = [
        {
            "no": row.position,
            "text": row.question.text,
            "type": row.question.qtype,
            "options": list(row.options or []),
            "correct_answer": row.question.answer,
            "explanation": row.question.explanation,
            "category": row.question.category,
            "difficulty": row.question.difficulty,
            "answers": by_position.get(row.position, []),
        }
        for row in rows
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "game": {
            "id": game.id,
            "mode": game.mode,
            "chat_id": game.chat_id,
            "category": game.category,
            "difficulty": game.difficulty,
            "status": game.status,
            "created_at": rfc3339(game.created_at),
            "finished_at": rfc3339(game.finished_at),
            "score": game.score,
            "question_count": game.question_count,
            "correct_count": game.correct_count,
            "best_streak": game.best_streak,
            "owner": subjects[int(game.__data__["owner"])],
        },
        "players": [
            {"subject": users[uid].subject, "display_name": users[uid].display_name}
            for uid in sorted(users, key=lambda uid: users[uid].subject)
        ],
        "questions": questions,
    }


def finished_on(document: Mapping[str, Any]) -> dt.date:
    """The UTC day a game ended (its start when it has no end), which files the transcript."""
    game = document["game"]
    stamp = game.get("finished_at") or game["created_at"]
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.UTC).date()


def render(document: Mapping[str, Any]) -> Transcript:
    """A transcript (JSON text + Markdown) from its document."""
    game_id = check_game_id(str(document["game"]["id"]))
    return Transcript(
        game_id=game_id,
        finished_on=finished_on(document),
        json_text=dumps(document),
        markdown=render_markdown(document),
    )


def load_transcript(game_id: str) -> Transcript:
    """Read one game and render its transcript (call inside a connection)."""
    return render(build_document(check_game_id(game_id)))


# --- Markdown -------------------------------------------------------------------------------------------

# Characters with an inline meaning in CommonMark/GFM (emphasis, code, links, tables, strikethrough); the
# HTML-significant ones become entities, so a question like "<b>*x*</b> | y" shows literally on a Git host.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# What makes a line a heading, list item, quote or rule when it starts the line.
_MD_LINE_START = re.compile(r"^([#>+=-]|\d+(?=[.)]))")


def escape_markdown(text: object) -> str:
    """``text`` shown literally in Markdown, on one line: HTML entities for ``& < >``, backslashes for the rest."""
    value = "" if text is None else str(text)
    # A line break inside a table cell or list item would end it: keep each value on one line.
    value = re.sub(r"\s*[\r\n]+\s*", " ", value).strip()
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_INLINE.sub(r"\\\1", value)
    match = _MD_LINE_START.match(value)
    if match:
        if match.group(1).isdigit():
            end = match.end()
            value = f"{value[:end]}\\{value[end:]}"
        else:
            value = "\\" + value
    return value


def _cell(value: object) -> str:
    text = escape_markdown(value)
    return text if text else "&nbsp;"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines


def _code_span(value: str) -> str:
    return "`" + value.replace("`", "'") + "`"


def _or_any(value: object) -> str:
    return "any" if value in (None, "") else str(value)


def render_markdown(document: Mapping[str, Any]) -> str:
    """A readable Markdown view of a transcript: title, summary table, one section per question."""
    game = document["game"]
    names = {p["subject"]: p.get("display_name") or p["subject"] for p in document.get("players", [])}
    lines = [f"# Trivia game {escape_markdown(game['id'])}", ""]
    lines += _table(
        ["Field", "Value"],
        [
            ("Status", game.get("status")),
            ("Mode", game.get("mode")),
            ("Category", _or_any(game.get("category"))),
            ("Difficulty", _or_any(game.get("difficulty"))),
            ("Started (UTC)", game.get("created_at")),
            ("Finished (UTC)", game.get("finished_at") or "-"),
            ("Score", game.get("score")),
            ("Correct", f"{game.get('correct_count')} / {game.get('question_count')}"),
            ("Best streak", game.get("best_streak")),
        ],
    )
    players = document.get("players", [])
    if players:
        lines += ["", "## Players", ""]
        lines += [f"- {escape_markdown(p.get('display_name') or p['subject'])} ({_code_span(p['subject'])})"
                  for p in players]
    for question in document.get("questions", []):
        lines += ["", f"## Question {int(question['no']) + 1}", "", escape_markdown(question.get("text")), ""]
        lines.append(
            f"*{escape_markdown(question.get('category'))}, {escape_markdown(question.get('difficulty'))}*"
        )
        options = question.get("options") or []
        if options:
            lines.append("")
            correct = question.get("correct_answer")
            lines += [
                f"{i + 1}. {escape_markdown(option)}" + (" **(correct)**" if option == correct else "")
                for i, option in enumerate(options)
            ]
        lines += ["", f"**Answer:** {escape_markdown(question.get('correct_answer'))}"]
        if question.get("explanation"):
            lines += ["", f"> {escape_markdown(question['explanation'])}"]
        answers = question.get("answers") or []
        lines.append("")
        if answers:
            lines += _table(
                ["Player", "Answer", "Verdict", "Points", "Time (ms)", "Judged by"],
                [
                    (names.get(a["player"], a["player"]), a.get("raw_answer"), a.get("verdict"), a.get("points"),
                     "-" if a.get("latency_ms") is None else a["latency_ms"], a.get("judged_by"))
                    for a in answers
                ],
            )
        else:
            lines.append("*No answer.*")
    return "\n".join(lines) + "\n"
