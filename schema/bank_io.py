"""Question files in and out: our JSON bank format, CSV, and Open Trivia DB (OpenTDB) JSON.

Every reader turns a file's text into :class:`schema.bank.BankQuestion` items validated by
:func:`schema.bank.parse_question`, and reports each item it refused as one line naming the file and the line
where the item starts. Readers never stop at the first bad item: a file with 3 bad rows gives 3 problems.
Nothing here touches the database except :func:`stored_hashes_and_ids` and :func:`export_rows`, which run
inside the caller's connection; questions are stored with :func:`schema.bank.seed_questions`.
"""

from __future__ import annotations

import bisect
import csv
import html
import io
import json
import json.decoder
import json.scanner
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from schema.bank import BankError, BankQuestion, content_hash, parse_question
from schema.models import Question
from schema.vocabulary import QuestionSource

FORMATS = ("json", "csv", "opentdb")
# The slug rule of bank files (schema.bank.load_file); a CSV row or an OpenTDB category must meet it too.
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,40}")
CSV_COLUMNS = (
    "id", "category", "difficulty", "text", "answer", "aliases", "distractor_1", "distractor_2", "distractor_3",
    "explanation", "numeric_value", "numeric_tolerance", "tf_true", "tf_false",
)
CSV_REQUIRED = ("category", "difficulty", "text", "answer", "distractor_1", "distractor_2", "distractor_3",
                "explanation")
ALIAS_SEPARATOR = "|"

# OpenTDB's 24 category names -> our slugs. A name not listed gets a slug made from it (slug_from_name).
OPENTDB_CATEGORIES: dict[str, str] = {
    "General Knowledge": "general_knowledge",
    "Entertainment: Books": "literature",
    "Entertainment: Film": "film_tv",
    "Entertainment: Music": "music",
    "Entertainment: Musicals & Theatres": "musicals_theatre",
    "Entertainment: Television": "film_tv",
    "Entertainment: Video Games": "video_games",
    "Entertainment: Board Games": "board_games",
    "Entertainment: Comics": "comics",
    "Entertainment: Japanese Anime & Manga": "anime_manga",
    "Entertainment: Cartoon & Animations": "film_tv",
    "Science & Nature": "science",
    "Science: Computers": "technology",
    "Science: Mathematics": "science",
    "Science: Gadgets": "technology",
    "Mythology": "mythology",
    "Sports": "sports",
    "Geography": "geography",
    "History": "history",
    "Politics": "politics",
    "Art": "art",
    "Celebrities": "celebrities",
    "Animals": "nature",
    "Vehicles": "vehicles",
}
OPENTDB_RESPONSE_CODES = {
    1: "no results",
    2: "invalid parameter",
    3: "session token not found",
    4: "session token exhausted",
    5: "rate limited",
}

# Reasons an item was read but deliberately not taken (keys of the import summary's "skipped").
SKIP_BOOLEAN = "boolean_item"  # an OpenTDB true/false item: one statement cannot give 3 distractors
SKIP_ID_IN_USE = "id_in_use"  # the database holds a different question under the same id


@attrs.frozen(kw_only=True)
class Entry:
    """A valid question and where it came from."""

    question: BankQuestion
    where: str


@attrs.frozen(kw_only=True)
class ReadResult:
    """What a reader found: valid entries, one message per refused item, counted skips."""

    name: str
    read: int
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]  # one line each; a file-level problem refuses the file without counting items
    invalid: int = 0
    skipped: dict[str, int] = attrs.field(factory=dict)

    @property
    def questions(self) -> list[BankQuestion]:
        """The valid questions, in file order."""
        return [entry.question for entry in self.entries]


