"""``trivia-bank``: validate, import and export question files (JSON bank format, CSV, OpenTDB JSON).

``validate FILE...`` prints one line per problem on stdout and exits 1 when there is any (no database needed).
``import FILE [--format json|csv|opentdb] [--dry-run]`` adds the valid questions not stored yet to the database
of DATABASE_URL and prints one JSON summary line on stdout::

    {"read": 6, "imported": 3, "duplicates": 1, "invalid": 1, "skipped": {"boolean_item": 1}}

``read`` = ``imported + duplicates + invalid + sum(skipped)``. A duplicate is a question whose content hash
(folded text + answer) is already stored or appeared earlier in the file. Each invalid item is reported on
stderr with its file and line. Valid items are imported even when others are invalid; the exit status is then 1.
``export [--format json|csv] [--category SLUG] [--out FILE]`` writes the stored questions (stdout by default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import peewee as pw

from gateways.process import start_process
from schema.bank import BankError, BankQuestion, category_titles, seed_questions
from schema.bank_io import (
    FORMATS,
    SKIP_ID_IN_USE,
    Entry,
    ReadResult,
    deduplicate,
    export_rows,
    from_row,
    read_file,
    stored_hashes_and_ids,
    write_questions,
)
from schema.db import bind_database, describe_target
from schema.models import Question
from trivia_actors.runtime import Settings

logger = logging.getLogger(__name__)
PROG = "trivia-bank"


def _problem(line: str) -> None:
    print(line, file=sys.stderr)


def validate(paths: list[Path], file_format: str | None) -> int:
    """Check files (each alone and all together for repeated ids or content); 1 when any problem."""
    problems: list[str] = []
    entries: list[Entry] = []
    read = 0
    skipped: Counter[str] = Counter()
    for path in paths:
        result = read_file(path, file_format)
        problems.extend(result.problems)
        entries.extend(result.entries)
        read += result.read
        skipped.update(result.skipped)
    split = deduplicate(entries)
    problems.extend(f"{copy.where}: same question as {first.where}" for copy, first in split.duplicates)
    problems.extend(f"{entry.where}: id already used by {first.where}" for entry, first in split.id_clashes)
    for line in problems:
        print(line)
    skips = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))
    print(
        f"{PROG}: {len(paths)} file(s), {read} item(s), {len(split.kept)} valid and distinct, "
        f"{len(problems)} problem(s){f', skipped: {skips}' if skips else ''}",
        file=sys.stderr,
    )
    return 1 if problems else 0


@contextlib.contextmanager
def _questions_database(settings: Settings) -> Iterator[pw.Database | None]:
    """A connection to the database of DATABASE_URL, or None (said on stderr) when it has no questions table."""
    database = bind_database(settings.database_url, max_connections=2)
    try:
        with database.connection_context():
            if database.table_exists(Question._meta.table_name):
                yield database
            else:
                _problem(f"{PROG}: {describe_target(settings.database_url)} has no questions table: "
                         "run trivia-db-init first")
                yield None
    finally:
        close_all = getattr(database, "close_all", None)
        if close_all is not None:
            close_all()


def _import(path: Path, file_format: str | None, *, dry_run: bool) -> int:
    settings = start_process("bank")
    result: ReadResult = read_file(path, file_format)
    for line in result.problems:
        _problem(line)
    split = deduplicate(result.entries)
    for entry, first in split.id_clashes:
        _problem(f"{entry.where}: id already used in this file by {first.where}")
    invalid = result.invalid + len(split.id_clashes)
    duplicates = len(split.duplicates)
    skipped: Counter[str] = Counter(result.skipped)
    if not result.entries:
        # Nothing valid to look up (an unreadable file, or only refused or skipped items): leave the database be.
        print(json.dumps({"read": result.read, "imported": 0, "duplicates": 0, "invalid": invalid,
                          "skipped": dict(sorted(skipped.items()))}))
        return 1 if result.problems else 0
    candidates: list[BankQuestion] = [entry.question for entry in split.kept]
    with _questions_database(settings) as database:
        if database is None:
            return 1
        stored_hashes, stored_ids = stored_hashes_and_ids(candidates)
        fresh: list[BankQuestion] = []
        for question in candidates:
            if question.content_hash in stored_hashes:
                duplicates += 1
            elif question.external_id in stored_ids:
                skipped[SKIP_ID_IN_USE] += 1
                logger.warning("%s: id %s is used by a different stored question; not imported",
                               path.name, question.external_id)
            else:
                fresh.append(question)
        if dry_run:
            imported = len(fresh)
        else:
            imported = seed_questions(database, fresh)
            # Rows another importer stored between our check and our insert were ignored by the insert.
            duplicates += len(fresh) - imported
    summary = {"read": result.read, "imported": imported, "duplicates": duplicates, "invalid": invalid,
               "skipped": dict(sorted(skipped.items()))}
    print(json.dumps(summary))
    logger.info("%s %s into %s: %s", "checked (dry run)" if dry_run else "imported", path.name,
                describe_target(settings.database_url), summary)
    return 1 if result.problems or split.id_clashes else 0


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     delete=False, newline="") as handle:
        handle.write(text)
        temporary = Path(handle.name)
    os.replace(temporary, path)


def _export(file_format: str, category: str | None, out: Path | None) -> int:
    settings = start_process("bank")
    questions: list[BankQuestion] = []
    failed = 0
    with _questions_database(settings) as database:
        if database is None:
            return 1
        for row in export_rows(category):
            try:
                questions.append(from_row(row))
            except BankError as exc:
                failed += 1
                _problem(f"{PROG}: not exported: {exc}")
    if category and not questions and not failed:
        _problem(f"{PROG}: no stored questions in category {category!r}")
        return 1
    try:
        text = write_questions(questions, file_format, category_titles())
    except BankError as exc:
        _problem(f"{PROG}: {exc}")
        return 1
    if out is None:
        sys.stdout.write(text)
    else:
        _write_atomically(out, text)
    _problem(f"{PROG}: exported {len(questions)} question(s){f' to {out}' if out else ''}"
             f"{f', {failed} stored row(s) invalid and left out' if failed else ''}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``trivia-bank``."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check question files; one line per problem")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--format", choices=FORMATS, default=None, help="default: by extension and content")
    load = commands.add_parser("import", help="import a question file into the database (DATABASE_URL)")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--format", choices=FORMATS, default=None, help="default: by extension and content")
    load.add_argument("--dry-run", action="store_true", help="check against the database, write nothing")
    dump = commands.add_parser("export", help="write the stored questions as JSON or CSV")
    dump.add_argument("--format", choices=("json", "csv"), default="json")
    dump.add_argument("--category", default=None, metavar="SLUG", help="only this category")
    dump.add_argument("--out", type=Path, default=None, metavar="FILE", help="default: standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``trivia-bank`` command; the exit status says whether everything was valid."""
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return validate(list(args.files), args.format)
    if args.command == "import":
        return _import(args.file, args.format, dry_run=args.dry_run)
    return _export(args.format, args.category, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
