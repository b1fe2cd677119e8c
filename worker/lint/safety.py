"""The safety checks of `caredrip lint`: each program's red flags
against its own examples, and its reply texts (safety, HELP, STOP, START, PAUSE) against the
language's SMS segment budget and, in English, the reading level.

Plain functions of a content folder; each problem is one line naming the file and language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from worker.errors import ContentError
from worker.redflags import RedFlags, load_red_flags
from worker.redflags.data import FILE_NAME
from worker.reply_texts import KEY, ReplyKind, ReplyTexts, load_reply_texts
from worker.segments import count_segments

MAX_ENGLISH_GRADE = 8.0


def lint_red_flags(content_dir: Path) -> list[str]:
    """Every program has valid red flags for each of its languages; every `must_flag` example
    flags, every sign is shown by one, and no `must_not_flag` example flags."""
    problems: list[str] = []
    for program_id, program in _programs(content_dir):
        try:
            flags = load_red_flags(content_dir, program_id)
        except ContentError as exc:
            problems.append(str(exc))
            continue
        for language in program.get("languages") or []:
            if language not in flags.languages:
                problems.append(f"{flags.path}: {language}: no red flags for this program language")
        problems.extend(example_problems(flags))
    return problems


def example_problems(flags: RedFlags) -> list[str]:
    """The examples of one red-flags file that do not do what they say, and the signs that no
    `must_flag` example of their language shows."""
    problems: list[str] = []
    for language, data in flags.languages.items():
        shown: set[str] = set()
        for example in data.must_flag:
            match = flags.check(example, language)
            if match is None:
                problems.append(f"{flags.path}: {language}.must_flag: {example!r} does not flag")
            else:
                shown.update(hit.sign for hit in match.hits if hit.language == language)
        for sign in data.signs:
            if sign not in shown:
                problems.append(f"{flags.path}: {language}.signs.{sign}: no must_flag example shows this sign")
        for example in data.must_not_flag:
            match = flags.check(example, language)
            if match is not None:
                why = ", ".join(f"{hit.sign} {hit.term!r} ({hit.language})" for hit in match.hits)
                problems.append(f"{flags.path}: {language}.must_not_flag: {example!r} flags: {why}")
    return problems


def lint_reply_texts(
    content_dir: Path,
    *,
    clinic_names: Mapping[str, str],
    clinic_phone: str,
    grade: Callable[[str, str], float] | None = None,
) -> list[str]:
    """Every reply, in every language, renders within the program's SMS segment budget with a
    long clinic name (`clinic_names[language]`, else the English one) and phone, with and
    without them; English reads at grade `MAX_ENGLISH_GRADE` or below when `grade(text,
    language)` is given (lint passes its cached reading-level function)."""
    problems: list[str] = []
    for program_id, program in _programs(content_dir):
        try:
            texts = load_reply_texts(content_dir, program_id)
        except ContentError as exc:
            problems.append(str(exc))
            continue
        budget = program.get("sms_segment_budget") or {}
        for language in texts.languages:
            where = f"{content_dir / program_id / 'strings' / f'{language}.yaml'}: {language}: {KEY}"
            name = clinic_names.get(language, clinic_names.get("en", ""))
            for kind, body in _renderings(texts, language, name, clinic_phone):
                cost = count_segments(body)
                if cost.segments > int(budget.get(language, 1)):
                    problems.append(
                        f"{where}.{kind}: {cost.segments} segments ({cost.encoding}, {cost.units} units),"
                        f" budget {budget.get(language, 1)}: {body!r}"
                    )
                if grade is not None and language.split("-")[0] == "en" and grade(body, language) > MAX_ENGLISH_GRADE:
                    problems.append(f"{where}.{kind}: reading level above grade {MAX_ENGLISH_GRADE:g}: {body!r}")
    return problems


def _renderings(texts: ReplyTexts, language: str, name: str, phone: str) -> list[tuple[str, str]]:
    """Each reply with the name and phone, with the name only, and with neither (each distinct
    text once); PAUSE with the language's longest date."""
    replies = texts.languages[language]
    start = date(2026, 1, 1)
    longest = max((start + timedelta(days=n) for n in range(366)), key=lambda day: len(replies.until(day)))
    renderings = (
        (kind.value, texts.text(kind, language, clinic_name=clinic, clinic_phone=tel, until=longest))
        for kind in ReplyKind
        for clinic, tel in ((name, phone), (name, ""), ("", ""))
    )
    return list(dict.fromkeys(renderings))


def _programs(content_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(id, program.yaml as read) for each program folder; an unreadable program.yaml reads as {}
    (the program checks report it)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for folder in sorted(content_dir.iterdir()) if content_dir.is_dir() else []:
        path = folder / "program.yaml"
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError):
                data = {}
            found.append((folder.name, data if isinstance(data, dict) else {}))
    return found


__all__ = ["FILE_NAME", "MAX_ENGLISH_GRADE", "example_problems", "lint_red_flags", "lint_reply_texts"]