class _Collector:
    """Accumulates a reader's results."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.read = 0
        self.invalid = 0
        self.entries: list[Entry] = []
        self.problems: list[str] = []
        self.skipped: Counter[str] = Counter()

    def parse(self, item: Any, *, category: str, where: str, source: str) -> None:
        self.read += 1
        try:
            question = parse_question(item, category=category, where=where, source=source)
        except BankError as exc:
            self.invalid += 1
            self.problems.append(str(exc))
            return
        self.entries.append(Entry(question=question, where=f"{where} ({question.external_id})"))

    def refuse(self, where: str, why: str, *, items: int = 1) -> None:
        self.read += items
        self.invalid += items
        self.problems.append(f"{where}: {why}")

    def result(self) -> ReadResult:
        return ReadResult(name=self.name, read=self.read, entries=tuple(self.entries),
                          problems=tuple(self.problems), invalid=self.invalid, skipped=dict(self.skipped))


def derived_id(prefix: str, text: str, answer: str) -> str:
    """A stable id for a question whose source has none: the prefix and the start of its content hash."""
    return f"{prefix}-{content_hash(text, answer)[:32]}"


def slug_from_name(name: str) -> str:
    """A category slug made from a display name: ``"Entertainment: Radio"`` -> ``entertainment_radio``."""
    words = re.sub(r"[^a-z0-9]+", " ", name.casefold().replace("&", " ")).split()
    slug = "_".join(words)[:41].rstrip("_")
    if SLUG_PATTERN.fullmatch(slug):
        return slug
    # Names in other scripts (or digits only) fold to nothing usable: keep them apart by a hash of the name.
    return f"category_{content_hash(name, '')[:8]}"


def title_from_slug(slug: str) -> str:
    """A display title for a slug that has none: ``video_games`` -> ``Video Games``."""
    return slug.replace("_", " ").title()


# --- JSON with line numbers ---------------------------------------------------------------------------


class _Located(dict[str, Any]):
    """A JSON object that remembers the line its ``{`` is on."""

    line: int = 0


def _loads_located(text: str) -> Any:
    """``json.loads`` whose objects are :class:`_Located` dicts, so a refused item can name its line.

    The standard library's pure-Python scanner calls ``context.parse_object`` for every object; wrapping it is
    the only hook that sees positions (the C scanner offers none).
    """
    newlines = [match.start() for match in re.finditer("\n", text)]
    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[_Located, int]:
        value, end = json.decoder.JSONObject(s_and_end, *args)  # type: ignore[attr-defined]
        located = _Located(value)
        located.line = bisect.bisect_right(newlines, s_and_end[1] - 1) + 1
        return located, end

    context: Any = decoder
    context.parse_object = parse_object
    context.scan_once = json.scanner.py_make_scanner(context)  # type: ignore[attr-defined]
    return decoder.decode(text)


def _line_of(item: Any) -> int | None:
    return item.line if isinstance(item, _Located) else None


def _at(name: str, item: Any, fallback: str) -> str:
    line = _line_of(item)
    return f"{name} line {line}" if line is not None else f"{name} {fallback}"


def _load_json(text: str, name: str) -> tuple[Any, str | None]:
    try:
        return _loads_located(text), None
    except json.JSONDecodeError as exc:
        return None, f"{name} line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})"
    except RecursionError:
        return None, f"{name}: not valid JSON (nested too deeply)"


# --- readers ------------------------------------------------------------------------------------------


def read_bank_json(text: str, name: str, *, source: str = QuestionSource.IMPORT) -> ReadResult:
    """Our bank format: one ``{"category", "slug", "questions": [...]}`` document, or a list of them."""
    collected = _Collector(name)
    document, error = _load_json(text, name)
    if error:
        collected.problems.append(error)
        return collected.result()
    documents = document if isinstance(document, list) else [document]
    for index, doc in enumerate(documents):
        where = _at(name, doc, f"document {index}")
        if not isinstance(doc, dict) or not isinstance(doc.get("questions"), list):
            collected.refuse(where, "expected an object with 'category', 'slug' and 'questions'")
            continue
        slug = doc.get("slug")
        if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
            count = len(doc["questions"])
            collected.refuse(where, f"'slug' must be a lowercase identifier (its {count} questions are refused)",
                             items=count)
            continue
        for position, item in enumerate(doc["questions"]):
            collected.parse(item, category=slug, where=_at(name, item, f"{slug}#{position}"), source=source)
    return collected.result()


def _csv_item(row: dict[str, str], where: str) -> tuple[dict[str, Any], str]:
    """The bank-format item and category of one CSV row; :class:`BankError` for what parse_question can't see."""
    category = row.get("category", "").strip()
    if not SLUG_PATTERN.fullmatch(category):
        raise BankError(f"{where}: 'category' must be a lowercase slug such as film_tv (got {category!r})")
    text, answer = row.get("text", "").strip(), row.get("answer", "").strip()
    item: dict[str, Any] = {
        "id": row.get("id", "").strip() or derived_id("imp", text, answer),
        "text": text,
        "answer": answer,
        "aliases": [a.strip() for a in row.get("aliases", "").split(ALIAS_SEPARATOR) if a.strip()],
        "distractors": [row.get(f"distractor_{n}", "") for n in (1, 2, 3)],
        "difficulty": row.get("difficulty", "").strip(),
        "explanation": row.get("explanation", ""),
    }
    raw_value, raw_tolerance = row.get("numeric_value", "").strip(), row.get("numeric_tolerance", "").strip()
    if raw_value:
        try:
            item["numeric"] = {"value": float(raw_value), "tolerance": float(raw_tolerance or 0)}
        except ValueError:
            raise BankError(f"{where}: 'numeric_value' and 'numeric_tolerance' must be numbers") from None
    elif raw_tolerance:
        raise BankError(f"{where}: 'numeric_tolerance' without 'numeric_value'")
    tf_true, tf_false = row.get("tf_true", "").strip(), row.get("tf_false", "").strip()
    if tf_true or tf_false:
        item["tf"] = {"true": tf_true, "false": tf_false}
    return item, category


def read_csv(text: str, name: str, *, source: str = QuestionSource.IMPORT) -> ReadResult:
    """A CSV file with the header :data:`CSV_COLUMNS` (``id`` and the optional columns may be left out)."""
    collected = _Collector(name)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        collected.problems.append(f"{name} line 1: not a readable CSV header ({exc})")
        return collected.result()
    if header is None:
        collected.problems.append(f"{name}: empty file, expected a header line")
        return collected.result()
    columns = [column.strip() for column in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        reasons = []
        if missing:
            reasons.append(f"missing columns {', '.join(missing)}")
        if unknown:
            reasons.append(f"unknown columns {', '.join(unknown)}")
        if len(set(columns)) != len(columns):
            reasons.append("a column appears twice")
        collected.problems.append(f"{name} line 1: bad header: {'; '.join(reasons)} "
                                  f"(the columns are {', '.join(CSV_COLUMNS)})")
        return collected.result()
    previous_end = reader.line_num
    while True:
        start = previous_end + 1  # a quoted cell may span lines: report the line the record starts on
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            collected.refuse(f"{name} line {start}", f"not readable CSV ({exc})")
            break
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{name} line {start}"
        if len(cells) != len(columns):
            collected.refuse(where, f"{len(cells)} cells where the header has {len(columns)}")
            continue
        row = dict(zip(columns, cells, strict=True))
        try:
            item, category = _csv_item(row, where)
        except BankError as exc:
            collected.read += 1
            collected.invalid += 1
            collected.problems.append(str(exc))
            continue
        collected.parse(item, category=category, where=where, source=source)
    return collected.result()


def opentdb_category(name: str) -> str:
    """Our slug for an OpenTDB category name."""
    return OPENTDB_CATEGORIES.get(name.strip()) or slug_from_name(name)


def opentdb_explanation(answer: str) -> str:
    """OpenTDB items carry no explanation; ours must have one, so say the answer and credit the source."""
    return f"The answer is {answer}. Source: Open Trivia Database (CC BY-SA 4.0)."


def read_opentdb(text: str, name: str, *, source: str = QuestionSource.OPENTDB) -> ReadResult:
    """OpenTDB's API reply (default encoding: HTML entities), ``{"response_code": 0, "results": [...]}``."""
    collected = _Collector(name)
    document, error = _load_json(text, name)
    if error:
        collected.problems.append(error)
        return collected.result()
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        collected.problems.append(f"{name}: expected OpenTDB's {{\"response_code\": 0, \"results\": [...]}}")
        return collected.result()
    code = document.get("response_code", 0)
    if code != 0:
        meaning = OPENTDB_RESPONSE_CODES.get(code, "unknown code") if isinstance(code, int) else "not a number"
        collected.problems.append(f"{name}: response_code {code!r} ({meaning}): not a successful reply")
        return collected.result()
    for index, raw in enumerate(document["results"]):
        where = _at(name, raw, f"result #{index}")
        if not isinstance(raw, dict):
            collected.refuse(where, "a result must be a JSON object")
            continue
        kind = raw.get("type")
        if kind == "boolean":
            # Our true/false form is a pair of statements attached to a multiple-choice question; a lone
            # OpenTDB statement has neither the pair nor the 3 distractors every bank question needs.
            collected.read += 1
            collected.skipped[SKIP_BOOLEAN] += 1
            continue
        if kind != "multiple":
            collected.refuse(where, f"'type' must be 'multiple' or 'boolean' (got {kind!r})")
            continue
        fields = {key: raw.get(key) for key in ("category", "question", "correct_answer", "difficulty")}
        wrong = raw.get("incorrect_answers")
        strings = {key: value for key, value in fields.items() if isinstance(value, str)}
        if len(strings) != len(fields):
            collected.refuse(where, "'category', 'question', 'correct_answer' and 'difficulty' must be strings")
            continue
        if not isinstance(wrong, list) or not all(isinstance(w, str) for w in wrong):
            collected.refuse(where, "'incorrect_answers' must be a list of strings")
            continue
        question_text = html.unescape(strings["question"]).strip()
        answer = html.unescape(strings["correct_answer"]).strip()
        item = {
            "id": derived_id("otdb", question_text, answer),
            "text": question_text,
            "answer": answer,
            "aliases": [],
            "distractors": [html.unescape(w).strip() for w in wrong],
            "difficulty": strings["difficulty"],
            "explanation": opentdb_explanation(answer) if answer else "",
        }
        category = opentdb_category(html.unescape(strings["category"]))
        collected.parse(item, category=category, where=where, source=source)
    return collected.result()


def detect_format(path: Path, text: str) -> str:
    """``csv`` by extension; otherwise ``opentdb`` for an object with ``results``, else ``json``."""
    if path.suffix.lower() == ".csv":
        return "csv"
    if re.search(r'"results"\s*:', text[:4096]) and not re.search(r'"questions"\s*:', text[:4096]):
        return "opentdb"
    return "json"


def read_file(path: Path, file_format: str | None = None) -> ReadResult:
    """Read one file in ``file_format`` (detected when None); unreadable files come back as a problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ReadResult(name=name, read=0, entries=(), problems=(f"{path}: cannot read ({exc})",))
    chosen = file_format or detect_format(path, text)
    readers: dict[str, Callable[[str, str], ReadResult]] = {
        "json": read_bank_json, "csv": read_csv, "opentdb": read_opentdb,
    }
    if chosen not in readers:
        raise ValueError(f"unknown format {chosen!r}: use one of {', '.join(FORMATS)}")
    return readers[chosen](text, name)


@attrs.frozen(kw_only=True)
class Deduplicated:
    """Entries split into first occurrences, copies of an earlier one, and id clashes."""

    kept: tuple[Entry, ...]
    duplicates: tuple[tuple[Entry, Entry], ...]  # (copy, the entry it copies)
    id_clashes: tuple[tuple[Entry, Entry], ...]  # (entry, the different entry that has its id)


def deduplicate(entries: Iterable[Entry]) -> Deduplicated:
    """Drop repeats by content hash; an id reused by different content is a clash, not a copy."""
    by_hash: dict[str, Entry] = {}
    by_id: dict[str, Entry] = {}
    kept: list[Entry] = []
    duplicates: list[tuple[Entry, Entry]] = []
    clashes: list[tuple[Entry, Entry]] = []
    for entry in entries:
        question = entry.question
        if question.content_hash in by_hash:
            duplicates.append((entry, by_hash[question.content_hash]))
        elif question.external_id in by_id:
            clashes.append((entry, by_id[question.external_id]))
        else:
            by_hash[question.content_hash] = entry
            by_id[question.external_id] = entry
            kept.append(entry)
    return Deduplicated(kept=tuple(kept), duplicates=tuple(duplicates), id_clashes=tuple(clashes))


# --- writers ------------------------------------------------------------------------------------------


def question_item(question: BankQuestion) -> dict[str, Any]:
    """One question as an item of our bank format (what parse_question reads back)."""
    item: dict[str, Any] = {
        "id": question.external_id,
        "text": question.text,
        "answer": question.answer,
        "aliases": list(question.aliases),
        "distractors": list(question.distractors),
        "difficulty": question.difficulty,
        "explanation": question.explanation,
    }
    if question.numeric_value is not None:
        item["numeric"] = {"value": _plain_number(question.numeric_value),
                           "tolerance": _plain_number(question.numeric_tolerance or 0.0)}
    if question.tf_true is not None and question.tf_false is not None:
        item["tf"] = {"true": question.tf_true, "false": question.tf_false}
    return item


def _plain_number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def bank_documents(questions: Iterable[BankQuestion], titles: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Bank documents, one per category (sorted by slug), questions in the given order."""
    by_category: dict[str, list[BankQuestion]] = {}
    for question in questions:
        by_category.setdefault(question.category, []).append(question)
    names = titles or {}
    return [
        {"category": names.get(slug) or title_from_slug(slug), "slug": slug,
         "questions": [question_item(q) for q in by_category[slug]]}
        for slug in sorted(by_category)
    ]


def write_bank_json(questions: Iterable[BankQuestion], titles: dict[str, str] | None = None) -> str:
    """Our JSON format: one document when the questions share a category, else a list of documents."""
    documents = bank_documents(questions, titles)
    payload: Any = documents[0] if len(documents) == 1 else documents
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def write_csv(questions: Iterable[BankQuestion]) -> str:
    """CSV with the :data:`CSV_COLUMNS` header; :class:`BankError` for an alias holding the separator."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for q in questions:
        if any(ALIAS_SEPARATOR in alias for alias in q.aliases):
            raise BankError(f"{q.external_id}: an alias contains {ALIAS_SEPARATOR!r}, which CSV cannot hold")
        writer.writerow([
            q.external_id, q.category, q.difficulty, q.text, q.answer, ALIAS_SEPARATOR.join(q.aliases),
            *q.distractors, q.explanation,
            "" if q.numeric_value is None else repr(_plain_number(q.numeric_value)),
            "" if q.numeric_value is None else repr(_plain_number(q.numeric_tolerance or 0.0)),
            q.tf_true or "", q.tf_false or "",
        ])
    return out.getvalue()


def write_questions(questions: Sequence[BankQuestion], file_format: str,
                    titles: dict[str, str] | None = None) -> str:
    """The questions as ``json`` or ``csv`` text."""
    if file_format == "json":
        return write_bank_json(questions, titles)
    if file_format == "csv":
        return write_csv(questions)
    raise ValueError(f"cannot write {file_format!r}: use json or csv")


# --- database -----------------------------------------------------------------------------------------


def from_row(row: Question) -> BankQuestion:
    """A stored question back in bank form, validated like a file item (:class:`BankError` if it fails)."""
    answer = str(row.answer)
    options = row.options if isinstance(row.options, list) else []
    item: dict[str, Any] = {
        "id": row.external_id or f"db-{row.content_hash[:32]}",
        "text": row.text,
        "answer": answer,
        "aliases": row.aliases if isinstance(row.aliases, list) else [],
        "distractors": [option for option in options if option != answer],
        "difficulty": row.difficulty,
        "explanation": row.explanation,
    }
    if row.numeric_value is not None:
        item["numeric"] = {"value": row.numeric_value, "tolerance": row.numeric_tolerance or 0.0}
    if row.tf_true is not None and row.tf_false is not None:
        item["tf"] = {"true": row.tf_true, "false": row.tf_false}
    return parse_question(item, category=str(row.category), where=f"question {row.id}", source=str(row.source))


def stored_hashes_and_ids(questions: Sequence[BankQuestion], chunk: int = 500) -> tuple[set[str], set[str]]:
    """(content hashes, external ids) among ``questions`` that the database already holds."""
    hashes: set[str] = set()
    ids: set[str] = set()
    for start in range(0, len(questions), chunk):
        part = questions[start : start + chunk]
        query = Question.select(Question.content_hash, Question.external_id).where(
            Question.content_hash.in_([q.content_hash for q in part])
            | Question.external_id.in_([q.external_id for q in part])
        )
        for row in query:
            hashes.add(row.content_hash)
            if row.external_id is not None:
                ids.add(row.external_id)
    return hashes, ids


def export_rows(category: str | None = None) -> list[Question]:
    """Stored questions, optionally of one category, by category then id."""
    query = Question.select().order_by(Question.category, Question.id)
    if category:
        query = query.where(Question.category == category)
    return list(query)
