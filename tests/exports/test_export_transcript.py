"""Transcripts: deterministic JSON, readable and safely escaped Markdown, built from a real finished game."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from schema.db import bind_database
from schema.models import GameSession
from tests.exports.documents import sample_document
from tests.exports.games import fresh_database, play_game
from trivia_actors.exports.transcript import (
    TranscriptError,
    build_document,
    check_game_id,
    escape_markdown,
    load_transcript,
    render,
    render_markdown,
)


def _reordered(value):
    """The same JSON value with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_same_document_gives_byte_identical_json_and_markdown():
    document = sample_document()
    first, second = render(document), render(_reordered(document))
    assert first.json_bytes == second.json_bytes
    assert first.markdown == second.markdown
    assert first.json_text == json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
    assert first.date_path == "2024/05/01"


def test_json_keeps_unicode_and_sorts_keys():
    document = sample_document()
    document["questions"][0]["text"] = "Qui a peint « La Joconde » ? 名画"
    text = render(document).json_text
    assert "« La Joconde » ? 名画" in text
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert text.index('"game"') < text.index('"players"') < text.index('"questions"')


def test_markdown_has_title_summary_table_and_a_section_per_question():
    markdown = render_markdown(sample_document("g-7"))
    lines = markdown.splitlines()
    assert lines[0] == "# Trivia game g-7"
    assert "| Field | Value |" in lines
    assert "| Score | 150 |" in lines
    assert "| Correct | 1 / 2 |" in lines
    assert "## Question 1" in lines and "## Question 2" in lines
    assert "2. Leonardo da Vinci **(correct)**" in lines
    assert "| Ann | Louvre | incorrect | 0 | 5000 | local |" in lines


def test_markdown_escapes_html_and_markdown_syntax():
    document = sample_document()
    document["questions"][0]["text"] = "<script>alert(1)</script> is *this* | a [link](http://x) `code` ~x~ & more"
    document["questions"][0]["options"][0] = "# not a heading"
    document["questions"][0]["answers"][0]["raw_answer"] = "a | b\nsecond line"
    document["players"][0]["display_name"] = "_Ann_ <b>"
    markdown = render_markdown(document)
    assert "<script>" not in markdown and "<b>" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "\\*this\\*" in markdown
    assert "\\[link\\](http://x)" in markdown
    assert "\\`code\\`" in markdown and "\\~x\\~" in markdown
    assert "&amp; more" in markdown
    assert "1. \\# not a heading" in markdown
    # A pipe or a line break in an answer must not break the table row.
    assert "| \\_Ann\\_ &lt;b&gt; | a \\| b second line | correct |" in markdown


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("# Title", "\\# Title"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("> quote", "&gt; quote"),
        ("1. first", "1\\. first"),
        ("2) second", "2\\) second"),
        ("plain text", "plain text"),
        ("a\r\n\r\nb", "a b"),
        (None, ""),
    ],
)
def test_escape_markdown_neutralises_line_starts(raw, escaped):
    assert escape_markdown(raw) == escaped


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "a\\b", ".hidden", "x" * 201, "tab\there"])
def test_unsafe_game_ids_are_refused(bad):
    with pytest.raises(TranscriptError):
        check_game_id(bad)


def test_transcript_of_a_played_game(export_db):
    game_id = play_game(export_db, moves=("correct", "wrong", None), name="Zoë <admin>")
    with export_db.connection_context():
        document = build_document(game_id)
        game = GameSession.get_by_id(game_id)
    assert document["schema_version"] == 1
    summary = document["game"]
    assert summary["id"] == game_id
    assert summary["status"] == "finished"
    assert summary["score"] == game.score and summary["correct_count"] == 1
    assert summary["question_count"] == 3 and summary["best_streak"] == 1
    assert summary["finished_at"].endswith("Z") and summary["created_at"].endswith("Z")
    assert [p["display_name"] for p in document["players"]] == ["Zoë <admin>"]
    assert [q["no"] for q in document["questions"]] == [0, 1, 2]
    verdicts = [[a["verdict"] for a in q["answers"]] for q in document["questions"]]
    assert verdicts == [["correct"], ["incorrect"], []]
    first = document["questions"][0]
    assert first["answers"][0]["raw_answer"] == first["correct_answer"]
    assert first["answers"][0]["points"] > 0 and first["answers"][0]["answered_at"].endswith("Z")
    assert set(first) >= {"text", "options", "correct_answer", "explanation", "category", "difficulty"}
    finished = dt.datetime.fromisoformat(summary["finished_at"].replace("Z", "+00:00"))
    with export_db.connection_context():
        transcript = load_transcript(game_id)
    assert transcript.date_path == finished.strftime("%Y/%m/%d")
    assert json.loads(transcript.json_text) == document


def test_same_database_state_gives_byte_identical_transcripts(pg_factory):
    url = pg_factory()
    database = fresh_database(url)
    try:
        game_id = play_game(database, moves=("correct", "correct", "wrong"))
        with database.connection_context():
            first = load_transcript(game_id)
            second = load_transcript(game_id)
        assert first == second
    finally:
        database.close_all()
    # A new connection pool (another process, after a restart) reads the same bytes.
    rebound = bind_database(url)
    try:
        with rebound.connection_context():
            third = load_transcript(game_id)
    finally:
        rebound.close_all()
    assert third.json_bytes == first.json_bytes and third.markdown == first.markdown
    assert "## Question 3" in third.markdown
