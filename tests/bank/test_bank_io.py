"""``trivia-bank`` and schema.bank_io: JSON <-> CSV round trips, problems by line, OpenTDB imports into PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import attrs
import peewee as pw
import pytest
from playhouse.pool import PooledDatabase

from schema.bank import BankQuestion, load_bank
from schema.bank_io import (
    CSV_COLUMNS,
    SKIP_BOOLEAN,
    read_bank_json,
    read_csv,
    read_opentdb,
    write_bank_json,
    write_csv,
)
from schema.db import bind_database
from schema.migrations import apply_migrations
from schema.models import Question

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str | Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRIVIA_ENV": "test"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "gateways.bank_cli", *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def summary_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON summary line, got {done.stdout!r} (stderr: {done.stderr})"
    summary: dict[str, Any] = json.loads(lines[0])
    return summary


def as_imported(questions: list[BankQuestion]) -> list[BankQuestion]:
    return [attrs.evolve(q, source="import") for q in questions]


# --- round trips (no database) ------------------------------------------------------------------------


def test_the_whole_bank_round_trips_through_csv_and_json() -> None:
    bank = load_bank()
    as_csv = write_csv(bank)
    from_csv = read_csv(as_csv, "bank.csv")
    assert from_csv.problems == ()
    assert from_csv.questions == as_imported(bank)

    as_json = write_bank_json(from_csv.questions)
    from_json = read_bank_json(as_json, "bank.json")
    assert from_json.problems == ()
    assert from_json.questions == as_imported(bank)
    assert write_csv(from_json.questions) == as_csv


AWKWARD = [
    BankQuestion(external_id="x-1", category="science", text='Which "noble" gas, symbol Ne, glows red-orange?',
                 answer="Neon", aliases=("Ne", "neon gas"), distractors=("Argon, maybe", "Xénon", "Krypton"),
                 difficulty="easy", explanation="Neon signs glow red-orange;\nother gases give other colours.",
                 tf_true="Neon glows red-orange in a discharge tube.",
                 tf_false="Neon glows deep blue in a discharge tube."),
    BankQuestion(external_id="x-2", category="geography", text="How high is Mount Everest, in metres?",
                 answer="8849", aliases=("8,849",), distractors=("8611", "8091", "8516"), difficulty="hard",
                 explanation="The 2020 Chinese-Nepali survey gave 8,848.86 m.", numeric_value=8848.86,
                 numeric_tolerance=50.5),
    # Cyrillic on purpose: non-Latin text must survive both formats untouched.
    BankQuestion(external_id="x-3", category="film_tv", text="Который фильм 1997 года о корабле?",  # noqa: RUF001
                 answer="Титаник", aliases=(), distractors=("Аватар", "Матрица", "Гладиатор"),
                 difficulty="medium", explanation="«Титаник» Джеймса Кэмерона."),
]


def test_awkward_content_survives_both_formats() -> None:
    back_from_csv = read_csv(write_csv(AWKWARD), "awkward.csv")
    assert back_from_csv.problems == ()
    assert back_from_csv.questions == as_imported(AWKWARD)
    back_from_json = read_bank_json(write_bank_json(AWKWARD), "awkward.json")
    assert back_from_json.problems == ()
    # JSON groups the questions by category (sorted by slug), so compare by id.
    assert sorted(back_from_json.questions, key=lambda q: q.external_id) == as_imported(AWKWARD)
    # Several categories give a list of bank documents; one category gives a plain bank file.
    assert isinstance(json.loads(write_bank_json(AWKWARD)), list)
    single = json.loads(write_bank_json(AWKWARD[:1]))
    assert single["slug"] == "science"
    assert single["questions"][0]["tf"] == {"true": AWKWARD[0].tf_true, "false": AWKWARD[0].tf_false}


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _row(**cells: str) -> list[str]:
    base = {"id": "", "category": "science", "difficulty": "easy", "text": "What is H2O commonly called?",
            "answer": "Water", "aliases": "", "distractor_1": "Salt", "distractor_2": "Air", "distractor_3": "Oil",
            "explanation": "Two hydrogen atoms and one oxygen atom.", "numeric_value": "", "numeric_tolerance": "",
            "tf_true": "", "tf_false": ""}
    base.update(cells)
    return [base[column] for column in CSV_COLUMNS]


def test_validate_reports_each_bad_csv_row_by_its_line(tmp_path: Path) -> None:
    rows = [
        list(CSV_COLUMNS),  # line 1
        _row(id="ok-1"),  # line 2
        _row(id="short", text="Name a primary colour.", answer="Red", distractor_3=""),  # line 3
        _row(id="ok-2", text="What is the largest planet?", answer="Jupiter",
             explanation="Jupiter is more than twice\nas massive as the other planets combined."),  # lines 4-5
        _row(id="hard-ish", text="What is 2 + 2?", answer="4", difficulty="extreme"),  # line 6
        [],  # line 7: blank, ignored
        _row(id="bad-cat", text="Who directed Jaws?", answer="Steven Spielberg", category="Film & TV"),  # line 8
        _row(id="copy", text="what is h2o COMMONLY called", answer="water"),  # line 9: same content as line 2
    ]
    path = tmp_path / "questions.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    done = run_cli("validate", path)
    assert done.returncode == 1, done.stderr
    problems = done.stdout.splitlines()
    assert len(problems) == 4, problems
    assert problems[0].startswith("questions.csv line 3 (short): ") and "distractor" in problems[0]
    assert problems[1].startswith("questions.csv line 6 (hard-ish): ") and "'difficulty'" in problems[1]
    assert problems[2].startswith("questions.csv line 8: ") and "'category'" in problems[2]
    assert problems[3] == "questions.csv line 9 (copy): same question as questions.csv line 2 (ok-1)"
    assert "6 item(s), 2 valid and distinct, 4 problem(s)" in done.stderr

    ok = tmp_path / "ok.csv"
    ok.write_text(_csv_text([list(CSV_COLUMNS), _row(id="ok-1")]), encoding="utf-8")
    clean = run_cli("validate", ok)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == ""


def test_a_csv_header_with_a_typo_is_refused_whole() -> None:
    header = [("distractor1" if c == "distractor_1" else c) for c in CSV_COLUMNS]
    result = read_csv(_csv_text([header, _row()]), "typo.csv")
    assert result.read == 0
    assert result.entries == ()
    assert len(result.problems) == 1
    assert "missing columns distractor_1" in result.problems[0]
    assert "unknown columns distractor1" in result.problems[0]


def test_json_problems_name_the_line_the_item_starts_on() -> None:
    good = {"id": "g-1", "text": "What colour is chlorophyll?", "answer": "Green", "aliases": [],
            "distractors": ["Red", "Blue", "Yellow"], "difficulty": "easy", "explanation": "It reflects green light."}
    bad = {**good, "id": "g-2", "text": "What colour is a ripe banana?", "answer": "Yellow", "explanation": ""}
    text = json.dumps({"category": "Science", "slug": "science", "questions": [good, bad]}, indent=2)
    result = read_bank_json(text, "science.json")
    line = text.splitlines().index('    {', text.splitlines().index('        "Yellow"')) + 1
    assert [e.question.external_id for e in result.entries] == ["g-1"]
    assert result.problems == (f"science.json line {line} (g-2): 'explanation' must be a non-empty string",)
    assert read_bank_json("{\n  \"slug\": ", "broken.json").problems[0].startswith("broken.json line 2: not valid")


# --- OpenTDB ------------------------------------------------------------------------------------------

OPENTDB_ITEMS: list[dict[str, Any]] = [
    {"type": "multiple", "difficulty": "easy", "category": "Science: Computers",
     "question": "What does &quot;HTML&quot; stand for?", "correct_answer": "Hypertext Markup Language",
     "incorrect_answers": ["Hyperlink and Text Markup Language", "Home Tool Markup Language",
                           "Hyper Tool Multi Language"]},
    {"type": "multiple", "difficulty": "medium", "category": "Entertainment: Film",
     "question": "Which director&#039;s film &quot;Jaws&quot; (1975) is called the first summer blockbuster?",
     "correct_answer": "Steven Spielberg", "incorrect_answers": ["George Lucas", "Martin Scorsese",
                                                                 "Francis Ford Coppola"]},
    {"type": "boolean", "difficulty": "easy", "category": "Science &amp; Nature",
     "question": "The Sun is a star.", "correct_answer": "True", "incorrect_answers": ["False"]},
    {"type": "multiple", "difficulty": "hard", "category": "Entertainment: Radio Dramas",
     "question": "In which decade did the BBC first broadcast &quot;The Archers&quot;?",
     "correct_answer": "1950s", "incorrect_answers": ["1930s", "1960s", "1970s"]},
    {"type": "multiple", "difficulty": "medium", "category": "History",
     "question": "In which year did the Berlin Wall fall?", "correct_answer": "1989",
     "incorrect_answers": ["1991", "1987"]},
    {"type": "multiple", "difficulty": "easy", "category": "Geography",
     "question": "Which river flows through both Budapest &amp; Vienna?", "correct_answer": "Danube",
     "incorrect_answers": ["Rhine", "Elbe", "Vistula"]},
    # The first item again, typed differently: the same content hash, so a duplicate.
    {"type": "multiple", "difficulty": "easy", "category": "Science: Computers",
     "question": "What does HTML stand for", "correct_answer": "HyperText Markup Language",
     "incorrect_answers": ["Hyperlink and Text Markup Language", "Home Tool Markup Language",
                           "Hyper Tool Multi Language"]},
]
BERLIN_LINE = 2 + 4  # one item per line after the opening line
ENTITIES = ("&quot;", "&#039;", "&amp;")


def write_opentdb(path: Path) -> Path:
    lines = ['{"response_code": 0, "results": [']
    lines += [json.dumps(item) + ("," if n < len(OPENTDB_ITEMS) - 1 else "") for n, item in enumerate(OPENTDB_ITEMS)]
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_opentdb_items_are_decoded_mapped_and_skipped_with_reasons(tmp_path: Path) -> None:
    path = write_opentdb(tmp_path / "opentdb.json")
    result = read_opentdb(path.read_text(encoding="utf-8"), path.name)
    assert result.read == 7
    assert result.skipped == {SKIP_BOOLEAN: 1}
    assert result.invalid == 1
    assert result.problems[0].startswith(f"opentdb.json line {BERLIN_LINE} (otdb-")
    by_answer = {q.answer: q for q in result.questions}
    assert by_answer["Hypertext Markup Language"].text == 'What does "HTML" stand for?'
    assert by_answer["Steven Spielberg"].text.startswith("Which director's film \"Jaws\" (1975)")
    assert by_answer["Danube"].text == "Which river flows through both Budapest & Vienna?"
    assert {q.answer: q.category for q in result.questions} == {
        "Hypertext Markup Language": "technology", "Steven Spielberg": "film_tv",
        "1950s": "entertainment_radio_dramas", "Danube": "geography", "HyperText Markup Language": "technology",
    }
    for question in result.questions:
        assert question.external_id == f"otdb-{question.content_hash[:32]}"
        assert question.source == "opentdb"
        assert question.explanation


def _close(database: pw.Database) -> None:
    if isinstance(database, PooledDatabase):
        database.close_all()


def migrated(url: str) -> str:
    database = bind_database(url, max_connections=2)
    try:
        with database.connection_context():
            apply_migrations(database)
    finally:
        _close(database)
    return url


@pytest.fixture
def migrated_db(pg_factory: Callable[[], str]) -> str:
    return migrated(pg_factory())


def stored(url: str) -> list[dict[str, Any]]:
    database = bind_database(url, max_connections=2)
    try:
        with database.connection_context():
            rows: Iterable[dict[str, Any]] = cast(Any, Question.select().order_by(Question.id).dicts())
            return list(rows)
    finally:
        _close(database)


def test_opentdb_import_decodes_entities_and_deduplicates(tmp_path: Path, migrated_db: str) -> None:
    path = write_opentdb(tmp_path / "opentdb.json")

    dry = run_cli("import", path, "--dry-run", database_url=migrated_db)
    assert dry.returncode == 1, dry.stderr  # 1: an item was invalid
    assert summary_of(dry) == {"read": 7, "imported": 4, "duplicates": 1, "invalid": 1,
                               "skipped": {SKIP_BOOLEAN: 1}}
    assert stored(migrated_db) == []

    first = run_cli("import", path, "--format", "opentdb", database_url=migrated_db)
    assert summary_of(first) == {"read": 7, "imported": 4, "duplicates": 1, "invalid": 1,
                                 "skipped": {SKIP_BOOLEAN: 1}}
    assert first.returncode == 1
    assert f"opentdb.json line {BERLIN_LINE} (otdb-" in first.stderr
    assert "'distractors' must be a list of exactly 3 strings" in first.stderr

    rows = stored(migrated_db)
    assert len(rows) == 4
    texts = {row["text"] for row in rows}
    assert 'What does "HTML" stand for?' in texts
    assert "Which director's film \"Jaws\" (1975) is called the first summer blockbuster?" in texts
    assert "Which river flows through both Budapest & Vienna?" in texts
    for row in rows:
        for value in (row["text"], row["answer"], *row["options"]):
            assert not any(entity in value for entity in ENTITIES), value
        assert row["source"] == "opentdb"
        assert row["external_id"] == f"otdb-{row['content_hash'][:32]}"
        assert len(row["options"]) == 4
    assert {row["category"] for row in rows} == {"technology", "film_tv", "entertainment_radio_dramas",
                                                 "geography"}

    again = run_cli("import", path, database_url=migrated_db)
    assert summary_of(again) == {"read": 7, "imported": 0, "duplicates": 5, "invalid": 1,
                                 "skipped": {SKIP_BOOLEAN: 1}}
    assert len(stored(migrated_db)) == 4


def test_export_and_reimport_elsewhere(tmp_path: Path, pg_factory: Callable[[], str], migrated_db: str) -> None:
    imported = run_cli("import", write_opentdb(tmp_path / "opentdb.json"), database_url=migrated_db)
    assert summary_of(imported)["imported"] == 4

    one = run_cli("export", "--format", "csv", "--category", "technology", "--out", tmp_path / "tech.csv",
                  database_url=migrated_db)
    assert one.returncode == 0, one.stderr
    technology = read_csv((tmp_path / "tech.csv").read_text(encoding="utf-8"), "tech.csv")
    assert [q.text for q in technology.questions] == ['What does "HTML" stand for?']

    everything = run_cli("export", database_url=migrated_db)
    assert everything.returncode == 0, everything.stderr
    documents = json.loads(everything.stdout)
    assert sorted(d["slug"] for d in documents) == ["entertainment_radio_dramas", "film_tv", "geography",
                                                    "technology"]
    (tmp_path / "all.json").write_text(everything.stdout, encoding="utf-8")
    all_csv = run_cli("export", "--format", "csv", "--out", tmp_path / "all.csv", database_url=migrated_db)
    assert all_csv.returncode == 0, all_csv.stderr

    other = migrated(pg_factory())
    from_json = run_cli("import", tmp_path / "all.json", database_url=other)
    assert from_json.returncode == 0, from_json.stderr
    assert summary_of(from_json) == {"read": 4, "imported": 4, "duplicates": 0, "invalid": 0, "skipped": {}}
    from_csv = run_cli("import", tmp_path / "all.csv", database_url=other)
    assert summary_of(from_csv) == {"read": 4, "imported": 0, "duplicates": 4, "invalid": 0, "skipped": {}}
    copied = {(r["external_id"], r["text"], tuple(r["options"])) for r in stored(other)}
    assert copied == {(r["external_id"], r["text"], tuple(r["options"])) for r in stored(migrated_db)}


def test_import_into_an_uninitialised_database_says_what_to_do(tmp_path: Path,
                                                               pg_factory: Callable[[], str]) -> None:
    bare = pg_factory()
    done = run_cli("import", write_opentdb(tmp_path / "opentdb.json"), database_url=bare)
    assert done.returncode == 1
    assert "run trivia-db-init first" in done.stderr
