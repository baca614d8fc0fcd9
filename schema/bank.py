"""The question bank: data files under ``schema/bank/``, their validation, and seeding the database."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import peewee as pw

from schema.models import Question
from schema.vocabulary import DIFFICULTIES, QuestionSource

BANK_DIR = Path(__file__).with_name("bank")

# Telegram's limits bound what a question may hold: a quiz poll question is at most 300 characters, a poll
# option 100, a poll explanation 200.
MAX_TEXT = 250
MAX_OPTION = 100
MAX_EXPLANATION = 200


class BankError(ValueError):
    """A question file or item is invalid; the message says which one and why."""


@attrs.frozen(kw_only=True)
class BankQuestion:
    """One validated question as stored in the bank files."""

    external_id: str
    category: str
    text: str
    answer: str
    aliases: tuple[str, ...]
    distractors: tuple[str, ...]
    difficulty: str
    explanation: str
    numeric_value: float | None = None
    numeric_tolerance: float | None = None
    tf_true: str | None = None
    tf_false: str | None = None
    source: str = QuestionSource.BANK

    @property
    def content_hash(self) -> str:
        """The de-duplication key: the normalised question text and answer."""
        return content_hash(self.text, self.answer)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", no_marks).split())


def content_hash(text: str, answer: str) -> str:
    """SHA-256 of the folded question text and answer: equal for trivially different copies."""
    return hashlib.sha256(f"{_fold(text)}\x1f{_fold(answer)}".encode()).hexdigest()


def _require_str(item: dict[str, Any], key: str, where: str, limit: int, *, optional: bool = False) -> str:
    value = item.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise BankError(f"{where}: '{key}' must be a non-empty string")
    if len(value) > limit:
        raise BankError(f"{where}: '{key}' is {len(value)} characters, the limit is {limit}")
    return value.strip()


def parse_question(item: Any, *, category: str, where: str, source: str = QuestionSource.BANK) -> BankQuestion:
    """Validate one raw question object and return it, or raise :class:`BankError` saying why."""
    if not isinstance(item, dict):
        raise BankError(f"{where}: a question must be a JSON object")
    external_id = _require_str(item, "id", where, 64)
    where = f"{where} ({external_id})"
    text = _require_str(item, "text", where, MAX_TEXT)
    answer = _require_str(item, "answer", where, MAX_OPTION)
    explanation = _require_str(item, "explanation", where, MAX_EXPLANATION)
    difficulty = item.get("difficulty")
    if difficulty not in DIFFICULTIES:
        raise BankError(f"{where}: 'difficulty' must be one of {', '.join(DIFFICULTIES)}")
    aliases = item.get("aliases", [])
    distractors = item.get("distractors")
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise BankError(f"{where}: 'aliases' must be a list of non-empty strings")
    if not isinstance(distractors, list) or len(distractors) != 3:
        raise BankError(f"{where}: 'distractors' must be a list of exactly 3 strings")
    if not all(isinstance(d, str) and d.strip() and len(d) <= MAX_OPTION for d in distractors):
        raise BankError(f"{where}: each distractor must be a non-empty string of at most {MAX_OPTION}")
    accepted = {_fold(answer), *(_fold(a) for a in aliases)}
    folded = [_fold(d) for d in distractors]
    if len(set(folded)) != 3:
        raise BankError(f"{where}: the distractors must be distinct")
    if accepted & set(folded):
        raise BankError(f"{where}: a distractor equals the answer or one of its aliases")
    numeric = item.get("numeric")
    numeric_value: float | None = None
    numeric_tolerance: float | None = None
    if numeric is not None:
        if not isinstance(numeric, dict) or not isinstance(numeric.get("value"), int | float):
            raise BankError(f"{where}: 'numeric' must be an object with a numeric 'value'")
        numeric_value = float(numeric["value"])
        numeric_tolerance = float(numeric.get("tolerance", 0))
    tf = item.get("tf")
    tf_true = tf_false = None
    if tf is not None:
        if not isinstance(tf, dict):
            raise BankError(f"{where}: 'tf' must be an object with 'true' and 'false' statements")
        tf_true = _require_str(tf, "true", f"{where} tf", MAX_TEXT)
        tf_false = _require_str(tf, "false", f"{where} tf", MAX_TEXT)
    return BankQuestion(
        external_id=external_id,
        category=category,
        text=text,
        answer=answer,
        aliases=tuple(a.strip() for a in aliases),
        distractors=tuple(d.strip() for d in distractors),
        difficulty=difficulty,
        explanation=explanation,
        numeric_value=numeric_value,
        numeric_tolerance=numeric_tolerance,
        tf_true=tf_true,
        tf_false=tf_false,
        source=source,
    )


def load_file(path: Path) -> list[BankQuestion]:
    """Read and validate one bank file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BankError(f"{path.name}: not a readable JSON file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("questions"), list):
        raise BankError(f"{path.name}: expected an object with 'category', 'slug' and 'questions'")
    category = document.get("slug")
    if not isinstance(category, str) or not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", category):
        raise BankError(f"{path.name}: 'slug' must be a lowercase identifier")
    return [
        parse_question(item, category=category, where=f"{path.name}#{index}")
        for index, item in enumerate(document["questions"])
    ]


def category_titles(bank_dir: Path = BANK_DIR) -> dict[str, str]:
    """Slug -> display title of every category in the bank files."""
    titles: dict[str, str] = {}
    for path in sorted(bank_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        titles[str(document["slug"])] = str(document.get("category") or document["slug"])
    return titles


def load_bank(bank_dir: Path = BANK_DIR) -> list[BankQuestion]:
    """Every question of every bank file, validated, with duplicates (by id or content) refused."""
    questions: list[BankQuestion] = []
    seen_ids: dict[str, str] = {}
    seen_hashes: dict[str, str] = {}
    for path in sorted(bank_dir.glob("*.json")):
        for question in load_file(path):
            if question.external_id in seen_ids:
                raise BankError(f"{path.name}: duplicate id {question.external_id}")
            if question.content_hash in seen_hashes:
                raise BankError(
                    f"{path.name}: {question.external_id} duplicates {seen_hashes[question.content_hash]}"
                )
            seen_ids[question.external_id] = path.name
            seen_hashes[question.content_hash] = question.external_id
            questions.append(question)
    return questions


def question_row(question: BankQuestion) -> dict[str, Any]:
    """The ``questions`` row of a bank question; the one mapping every path that stores questions goes through
    (the bank seed, ``trivia-bank import`` of JSON, CSV and OpenTDB files, DeepSeek's generated questions)."""
    return {
        "external_id": question.external_id,
        "content_hash": question.content_hash,
        "text": question.text,
        "qtype": "mc",
        "answer": question.answer,
        "options": [question.answer, *question.distractors],
        "aliases": list(question.aliases),
        "explanation": question.explanation,
        "category": question.category,
        "difficulty": question.difficulty,
        "numeric_value": question.numeric_value,
        "numeric_tolerance": question.numeric_tolerance,
        "tf_true": question.tf_true,
        "tf_false": question.tf_false,
        "source": question.source,
    }


def seed_questions(database: pw.Database, questions: Iterable[BankQuestion], chunk: int = 200) -> int:
    """Insert, in one transaction, the questions not stored yet (by content hash or id); return how many were new.

    Rows whose hash or id another writer took meanwhile are ignored, not errors.
    """
    inserted = 0
    rows = [question_row(q) for q in questions]
    with database.atomic():
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            inserted += Question.insert_many(part).on_conflict_ignore().as_rowcount().execute()
    return inserted
