"""One question-row mapping: the bank seed, ``trivia-bank import`` (JSON and OpenTDB) and DeepSeek's generated
questions all store the same ``questions`` row for the same bank question, numeric and true/false fields included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import peewee as pw
import pytest
from playhouse.pool import PooledDatabase

from schema.bank import BankQuestion, question_row, seed_questions
from schema.bank_io import read_bank_json, read_opentdb, write_bank_json
from schema.db import bind_database
from schema.migrations import apply_migrations
from schema.models import Question
from trivia_actors.deepseek import store_questions
from trivia_actors.rules import QuestionSource

REPO_ROOT = Path(__file__).resolve().parents[2]
# What the database adds on its own: not part of the mapping.
GENERATED_COLUMNS = ("id", "created_at")

NUMERIC_TRUE_FALSE = BankQuestion(
    external_id="ds-volcano-count", category="volcanoes", text="How many active volcanoes does Iceland have, roughly?",
    answer="32", aliases=("thirty-two",), distractors=("12", "55", "130"), difficulty="hard",
    explanation="Iceland counts about 32 active volcanic systems.", numeric_value=32.0, numeric_tolerance=2.0,
    tf_true="Iceland has about 32 active volcanic systems.", tf_false="Iceland has no active volcano.",
    source=QuestionSource.DEEPSEEK,
)
OPENTDB_REPLY = {"response_code": 0, "results": [{
    "type": "multiple", "difficulty": "easy", "category": "Science &amp; Nature",
    "question": "What is the chemical symbol of &quot;gold&quot;?", "correct_answer": "Au",
    "incorrect_answers": ["Ag", "Gd", "Go"],
}]}


@pytest.fixture
def database(pg_factory: Callable[[], str]) -> Iterator[tuple[str, pw.Database]]:
    """A fresh migrated database with no questions, and its URL (for the ``trivia-bank`` command)."""
    url = pg_factory()
    database = bind_database(url, max_connections=2)
    with database.connection_context():
        apply_migrations(database)
    yield url, database
    if isinstance(database, PooledDatabase):
        database.close_all()


def _stored_row(database: pw.Database, question: BankQuestion) -> dict[str, Any]:
    with database.connection_context():
        row: dict[str, Any] = Question.select().where(Question.content_hash == question.content_hash).dicts().get()
        Question.delete().execute()  # the next path starts from an empty table
    return {key: value for key, value in row.items() if key not in GENERATED_COLUMNS}


def _seeded(database: pw.Database, question: BankQuestion) -> dict[str, Any]:
    with database.connection_context():
        assert seed_questions(database, [question]) == 1
    return _stored_row(database, question)


def _generated(database: pw.Database, question: BankQuestion) -> dict[str, Any]:
    # The persistence actor stores generated questions inside its own transaction.
    with database.connection_context(), database.atomic():
        assert len(store_questions([question])) == 1
    return _stored_row(database, question)


def _imported(url: str, database: pw.Database, path: Path, question: BankQuestion) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "gateways.bank_cli", "import", str(path)], cwd=REPO_ROOT,
                          env={**os.environ, "TRIVIA_ENV": "test", "DATABASE_URL": url}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 1, done.stdout
    return _stored_row(database, question)


def test_the_row_holds_every_field_of_the_bank_question() -> None:
    row = question_row(NUMERIC_TRUE_FALSE)
    assert row["options"] == ["32", "12", "55", "130"]
    assert row["aliases"] == ["thirty-two"]
    assert (row["numeric_value"], row["numeric_tolerance"]) == (32.0, 2.0)
    assert (row["tf_true"], row["tf_false"]) == (NUMERIC_TRUE_FALSE.tf_true, NUMERIC_TRUE_FALSE.tf_false)
    assert (row["source"], row["content_hash"]) == ("deepseek", NUMERIC_TRUE_FALSE.content_hash)
    mapped = {field.name for field in attrs.fields(BankQuestion)} - {"distractors"}
    assert mapped <= set(row), f"fields the row leaves out: {mapped - set(row)}"


def test_a_generated_numeric_true_false_question_keeps_those_fields(database: tuple[str, pw.Database]) -> None:
    _url, db = database
    row = _generated(db, NUMERIC_TRUE_FALSE)
    assert (row["numeric_value"], row["numeric_tolerance"]) == (32.0, 2.0)
    assert (row["tf_true"], row["tf_false"]) == (NUMERIC_TRUE_FALSE.tf_true, NUMERIC_TRUE_FALSE.tf_false)
    assert row["source"] == "deepseek"


def test_an_imported_bank_file_the_seed_and_generation_store_the_same_row(
    database: tuple[str, pw.Database], tmp_path: Path,
) -> None:
    url, db = database
    path = tmp_path / "volcanoes.json"
    path.write_text(write_bank_json([NUMERIC_TRUE_FALSE]), encoding="utf-8")
    (question,) = read_bank_json(path.read_text(encoding="utf-8"), path.name).questions
    assert question == attrs.evolve(NUMERIC_TRUE_FALSE, source=QuestionSource.IMPORT)
    imported = _imported(url, db, path, question)
    assert imported == _seeded(db, question) == _generated(db, question) == question_row(question)


def test_an_opentdb_import_the_seed_and_generation_store_the_same_row(
    database: tuple[str, pw.Database], tmp_path: Path,
) -> None:
    url, db = database
    path = tmp_path / "opentdb.json"
    path.write_text(json.dumps(OPENTDB_REPLY), encoding="utf-8")
    (question,) = read_opentdb(path.read_text(encoding="utf-8"), path.name).questions
    assert (question.text, question.source) == ('What is the chemical symbol of "gold"?', "opentdb")
    imported = _imported(url, db, path, question)
    assert imported == _seeded(db, question) == _generated(db, question) == question_row(question)
