"""The built-in question bank (schema/bank/*.json) meets its targets.

Targets: at least 1,000 questions in at least 12 categories, every category with easy, medium and hard
questions; every question valid (exactly 3 distractors distinct from the answer and its aliases, an
explanation), ids unique, no two questions with the same content hash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from schema.bank import BANK_DIR, DIFFICULTIES, MAX_EXPLANATION, BankError, BankQuestion, _fold, load_bank

MIN_QUESTIONS = 1000
MIN_CATEGORIES = 12
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank() -> list[BankQuestion]:
    try:
        return load_bank()
    except BankError as exc:
        pytest.fail(f"the question bank does not validate: {exc}")


def test_bank_is_large_enough(bank: list[BankQuestion]) -> None:
    per_category = Counter(q.category for q in bank)
    assert len(bank) >= MIN_QUESTIONS, f"{len(bank)} questions, the target is {MIN_QUESTIONS}: {dict(per_category)}"
    assert len(per_category) >= MIN_CATEGORIES, (
        f"{len(per_category)} categories ({', '.join(sorted(per_category))}), the target is {MIN_CATEGORIES}"
    )


def test_every_category_has_every_difficulty(bank: list[BankQuestion]) -> None:
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    for question in bank:
        levels[question.category][question.difficulty] += 1
    lacking = {
        category: [d for d in DIFFICULTIES if not counts[d]] for category, counts in levels.items()
        if not all(counts[d] for d in DIFFICULTIES)
    }
    assert not lacking, f"categories missing a difficulty: {lacking}"


def test_every_question_has_three_proper_distractors_and_an_explanation(bank: list[BankQuestion]) -> None:
    bad: list[str] = []
    for q in bank:
        accepted = {_fold(q.answer), *(_fold(a) for a in q.aliases)}
        folded = [_fold(d) for d in q.distractors]
        if len(q.distractors) != 3 or len(set(folded)) != 3:
            bad.append(f"{q.external_id}: distractors {q.distractors!r} are not 3 distinct options")
        elif accepted & set(folded):
            bad.append(f"{q.external_id}: a distractor equals the answer or an alias")
        if not q.explanation.strip() or len(q.explanation) > MAX_EXPLANATION:
            bad.append(f"{q.external_id}: explanation missing or longer than {MAX_EXPLANATION} characters")
        if q.difficulty not in DIFFICULTIES:
            bad.append(f"{q.external_id}: difficulty {q.difficulty!r}")
    assert not bad, "\n".join(bad[:50])


def test_ids_and_content_are_unique(bank: list[BankQuestion]) -> None:
    ids = Counter(q.external_id for q in bank)
    hashes = Counter(q.content_hash for q in bank)
    assert [i for i, n in ids.items() if n > 1] == []
    repeated = {h for h, n in hashes.items() if n > 1}
    assert [q.external_id for q in bank if q.content_hash in repeated] == []


def test_each_file_is_named_after_its_slug() -> None:
    mismatched = {
        path.name: json.loads(path.read_text(encoding="utf-8")).get("slug") for path in sorted(BANK_DIR.glob("*.json"))
    }
    assert {name: slug for name, slug in mismatched.items() if name != f"{slug}.json"} == {}


def test_the_cli_validator_accepts_the_bank() -> None:
    files = sorted(str(path) for path in BANK_DIR.glob("*.json"))
    done = subprocess.run([sys.executable, "-m", "gateways.bank_cli", "validate", *files], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
